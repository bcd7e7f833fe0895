// SPDX-License-Identifier: Apache-2.0
// The pool (include/triptych/sched/pool.hpp): worker loop (exploit own inbox
// and deque → shared queue → explore random victims with bounded attempts →
// two-phase park), task groups, creation and teardown; submit and
// parallel_for are pool_dispatch.cpp's, external members pool_members.cpp's. Blocking; see the header for who may call what
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

#include "pool_impl.hpp"
#include "triptych/sched/pinning.hpp"

namespace triptych::sched {

using namespace pool_internal;

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
    apply_repin(slot);
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

}  // namespace triptych::sched
