// SPDX-License-Identifier: Apache-2.0
// The registry of per-thread span rings (include/triptych/trace/spans.hpp).
// Registration and collection take a mutex (rare, allocating); pushing a span
// never does. A ring outlives its thread, so a collector may drain the ring of
// a thread that has already ended; it is freed once drained (or, unread, when
// more than kMaxRetiredRings have piled up). See docs/tracing.md ("Spans").
#include "triptych/trace/spans.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>

namespace triptych::trace {

std::atomic<bool> g_trace_enabled{true};

struct Registry {
  std::mutex mu;
  std::vector<std::unique_ptr<ThreadTrace>> threads;
};

namespace {

Registry& registry() {
  static Registry r;  // function-local: safe to use from other static initialisers
  return r;
}

std::uint32_t round_up_pow2(std::uint32_t v) {
  std::uint32_t p = 2;
  while (p < v && p < (1u << 30)) p <<= 1;
  return p;
}

}  // namespace

ThreadTrace::ThreadTrace(std::uint32_t capacity)
    : events_(std::make_unique<SpanEvent[]>(round_up_pow2(capacity))),
      mask_(round_up_pow2(capacity) - 1) {}

std::size_t ThreadTrace::drain(std::vector<SpanEvent>& out) {
  const std::uint64_t tail = tail_.load(std::memory_order_relaxed);  // we are its only writer
  // SYNC(span-push): acquire pairs with push()'s release of head_.
  const std::uint64_t head = head_.load(std::memory_order_acquire);
  for (std::uint64_t i = tail; i < head; ++i) out.push_back(events_[i & mask_]);
  // SYNC(span-pop): publishes that the slots are free again.
  tail_.store(head, std::memory_order_release);
  return static_cast<std::size_t>(head - tail);
}

namespace {

// Marks the thread's ring retired when the thread exits.
struct RetireOnExit {
  ~RetireOnExit() {
    if (detail::t_trace != nullptr) detail::t_trace->retire();
  }
};
thread_local RetireOnExit t_retire_on_exit;

// Frees the oldest retired rings beyond kMaxRetiredRings. Caller holds r.mu.
void prune_retired(Registry& r) {
  std::size_t retired = 0;
  for (const auto& t : r.threads) retired += t->retired() ? 1u : 0u;
  for (auto it = r.threads.begin(); retired > kMaxRetiredRings && it != r.threads.end();) {
    if ((*it)->retired()) {
      it = r.threads.erase(it);
      --retired;
    } else {
      ++it;
    }
  }
}

}  // namespace

ThreadTrace& register_thread(std::string_view name, std::uint32_t capacity) {
  if (detail::t_trace == nullptr) {
    auto owned = std::make_unique<ThreadTrace>(capacity);
    owned->tid_ = static_cast<std::int64_t>(syscall(SYS_gettid));
    (void)&t_retire_on_exit;  // constructs this thread's exit hook
    Registry& r = registry();
    const std::lock_guard lock(r.mu);
    prune_retired(r);
    detail::t_trace = owned.get();
    r.threads.push_back(std::move(owned));
  }
  if (!name.empty()) set_thread_name(name);
  return *detail::t_trace;
}

ThreadTrace& this_thread_trace() {
  if (detail::t_trace != nullptr) return *detail::t_trace;
  return register_thread();
}

void set_thread_name(std::string_view name) {
  ThreadTrace& t = this_thread_trace();
  Registry& r = registry();
  const std::lock_guard lock(r.mu);
  t.name_.assign(name);
}

void record_thread_counters(const ThreadCounters& c) {
  ThreadTrace& t = this_thread_trace();
  Registry& r = registry();
  const std::lock_guard lock(r.mu);
  t.counters_ = c;
  t.has_counters_ = true;
}

std::vector<ThreadSpans> collect_threads() {
  Registry& r = registry();
  const std::lock_guard lock(r.mu);
  std::vector<ThreadSpans> out;
  std::vector<const ThreadTrace*> done;  // retired before we drained them: nothing more will come
  for (auto& t : r.threads) {
    if (t->retired()) done.push_back(t.get());
    ThreadSpans z;
    t->drain(z.events);
    z.dropped = t->dropped();
    if (z.events.empty() && z.dropped == 0 && !t->has_counters_ && t->name_.empty()) continue;
    z.name = t->name_.empty() ? "thread " + std::to_string(t->tid_) : t->name_;
    z.tid = t->tid_;
    z.has_counters = t->has_counters_;
    z.counters = t->counters_;
    out.push_back(std::move(z));
  }
  // Free only rings whose thread had exited before the drain: a thread that
  // exits during it may have pushed after we read its head.
  std::erase_if(r.threads, [&done](const auto& t) {
    return std::find(done.begin(), done.end(), t.get()) != done.end();
  });
  return out;
}

}  // namespace triptych::trace
