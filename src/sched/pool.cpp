// SPDX-License-Identifier: Apache-2.0
// The pool (include/triptych/sched/pool.hpp): worker loop (exploit own inbox
// and deque → shared queue → explore random victims with bounded attempts →
// two-phase park), task groups, parallel_for's affinity partitioner, external
// members and backpressure. Blocking; see the header for who may call what
// and docs/scheduler.md for the parking protocol and its lost-wake-up argument.
#include "triptych/sched/pool.hpp"

#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <deque>
#include <mutex>
#include <new>

#include "triptych/sched/chase_lev.hpp"
#include "triptych/sched/pinning.hpp"

namespace triptych::sched {
namespace {

using Clock = std::chrono::steady_clock;

// Idle bounds (CONVENTIONS.md #10): spin on the queues, then yield, then park.
// 64 empty searches take a few µs: enough to catch the next chunk of a frame
// without burning a core between frames.
constexpr std::uint32_t kIdleSpinRounds = 64;
constexpr std::uint32_t kIdleYieldRounds = 4;
// A woken owner gets this many searches of a head start before thieves may
// empty its inbox (keeps chunks on their previous core when unloaded).
constexpr std::uint32_t kInboxStealRounds = 16;
// Liveness re-check for every park: a missed wake would cost at most this.
constexpr std::chrono::milliseconds kParkTimeout{100};
// A helper with nothing to run sleeps on its group this long between checks.
constexpr std::chrono::milliseconds kHelpSleep{1};
constexpr std::uint32_t kNoSlot = 0xffffffffu;

thread_local const Pool* tl_pool = nullptr;
thread_local std::uint32_t tl_slot = kNoSlot;

// A slot's CPU as a set for pin_current_thread (empty: unpinned).
CpuSet cpus_of_slot(std::uint32_t cpu) { return cpu == kNoSlot ? CpuSet{} : CpuSet{cpu}; }

std::uint64_t xorshift(std::uint64_t& s) noexcept {
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

}  // namespace

// Per-member state. Owner-written counters are relaxed: they are statistics,
// read by metrics() as a snapshot.
struct alignas(kCacheLine) Pool::Slot {
  ChaseLevDeque<Task*> deque;
  // SYNC(inbox): a dispatcher's seq_cst CAS publishes its chunk list to the
  // taker's acquire exchange.
  alignas(kCacheLine) std::atomic<Task*> inbox{nullptr};
  std::atomic<bool> active{false};
  std::uint32_t cpu = kNoSlot;
  bool numa_allocated = false;
  cpu_set_t saved_affinity{};  // external members: restored on leave
  alignas(kCacheLine) std::uint64_t rng = 1;
  std::atomic<std::uint64_t> executed{0};
  std::atomic<std::uint64_t> steals{0};
  std::atomic<std::uint64_t> steal_attempts{0};
  std::atomic<std::uint64_t> parks{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};

  void bump(std::atomic<std::uint64_t>& c) noexcept { c.fetch_add(1, std::memory_order_relaxed); }
};

struct Pool::Shared {
  std::mutex mu;
  std::deque<Task*> q;  // FIFO
  // Backpressure accounting, all under mu so a snapshot is exact.
  std::uint64_t submitted = 0;
  std::uint64_t completed = 0;
  std::uint64_t rejected = 0;
  std::uint64_t dropped = 0;
  std::uint64_t in_flight = 0;
  std::uint64_t queued_submitted = 0;
  std::uint64_t max_seen = 0;
  std::atomic<std::uint64_t> outsider_executed{0};
};

struct AffinityPartitioner::Chunk final : Task {
  void execute(std::uint32_t) override { fn(ctx, begin, end); }
  std::size_t begin = 0;
  std::size_t end = 0;
  std::size_t index = 0;
  std::uint32_t preferred = 0;
  void (*fn)(void*, std::size_t, std::size_t) = nullptr;
  void* ctx = nullptr;
  AffinityPartitioner* owner = nullptr;
};

AffinityPartitioner::~AffinityPartitioner() {
  for (Chunk* c : chunks_) delete c;
}

std::uint32_t AffinityPartitioner::last_member(std::size_t chunk) const noexcept {
  if (chunk >= n_) return kNone;
  return last_[chunk].load(std::memory_order_relaxed);
}

namespace detail {
Task* make_heap(Task* t, bool submitted) noexcept {
  t->heap_ = true;
  t->origin_ = submitted ? Task::Origin::kSubmitted : Task::Origin::kSpawned;
  return t;
}
void set_group(Task* t, TaskGroup* g) noexcept { t->group_ = g; }
}  // namespace detail

// ---- TaskGroup ---------------------------------------------------------------

void TaskGroup::done_one() noexcept {
  // SYNC(group-done): acq_rel, so the last decrement carries every earlier
  // completer's effects (release sequence) to the waiter.
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    (void)fetch_add_and_wake(done_, 1, INT_MAX);
    // SYNC(group-exit): our last touch of the group; the waiter may free it after.
    exit_.store(1, std::memory_order_release);
  }
}

void TaskGroup::wait() {
  const auto me = pool_->current_member();
  if (me || (pool_->own_threads_ == 0 && pool_->config_.caller_helps)) {
    pool_->help_until_done(*this, me);
  } else {
    for (;;) {
      // SYNC(group-done): acquire side.
      if (pending_.load(std::memory_order_acquire) == 0) break;
      const std::uint32_t e = done_.value.load(std::memory_order_acquire);
      if (pending_.load(std::memory_order_acquire) == 0) break;
      (void)triptych::wait(done_, e, kParkTimeout);
    }
  }
  // SYNC(group-exit): acquire side; the last completer is past its wake.
  while (exit_.load(std::memory_order_acquire) == 0) std::this_thread::yield();
}

// ---- Pool: creation and teardown --------------------------------------------

PoolConfig PoolConfig::from_plan(const PoolPlan& plan, std::size_t max_external) {
  PoolConfig c;
  c.name = plan.name;
  c.cpus = plan.threads;
  c.threads = plan.threads.size();
  c.max_external = max_external;
  return c;
}

Pool::Pool(PoolConfig config) : config_(std::move(config)), shared_(std::make_unique<Shared>()) {}

Result<std::unique_ptr<Pool>> Pool::create(PoolConfig config) {
  const std::size_t threads = config.threads.value_or(config.cpus.empty() ? 1 : config.cpus.size());
  if (threads == 0 && config.max_external == 0) {
    return make_error(Errc::kInvalidArgument, "pool '" + config.name +
                                                  "' would have zero workers: no threads and no external slots");
  }
  const std::string longest = "tp-" + config.name + "-" + std::to_string(threads == 0 ? 0 : threads - 1);
  if (config.name.empty() || longest.size() > 15) {
    return make_error(Errc::kInvalidArgument, "pool name '" + config.name +
                                                  "' must be 1 to 8 characters (thread names are tp-<name>-<i>, 15 max)");
  }
  if (config.external_cpus.empty()) config.external_cpus = config.cpus;
  std::unique_ptr<Pool> p(new Pool(std::move(config)));
  const PoolConfig& cfg = p->config_;
  p->own_threads_ = threads;
  const std::size_t total = threads + cfg.max_external;
  p->steal_attempts_ = cfg.steal_attempts.value_or(static_cast<std::uint32_t>(2 * total));
  p->tids_ = std::make_unique<std::atomic<int>[]>(total);
  for (std::size_t i = 0; i < total; ++i) {
    std::uint32_t cpu = kNoSlot;
    if (i < threads && !cfg.cpus.empty()) cpu = cfg.cpus[i % cfg.cpus.size()];
    if (i >= threads && !cfg.external_cpus.empty()) cpu = cfg.external_cpus[(i - threads) % cfg.external_cpus.size()];
    Slot* s = nullptr;
    if (cfg.numa != nullptr && cpu != kNoSlot) {
      void* mem = cfg.numa->alloc_local(sizeof(Slot), cpu);
      if (mem != nullptr) {
        s = new (mem) Slot();
        s->numa_allocated = true;
      }
    }
    if (s == nullptr) s = new Slot();
    s->cpu = cpu;
    s->rng = cfg.seed + 0x9e3779b97f4a7c15ULL * (i + 1);
    s->active.store(i < threads, std::memory_order_relaxed);
    p->slots_.push_back(s);
  }
  for (std::size_t i = 0; i < threads; ++i) {
    p->threads_.emplace_back([raw = p.get(), i] { raw->worker_main(static_cast<std::uint32_t>(i)); });
  }
  // Every thread pins itself in its prologue; the kernel refuses CPUs outside
  // the process's cgroup cpuset, which we report here rather than run unpinned.
  (void)p->thread_ids();
  for (std::size_t i = 0; i < threads; ++i) {
    if (p->tids_[i].load(std::memory_order_relaxed) < 0) {
      return make_error(Errc::kInvalidArgument, "pool '" + p->config_.name + "': cannot pin a thread to CPU " +
                                                    std::to_string(p->slots_[i]->cpu) +
                                                    " (not in this process's allowed CPUs " +
                                                    current_thread_affinity().to_string() + ")");
    }
  }
  return p;
}

Pool::~Pool() {
  // SYNC(park): seq_cst, so a parking worker's re-check sees it (docs/scheduler.md).
  stopping_.store(true, std::memory_order_seq_cst);
  sleep_.value.fetch_add(1, std::memory_order_seq_cst);
  (void)futex::raw_wake(sleep_.value, INT_MAX);
  for (auto& t : threads_) t.join();
  // Whatever is left (a pool with no threads, or work queued late) runs here,
  // so every accepted task runs exactly once.
  while (Task* t = find_work(kNoSlot, true)) execute(t, kNoSlot);
  for (Slot* s : slots_) {
    if (s->numa_allocated) {
      s->~Slot();
      config_.numa->free_local(s, sizeof(Slot));
    } else {
      delete s;
    }
  }
}

std::optional<std::uint32_t> Pool::current_member() const noexcept {
  if (tl_pool == this) return tl_slot;
  return std::nullopt;
}

std::vector<int> Pool::thread_ids() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < own_threads_; ++i) {
    // SYNC(tid): acquire pairs with the worker's release store in its prologue.
    while (tids_[i].load(std::memory_order_acquire) == 0) std::this_thread::yield();
    out.push_back(tids_[i].load(std::memory_order_relaxed));
  }
  return out;
}

// ---- Worker loop ------------------------------------------------------------

void Pool::worker_main(std::uint32_t slot) {
  Slot& s = *slots_[slot];
  // Prologue: pin, name, register (the pinning hook).
  const std::string name = "tp-" + config_.name + "-" + std::to_string(slot);
  const bool pinned = pin_current_thread(cpus_of_slot(s.cpu), name).ok();
  tl_pool = this;
  tl_slot = slot;
  // SYNC(tid): publishes the id to thread_ids().
  tids_[slot].store(pinned ? static_cast<int>(syscall(SYS_gettid)) : -1, std::memory_order_release);
  if (!pinned) {
    tl_pool = nullptr;
    return;  // create() reports it and the destructor joins us
  }

  std::uint32_t rounds = 0;
  for (;;) {
    if (Task* t = find_work(slot, rounds >= kInboxStealRounds)) {  // exploit, then explore
      execute(t, slot);
      rounds = 0;
      continue;
    }
    if (stopping_.load(std::memory_order_seq_cst) && !work_visible(slot)) break;
    ++rounds;
    if (rounds < kIdleSpinRounds) {
      cpu_relax();
    } else if (rounds < kIdleSpinRounds + kIdleYieldRounds) {
      std::this_thread::yield();
    } else {
      (void)park(slot, kParkTimeout);  // wait
      rounds = 0;
    }
  }
  tl_pool = nullptr;
  tl_slot = kNoSlot;
}

Task* Pool::find_work(std::uint32_t slot, bool allow_inbox_steal) {
  const bool outsider = slot == kNoSlot;
  if (!outsider) {
    Slot& s = *slots_[slot];
    if (s.inbox.load(std::memory_order_relaxed) != nullptr) {
      // SYNC(inbox): acquire side.
      Task* list = s.inbox.exchange(nullptr, std::memory_order_acquire);
      if (list != nullptr) {
        for (Task* t = list->next_; t != nullptr;) {
          Task* next = t->next_;
          s.deque.push(t);
          t = next;
        }
        return list;
      }
    }
    if (auto t = s.deque.pop()) return *t;
  }
  if (Task* t = pop_shared()) return t;
  const std::size_t n = slots_.size();
  std::uint64_t dummy_rng = 0x2545f4914f6cdd1dULL ^ reinterpret_cast<std::uintptr_t>(&dummy_rng);
  std::uint64_t& rng = outsider ? dummy_rng : slots_[slot]->rng;
  const std::uint32_t attempts = outsider ? static_cast<std::uint32_t>(2 * n) : steal_attempts_;
  for (std::uint32_t a = 0; a < attempts; ++a) {
    const auto v = static_cast<std::uint32_t>(xorshift(rng) % n);
    if (v == slot) continue;
    Slot& vs = *slots_[v];
    if (!outsider) slots_[slot]->bump(slots_[slot]->steal_attempts);
    if (auto t = vs.deque.steal()) {
      if (!outsider) slots_[slot]->bump(slots_[slot]->steals);
      return *t;
    }
    if ((allow_inbox_steal || outsider) && vs.inbox.load(std::memory_order_relaxed) != nullptr) {
      Task* list = vs.inbox.exchange(nullptr, std::memory_order_acquire);  // SYNC(inbox)
      if (list != nullptr) {
        for (Task* t = list->next_; t != nullptr;) {
          Task* next = t->next_;
          if (outsider) {
            push_shared(t);
          } else {
            slots_[slot]->deque.push(t);
          }
          t = next;
        }
        if (!outsider) slots_[slot]->bump(slots_[slot]->steals);
        return list;
      }
    }
  }
  return nullptr;
}

bool Pool::work_visible(std::uint32_t slot) const {
  // seq_cst loads: the re-check half of the parking protocol.
  if (shared_size_.load(std::memory_order_seq_cst) != 0) return true;
  const bool can_steal = steal_attempts_ > 0;
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    if (i != slot && !can_steal) continue;
    const Slot& s = *slots_[i];
    if (s.inbox.load(std::memory_order_seq_cst) != nullptr) return true;
    if (!s.deque.empty()) return true;
  }
  return false;
}

bool Pool::park(std::uint32_t slot, std::chrono::nanoseconds timeout) {
  // Two-phase wait (docs/scheduler.md, "Parking"). Prepare: announce, then read the epoch.
  sleep_.waiters.fetch_add(1, std::memory_order_seq_cst);
  const std::uint32_t epoch = sleep_.value.load(std::memory_order_seq_cst);
  // Re-check with seq_cst loads; cancel if anything is there.
  if (stopping_.load(std::memory_order_seq_cst) || work_visible(slot)) {
    sleep_.waiters.fetch_sub(1, std::memory_order_seq_cst);
    return true;
  }
  // Commit: the kernel sleeps only while the epoch is unchanged.
  slots_[slot]->bump(slots_[slot]->parks);
  const int rc = futex::raw_wait(sleep_.value, epoch, timeout);
  sleep_.waiters.fetch_sub(1, std::memory_order_seq_cst);
  return rc == 0;
}

void Pool::notify(int count) {
  // Our caller made work visible with a seq_cst write; this seq_cst load is
  // ordered after it (the other half of the Dekker pair in park()).
  if (sleep_.waiters.load(std::memory_order_seq_cst) == 0) return;
  sleep_.value.fetch_add(1, std::memory_order_seq_cst);
  (void)futex::raw_wake(sleep_.value, count);
}

void Pool::execute(Task* t, std::uint32_t slot) {
  t->execute(slot);
  finish(t, slot);
}

void Pool::finish(Task* t, std::uint32_t slot) {
  if (slot != kNoSlot) {
    slots_[slot]->bump(slots_[slot]->executed);
  } else {
    shared_->outsider_executed.fetch_add(1, std::memory_order_relaxed);
  }
  TaskGroup* g = t->group_;
  if (t->origin_ == Task::Origin::kChunk) {
    auto* c = static_cast<AffinityPartitioner::Chunk*>(t);
    const bool hit = c->preferred == slot;
    (hit ? c->owner->hits_ : c->owner->steals_).fetch_add(1, std::memory_order_relaxed);
    if (slot != kNoSlot) slots_[slot]->bump(hit ? slots_[slot]->hits : slots_[slot]->misses);
    c->owner->last_[c->index].store(slot == kNoSlot ? c->preferred : slot, std::memory_order_relaxed);
  } else if (t->origin_ == Task::Origin::kSubmitted) {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      ++shared_->completed;
      --shared_->in_flight;
    }
    (void)fetch_add_and_wake(space_, 1, INT_MAX);  // SYNC(space): room for blocked submitters
  }
  if (t->heap_) delete t;
  if (g != nullptr) g->done_one();
}

void Pool::help_until_done(TaskGroup& g, std::optional<std::uint32_t> member) {
  const std::uint32_t slot = member.value_or(kNoSlot);
  std::uint32_t idle = 0;
  // SYNC(group-done): acquire side.
  while (g.pending_.load(std::memory_order_acquire) != 0) {
    if (Task* t = find_work(slot, idle >= kInboxStealRounds)) {
      execute(t, slot);
      idle = 0;
      continue;
    }
    if (++idle < kIdleSpinRounds) {
      cpu_relax();
      continue;
    }
    // Nothing to run: our group's last tasks are running elsewhere.
    const std::uint32_t e = g.done_.value.load(std::memory_order_acquire);
    if (g.pending_.load(std::memory_order_acquire) == 0) break;
    (void)triptych::wait(g.done_, e, kHelpSleep, kNoSpin);
  }
}

// ---- Shared queue, submit, spawn ------------------------------------------

void Pool::push_shared(Task* t) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->q.push_back(t);
    if (t->origin_ == Task::Origin::kSubmitted) ++shared_->queued_submitted;
    // seq_cst: the publish half of the parking protocol.
    shared_size_.fetch_add(1, std::memory_order_seq_cst);
  }
  notify(1);
}

Task* Pool::pop_shared() {
  if (shared_size_.load(std::memory_order_seq_cst) == 0) return nullptr;
  std::lock_guard<std::mutex> lock(shared_->mu);
  if (shared_->q.empty()) return nullptr;
  Task* t = shared_->q.front();
  shared_->q.pop_front();
  shared_size_.fetch_sub(1, std::memory_order_relaxed);
  if (t->origin_ == Task::Origin::kSubmitted) --shared_->queued_submitted;
  return t;
}

SubmitStatus Pool::submit_task(Task* t) {
  const Backpressure& bp = config_.backpressure;
  std::unique_lock<std::mutex> lock(shared_->mu);
  ++shared_->submitted;
  if (stopping_.load(std::memory_order_relaxed)) {
    ++shared_->rejected;
    lock.unlock();
    delete t;
    return SubmitStatus::kShutDown;
  }
  SubmitStatus status = SubmitStatus::kAccepted;
  const bool bounded = bp.max_in_flight != 0;
  if (bounded && shared_->in_flight >= bp.max_in_flight) {
    switch (bp.policy) {
      case Overflow::kReject:
        ++shared_->rejected;
        lock.unlock();
        delete t;
        return SubmitStatus::kRejected;
      case Overflow::kDropNewest:
        ++shared_->dropped;
        lock.unlock();
        delete t;
        return SubmitStatus::kDropped;
      case Overflow::kDropOldest: {
        auto it = std::find_if(shared_->q.begin(), shared_->q.end(),
                               [](Task* q) { return q->origin_ == Task::Origin::kSubmitted; });
        if (it == shared_->q.end()) {  // all in flight are running: nothing to drop but the new one
          ++shared_->dropped;
          lock.unlock();
          delete t;
          return SubmitStatus::kDropped;
        }
        Task* old = *it;
        shared_->q.erase(it);
        shared_size_.fetch_sub(1, std::memory_order_relaxed);
        --shared_->queued_submitted;
        --shared_->in_flight;
        ++shared_->dropped;
        delete old;
        status = SubmitStatus::kAcceptedDroppedOldest;
        break;
      }
      case Overflow::kBlock: {
        const auto deadline = Clock::now() + bp.block_timeout;
        while (shared_->in_flight >= bp.max_in_flight) {
          // Read the epoch under the lock, before releasing it: a completion
          // after this point changes it, so the wait below cannot miss it.
          const std::uint32_t e = space_.value.load(std::memory_order_acquire);  // SYNC(space)
          const auto left = deadline - Clock::now();
          if (left <= std::chrono::nanoseconds::zero() || stopping_.load(std::memory_order_relaxed)) {
            ++shared_->rejected;
            lock.unlock();
            delete t;
            return SubmitStatus::kRejected;
          }
          lock.unlock();
          (void)triptych::wait(space_, e, std::chrono::duration_cast<std::chrono::nanoseconds>(left));
          lock.lock();
        }
        break;
      }
    }
  }
  ++shared_->in_flight;
  shared_->max_seen = std::max(shared_->max_seen, shared_->in_flight);
  shared_->q.push_back(t);
  ++shared_->queued_submitted;
  shared_size_.fetch_add(1, std::memory_order_seq_cst);  // publish half of parking
  lock.unlock();
  notify(1);
  return status;
}

void Pool::spawn(Task* t) {
  if (tl_pool == this) {
    slots_[tl_slot]->deque.push(t);  // seq_cst store of bottom: publish half of parking
    notify(1);
  } else {
    push_shared(t);
  }
}

// ---- parallel_for -------------------------------------------------------------

void Pool::run_chunks(std::size_t begin, std::size_t end, std::size_t grain, BodyFn fn, void* ctx,
                      AffinityPartitioner* partitioner) {
  if (begin >= end) return;
  grain = std::max<std::size_t>(grain, 1);
  const std::size_t n = (end - begin + grain - 1) / grain;
  AffinityPartitioner local;
  AffinityPartitioner& p = partitioner != nullptr ? *partitioner : local;
  if (p.n_ != n) {
    for (auto* c : p.chunks_) delete c;
    p.chunks_.clear();
    for (std::size_t i = 0; i < n; ++i) p.chunks_.push_back(new AffinityPartitioner::Chunk());
    p.last_ = std::make_unique<std::atomic<std::uint32_t>[]>(n);
    for (std::size_t i = 0; i < n; ++i) p.last_[i].store(AffinityPartitioner::kNone, std::memory_order_relaxed);
    p.n_ = n;
  }
  // Scratch lists live in the partitioner, so a frame with a reused
  // partitioner allocates nothing once their capacity has grown.
  std::vector<std::uint32_t>& active = p.active_;
  active.clear();
  for (std::uint32_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i]->active.load(std::memory_order_acquire)) active.push_back(i);
  }
  if (active.empty()) {
    if (config_.caller_helps) {  // nobody to run it: run inline
      for (std::size_t i = 0; i < n; ++i) fn(ctx, begin + i * grain, std::min(end, begin + (i + 1) * grain));
      return;
    }
    // Only members may run chunks: queue them on every slot's inbox; a member
    // that joins later finds them there (or steals them).
    for (std::uint32_t i = 0; i < slots_.size(); ++i) active.push_back(i);
  }
  p.hits_.store(0, std::memory_order_relaxed);
  p.steals_.store(0, std::memory_order_relaxed);
  TaskGroup g(*this);
  g.add(static_cast<std::int64_t>(n));
  std::vector<Task*>& heads = p.heads_;
  std::vector<Task*>& tails = p.tails_;
  heads.assign(slots_.size(), nullptr);
  tails.assign(slots_.size(), nullptr);
  for (std::size_t k = n; k-- > 0;) {  // backwards, so each list is in index order
    AffinityPartitioner::Chunk* c = p.chunks_[k];
    std::uint32_t pref = p.last_[k].load(std::memory_order_relaxed);
    if (pref >= slots_.size() || std::find(active.begin(), active.end(), pref) == active.end()) {
      pref = active[k * active.size() / n];
    }
    c->begin = begin + k * grain;
    c->end = std::min(end, c->begin + grain);
    c->index = k;
    c->preferred = pref;
    c->fn = fn;
    c->ctx = ctx;
    c->owner = &p;
    c->group_ = &g;
    c->origin_ = Task::Origin::kChunk;
    c->heap_ = false;
    c->next_ = heads[pref];
    if (heads[pref] == nullptr) tails[pref] = c;
    heads[pref] = c;
  }
  for (std::size_t s = 0; s < slots_.size(); ++s) {
    if (heads[s] == nullptr) continue;
    std::atomic<Task*>& inbox = slots_[s]->inbox;
    Task* old = inbox.load(std::memory_order_relaxed);
    do {
      tails[s]->next_ = old;
      // SYNC(inbox): publishes the chunks' fields; seq_cst is also the publish
      // half of the parking protocol.
    } while (!inbox.compare_exchange_weak(old, heads[s], std::memory_order_seq_cst, std::memory_order_relaxed));
  }
  notify(INT_MAX);
  g.wait();
  p.total_hits_ += p.hits_.load(std::memory_order_relaxed);
  p.total_steals_ += p.steals_.load(std::memory_order_relaxed);
}

// ---- External members ---------------------------------------------------------

Result<Member> Pool::join() {
  if (tl_pool != nullptr) {
    return make_error(Errc::kInvalidArgument, "this thread is already a member of pool '" + tl_pool->name() + "'");
  }
  for (std::uint32_t i = static_cast<std::uint32_t>(own_threads_); i < slots_.size(); ++i) {
    Slot& s = *slots_[i];
    bool expected = false;
    if (s.active.load(std::memory_order_relaxed) ||
        !s.active.compare_exchange_strong(expected, true, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      continue;
    }
    CPU_ZERO(&s.saved_affinity);
    (void)sched_getaffinity(0, sizeof(s.saved_affinity), &s.saved_affinity);
    if (auto pinned = pin_current_thread(cpus_of_slot(s.cpu), {}); !pinned) {
      s.active.store(false, std::memory_order_release);
      return make_error(Errc::kSystem, "pool '" + name() + "': cannot pin the joining thread to CPU " +
                                           std::to_string(s.cpu) + ": " + pinned.error().message);
    }
    tl_pool = this;
    tl_slot = i;
    return Member(this, i, s.cpu);
  }
  return make_error(Errc::kOutOfRange, "pool '" + name() + "' has no free external member slot (" +
                                           std::to_string(config_.max_external) + " configured)");
}

void Pool::leave(std::uint32_t slot) {
  Slot& s = *slots_[slot];
  // Hand queued work to the shared queue so nothing is stranded.
  for (Task* list = s.inbox.exchange(nullptr, std::memory_order_acquire); list != nullptr;) {  // SYNC(inbox)
    Task* next = list->next_;
    push_shared(list);
    list = next;
  }
  while (auto t = s.deque.pop()) push_shared(*t);
  (void)sched_setaffinity(0, sizeof(s.saved_affinity), &s.saved_affinity);
  tl_pool = nullptr;
  tl_slot = kNoSlot;
  s.active.store(false, std::memory_order_release);
}

Member::Member(Member&& other) noexcept : pool_(other.pool_), slot_(other.slot_), cpu_(other.cpu_) {
  other.pool_ = nullptr;
}

std::optional<Job> Member::take(std::chrono::nanoseconds timeout) {
  if (pool_ == nullptr) return std::nullopt;
  const auto deadline = timeout == kWaitForever ? Clock::time_point::max() : Clock::now() + timeout;
  std::uint32_t rounds = 0;
  for (;;) {
    if (Task* t = pool_->find_work(slot_, rounds >= kInboxStealRounds)) {
      Job j;
      j.task_ = t;
      j.member_ = slot_;
      if (t->origin_ == Task::Origin::kChunk) {
        auto* c = static_cast<AffinityPartitioner::Chunk*>(t);
        j.is_chunk_ = true;
        j.begin_ = c->begin;
        j.end_ = c->end;
      }
      return j;
    }
    if (pool_->stopping_.load(std::memory_order_seq_cst)) return std::nullopt;
    const auto now = Clock::now();
    if (now >= deadline) return std::nullopt;
    if (++rounds < kIdleSpinRounds) {
      cpu_relax();
      continue;
    }
    const auto left = std::min<std::chrono::nanoseconds>(deadline - now, kParkTimeout);
    (void)pool_->park(slot_, left);
    rounds = kIdleSpinRounds / 2;
  }
}

void Member::complete(Job job) {
  if (pool_ != nullptr && job.task_ != nullptr) pool_->finish(job.task_, slot_);
}

void Member::leave() {
  if (pool_ == nullptr) return;
  pool_->leave(slot_);
  pool_ = nullptr;
}

// ---- Metrics ----------------------------------------------------------------

PoolMetrics Pool::metrics() const {
  PoolMetrics m;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    m.submitted = shared_->submitted;
    m.completed = shared_->completed;
    m.rejected = shared_->rejected;
    m.dropped = shared_->dropped;
    m.in_flight = shared_->in_flight;
    m.queued = shared_->queued_submitted;
    m.max_in_flight_seen = shared_->max_seen;
  }
  m.executed = shared_->outsider_executed.load(std::memory_order_relaxed);
  for (const Slot* s : slots_) {
    m.executed += s->executed.load(std::memory_order_relaxed);
    m.steals += s->steals.load(std::memory_order_relaxed);
    m.steal_attempts += s->steal_attempts.load(std::memory_order_relaxed);
    m.parks += s->parks.load(std::memory_order_relaxed);
    m.affinity_hits += s->hits.load(std::memory_order_relaxed);
    m.affinity_steals += s->misses.load(std::memory_order_relaxed);
  }
  return m;
}

}  // namespace triptych::sched
