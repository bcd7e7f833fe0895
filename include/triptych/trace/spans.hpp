// SPDX-License-Identifier: Apache-2.0
// Named spans ("layout pass", "GPU submit"), Tracy-style: a span writes a
// pointer to static source-location data and two timestamps into its own
// thread's buffer, a bounded single-producer ring; a collector drains every
// thread's ring. Writing a span is wait-free and allocation-free once the
// thread is registered (its first span, or register_thread()); when a ring is
// full the span is dropped and counted. Spans are process-local (they hold
// pointers); per-frame stamps that cross processes live in frame_trace.hpp.
// The runtime switch set_enabled() gates both. Design: docs/tracing.md ("Spans").
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "triptych/core/config.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/trace/thread_counters.hpp"

namespace triptych::trace {

// Static data for one span site; the macro makes one per use, at compile time.
struct SourceLocation {
  const char* name;
  const char* function;
  const char* file;
  std::uint32_t line;
};

// One finished span on one thread.
struct SpanEvent {
  const SourceLocation* loc = nullptr;
  std::uint64_t begin_ns = 0;
  std::uint64_t end_ns = 0;
  std::uint32_t depth = 0;  // nesting level on its thread, 0 = outermost
  std::uint32_t reserved = 0;
};

// Default spans a thread can hold between two collections.
inline constexpr std::uint32_t kDefaultSpanCapacity = 1u << 13;
// Rings of exited threads kept for a later collect_threads().
inline constexpr std::size_t kMaxRetiredRings = 16;

// Runtime switch for spans and TRIPTYCH_STAMP. Starts enabled.
extern std::atomic<bool> g_trace_enabled;
inline void set_enabled(bool on) noexcept {
  g_trace_enabled.store(on, std::memory_order_relaxed);
}
[[nodiscard]] inline bool enabled() noexcept {
  return g_trace_enabled.load(std::memory_order_relaxed);
}

struct ThreadSpans;

// One thread's span ring. The owning thread pushes; one collector at a time
// (serialised by the registry) drains. Lives until the process exits, so a
// thread may end before its spans are collected.
class ThreadTrace {
 public:
  explicit ThreadTrace(std::uint32_t capacity);
  ThreadTrace(const ThreadTrace&) = delete;
  ThreadTrace& operator=(const ThreadTrace&) = delete;

  // Owning thread only. Wait-free; returns false (and counts) when full.
  bool push(const SpanEvent& e) noexcept {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);  // we are its only writer
    if (head - cached_tail_ > mask_) {
      // SYNC(span-pop): acquire pairs with drain()'s release of tail_; the slot is free to reuse.
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (head - cached_tail_ > mask_) {
        dropped_.fetch_add(1, std::memory_order_relaxed);  // a statistic only
        return false;
      }
    }
    events_[head & mask_] = e;
    // SYNC(span-push): publishes the event to drain().
    head_.store(head + 1, std::memory_order_release);
    return true;
  }

  // Collector only. Appends the pending spans to `out`; allocates (`out`).
  std::size_t drain(std::vector<SpanEvent>& out);
  // The owning thread has exited (set by its exit hook; see retired_).
  void retire() noexcept {
    // SYNC(span-retire): the thread's last pushes happen before a collector
    // that sees retired() frees the ring.
    retired_.store(true, std::memory_order_release);
  }
  [[nodiscard]] bool retired() const noexcept {
    return retired_.load(std::memory_order_acquire);  // SYNC(span-retire)
  }

  [[nodiscard]] std::uint64_t dropped() const noexcept {
    return dropped_.load(std::memory_order_relaxed);
  }

 private:
  friend ThreadTrace& register_thread(std::string_view, std::uint32_t);
  friend void set_thread_name(std::string_view);
  friend void record_thread_counters(const ThreadCounters&);
  friend std::vector<ThreadSpans> collect_threads();
  alignas(kCacheLine) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;  // owner's copy of tail_, refreshed only when full
  std::atomic<std::uint64_t> dropped_{0};
  alignas(kCacheLine) std::atomic<std::uint64_t> tail_{0};
  std::unique_ptr<SpanEvent[]> events_;
  std::uint64_t mask_;
  // Below: guarded by the registry's mutex.
  std::string name_;
  std::int64_t tid_ = 0;
  ThreadCounters counters_{};
  bool has_counters_ = false;
  // Set when the thread exits; collect_threads() frees a retired ring after
  // draining it, and registration frees the oldest beyond kMaxRetiredRings,
  // so a host that creates and closes engines does not grow without bound.
  std::atomic<bool> retired_{false};
};

// Registers the calling thread (once; allocates its ring) and names it in
// traces. Call it before the hot loop to keep the first span allocation-free.
ThreadTrace& register_thread(std::string_view name = {},
                             std::uint32_t capacity = kDefaultSpanCapacity);

// The calling thread's ring, registering it unnamed on first use.
[[nodiscard]] ThreadTrace& this_thread_trace();

// Renames the calling thread in traces (registers it if needed).
void set_thread_name(std::string_view name);

// Stores `c` as the calling thread's counters (ThreadProbe::finish does this).
void record_thread_counters(const ThreadCounters& c);

// Everything collected from one thread.
struct ThreadSpans {
  std::string name;
  std::int64_t tid = 0;
  std::vector<SpanEvent> events;
  std::uint64_t dropped = 0;
  bool has_counters = false;
  ThreadCounters counters{};
};

// Drains every registered thread's ring (threads with nothing to report are
// left out). Safe while threads keep pushing; allocates.
[[nodiscard]] std::vector<ThreadSpans> collect_threads();

namespace detail {
inline thread_local ThreadTrace* t_trace = nullptr;
inline thread_local std::uint32_t t_span_depth = 0;
}  // namespace detail

// RAII span: stamps begin at construction, pushes {begin, end} at scope exit.
// Costs one relaxed load when tracing is switched off at run time.
class ScopedSpan {
 public:
  explicit ScopedSpan(const SourceLocation* loc) noexcept {
    if (enabled()) {
      loc_ = loc;
      depth_ = detail::t_span_depth++;
      begin_ns_ = now_ns();
    }
  }
  ~ScopedSpan() {
    if (loc_ == nullptr) return;
    const std::uint64_t end = now_ns();
    --detail::t_span_depth;
    (void)this_thread_trace().push(SpanEvent{loc_, begin_ns_, end, depth_, 0});
  }
  ScopedSpan(const ScopedSpan&) = delete;
  ScopedSpan& operator=(const ScopedSpan&) = delete;

 private:
  const SourceLocation* loc_ = nullptr;
  std::uint64_t begin_ns_ = 0;
  std::uint32_t depth_ = 0;
};

}  // namespace triptych::trace
