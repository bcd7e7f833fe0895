// SPDX-License-Identifier: Apache-2.0
// The pool's external members (threads it did not create: Node workers) and
// its metrics snapshot (include/triptych/sched/pool.hpp). join/leave from the
// joining thread; take() blocks on the pool's futex up to its timeout;
// metrics() from any thread. docs/scheduler.md has the protocol.
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
    s.repin_epoch = 0;  // a set published before the join applies at the first take
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
    pool_->apply_repin(slot_);
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

// ---- Re-pinning --------------------------------------------------------------

bool Pool::repin(const CpuSet& cpus) {
  if (cpus.empty()) return false;
  {
    std::lock_guard<std::mutex> lock(repin_mu_);
    repin_cpus_ = cpus;
    // SYNC(repin): release; the set above is visible to a member that sees the new epoch.
    repin_epoch_.fetch_add(1, std::memory_order_release);
  }
  notify(static_cast<int>(slots_.size()));  // parked members re-pin now, not at their park timeout
  return true;
}

void Pool::apply_repin(std::uint32_t slot) {
  Slot& s = *slots_[slot];
  // SYNC(repin): acquire side. One load per search; the rest only after a move.
  const std::uint64_t epoch = repin_epoch_.load(std::memory_order_acquire);
  if (epoch == s.repin_epoch) return;
  CpuSet cpus;
  {
    std::lock_guard<std::mutex> lock(repin_mu_);
    cpus = repin_cpus_;
  }
  s.repin_epoch = epoch;
  // A refused set (CPUs gone from the cgroup since) keeps the old pinning:
  // the member still runs, and the next published set is tried again.
  (void)pin_current_thread(cpus, {});
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
