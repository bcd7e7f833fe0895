// SPDX-License-Identifier: Apache-2.0
// ChaseLevDeque<T>: the per-worker work-stealing deque of Lê, Pop, Cohen and
// Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak Memory Models"
// (PPoPP'13), Fig. 1, the C11 version. One owner thread calls push/pop
// (wait-free except when push grows the array); any number of thieves call
// steal (lock-free: a thief fails only when another thread made progress).
// T must be trivially copyable and lock-free as an atomic (we store Task*).
// Deviations from the paper, each marked DEVIATION below:
//  1. The paper's two standalone seq_cst fences (in take and steal) are
//     replaced by seq_cst loads/stores of `top`/`bottom`, which TSan can see.
//  2. push stores `bottom` seq_cst instead of (release fence + relaxed store):
//     the pool's parking protocol needs that store ordered before its read of
//     the sleeper count (docs/scheduler.md, "Parking").
//  3. Grown-out arrays are kept until the deque dies instead of leaked, as a
//     thief may still be reading one (the paper leaves reclamation open).
//  4. steal reports a lost race as empty (no separate ABORT); callers retry
//     through their bounded victim loop.
// Design and the orderings: docs/scheduler.md.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "triptych/core/config.hpp"

namespace triptych::sched {

template <class T>
class ChaseLevDeque {
  static_assert(std::is_trivially_copyable_v<T>, "slots are copied with relaxed atomic loads");
  static_assert(std::atomic<T>::is_always_lock_free, "a slot must be a lock-free atomic");

 public:
  // capacity: initial size, a power of two; push grows it by doubling.
  explicit ChaseLevDeque(std::size_t capacity = 256)
      : array_(new Array(is_power_of_two(capacity) ? capacity : 256)) {
    arrays_.emplace_back(array_.load(std::memory_order_relaxed));
  }
  ChaseLevDeque(const ChaseLevDeque&) = delete;
  ChaseLevDeque& operator=(const ChaseLevDeque&) = delete;

  // Owner only. Allocates (doubling) when full.
  void push(T item) {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    // SYNC(deque-top): acquire pairs with the thieves' seq_cst CAS of top, so
    // slots they have taken are free to overwrite.
    const std::int64_t t = top_.load(std::memory_order_acquire);
    Array* a = array_.load(std::memory_order_relaxed);
    if (b - t > static_cast<std::int64_t>(a->capacity) - 1) a = grow(a, b, t);
    a->put(b, item);
    // DEVIATION 2. SYNC(deque-bottom): publishes the slot just written to the
    // thieves' seq_cst load of bottom; seq_cst also orders it before the
    // pool's seq_cst read of the sleeper count.
    bottom_.store(b + 1, std::memory_order_seq_cst);
  }

  // Owner only. Takes the newest item (LIFO). Wait-free.
  [[nodiscard]] std::optional<T> pop() noexcept {
    const std::int64_t b = bottom_.load(std::memory_order_relaxed) - 1;
    Array* a = array_.load(std::memory_order_relaxed);
    // DEVIATION 1: the paper's relaxed store + seq_cst fence + relaxed load.
    // Both seq_cst, so they are ordered in the single total order S against a
    // thief's seq_cst load of top then of bottom: either the thief sees the
    // lowered bottom, or we see its raised top. That is all the fence gave.
    bottom_.store(b, std::memory_order_seq_cst);
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    if (t > b) {  // empty
      bottom_.store(b + 1, std::memory_order_relaxed);
      return std::nullopt;
    }
    T item = a->get(b);
    if (t == b) {  // last item: race the thieves for it with the CAS on top
      const bool won = top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst,
                                                    std::memory_order_relaxed);
      bottom_.store(b + 1, std::memory_order_relaxed);
      if (!won) return std::nullopt;
    }
    return item;
  }

  // Any thread. Takes the oldest item (FIFO end). Lock-free; empty on a lost race.
  [[nodiscard]] std::optional<T> steal() noexcept {
    // DEVIATION 1: seq_cst loads instead of acquire + seq_cst fence + acquire.
    std::int64_t t = top_.load(std::memory_order_seq_cst);
    // SYNC(deque-bottom): the seq_cst (acquire) load pairs with push's store.
    const std::int64_t b = bottom_.load(std::memory_order_seq_cst);
    if (t >= b) return std::nullopt;
    // SYNC(deque-array): acquire pairs with grow's release store (the paper's consume).
    Array* a = array_.load(std::memory_order_acquire);
    T item = a->get(t);
    // SYNC(deque-top): the CAS claims slot t; a failure means another thief or
    // the owner's last-item CAS took it first, so the value read is discarded.
    if (!top_.compare_exchange_strong(t, t + 1, std::memory_order_seq_cst, std::memory_order_relaxed)) {
      return std::nullopt;
    }
    return item;
  }

  // Any thread; a snapshot that may be stale by the time it returns. The
  // seq_cst loads let the parking protocol use it as its re-check.
  [[nodiscard]] bool empty() const noexcept {
    const std::int64_t t = top_.load(std::memory_order_seq_cst);
    const std::int64_t b = bottom_.load(std::memory_order_seq_cst);
    return b <= t;
  }
  [[nodiscard]] std::size_t size_hint() const noexcept {
    const std::int64_t t = top_.load(std::memory_order_relaxed);
    const std::int64_t b = bottom_.load(std::memory_order_relaxed);
    return b > t ? static_cast<std::size_t>(b - t) : 0;
  }
  [[nodiscard]] std::size_t capacity() const noexcept {
    return array_.load(std::memory_order_relaxed)->capacity;
  }

 private:
  struct Array {
    explicit Array(std::size_t cap) : capacity(cap), mask(cap - 1), slots(new std::atomic<T>[cap]) {}
    std::size_t capacity;
    std::size_t mask;
    std::unique_ptr<std::atomic<T>[]> slots;
    // Relaxed: the slot is published by bottom (push) and claimed by top (CAS).
    void put(std::int64_t i, T v) noexcept {
      slots[static_cast<std::size_t>(i) & mask].store(v, std::memory_order_relaxed);
    }
    T get(std::int64_t i) const noexcept {
      return slots[static_cast<std::size_t>(i) & mask].load(std::memory_order_relaxed);
    }
  };

  Array* grow(Array* old, std::int64_t b, std::int64_t t) {
    auto bigger = std::make_unique<Array>(old->capacity * 2);
    for (std::int64_t i = t; i < b; ++i) bigger->put(i, old->get(i));
    Array* a = bigger.get();
    arrays_.push_back(std::move(bigger));  // DEVIATION 3: old arrays live on
    // SYNC(deque-array): publishes the copied slots to thieves' acquire load.
    array_.store(a, std::memory_order_release);
    return a;
  }

  // top is written by thieves, bottom by the owner: keep them a line apart.
  alignas(kCacheLine) std::atomic<std::int64_t> top_{0};
  alignas(kCacheLine) std::atomic<std::int64_t> bottom_{0};
  alignas(kCacheLine) std::atomic<Array*> array_;
  std::vector<std::unique_ptr<Array>> arrays_;  // owner only
};

}  // namespace triptych::sched
