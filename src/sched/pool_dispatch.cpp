// SPDX-License-Identifier: Apache-2.0
// The pool's ways in (include/triptych/sched/pool.hpp): the shared FIFO
// queue, submit with backpressure, spawn, and parallel_for's chunks through
// the affinity partitioner. Blocking only where the header says (a full
// queue with kBlock); docs/scheduler.md has the protocol.
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

}  // namespace triptych::sched
