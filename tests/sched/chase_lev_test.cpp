// SPDX-License-Identifier: Apache-2.0
// Tests for ChaseLevDeque: single-thread LIFO/FIFO semantics and growth, then
// the owner pushing/popping against N thieves with every item accounted for
// (0 lost, 0 duplicated). Iterations scale down under sanitizers
// (TRIPTYCH_SANITIZED), which slow each operation ~10x. See docs/scheduler.md.
#include "triptych/sched/chase_lev.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace triptych::sched {
namespace {

TEST(ChaseLev, OwnerPopsLifoThiefStealsFifo) {
  ChaseLevDeque<std::uintptr_t> d(4);
  EXPECT_FALSE(d.pop().has_value());
  EXPECT_FALSE(d.steal().has_value());
  for (std::uintptr_t i = 1; i <= 3; ++i) d.push(i);
  EXPECT_EQ(d.steal(), std::optional<std::uintptr_t>(1));
  EXPECT_EQ(d.pop(), std::optional<std::uintptr_t>(3));
  EXPECT_EQ(d.pop(), std::optional<std::uintptr_t>(2));
  EXPECT_TRUE(d.empty());
  EXPECT_FALSE(d.pop().has_value());
}

TEST(ChaseLev, GrowsFromCapacity4AndKeepsOrder) {
  ChaseLevDeque<std::uintptr_t> d(4);
  for (std::uintptr_t i = 0; i < 1000; ++i) d.push(i);
  EXPECT_GE(d.capacity(), 1000u);
  EXPECT_EQ(d.size_hint(), 1000u);
  for (std::uintptr_t i = 0; i < 500; ++i) EXPECT_EQ(d.steal(), std::optional<std::uintptr_t>(i));
  for (std::uintptr_t i = 1000; i-- > 500;) EXPECT_EQ(d.pop(), std::optional<std::uintptr_t>(i));
  EXPECT_TRUE(d.empty());
}

TEST(ChaseLev, WrapsManyTimesAtCapacity4) {
  ChaseLevDeque<std::uintptr_t> d(4);
  for (std::uintptr_t i = 0; i < 100000; ++i) {
    d.push(i);
    d.push(i + 1);
    EXPECT_EQ(d.steal(), std::optional<std::uintptr_t>(i));
    EXPECT_EQ(d.pop(), std::optional<std::uintptr_t>(i + 1));
  }
  EXPECT_EQ(d.capacity(), 4u);
}

// The owner pushes 0..N-1 and pops some back, thieves steal the rest; every
// value must be taken exactly once.
TEST(ChaseLev, OwnerVsThieves_NoneLostNoneDuplicated) {
#if TRIPTYCH_SANITIZED
  constexpr std::uintptr_t kItems = 100000;
#else
  constexpr std::uintptr_t kItems = 2000000;
#endif
  constexpr int kThieves = 3;
  ChaseLevDeque<std::uintptr_t> d(8);  // small, so growth races with steals too
  std::vector<std::atomic<std::uint8_t>> seen(kItems);
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> stolen{0};
  auto take = [&](std::uintptr_t v) { seen[v].fetch_add(1, std::memory_order_relaxed); };
  std::vector<std::thread> thieves;
  for (int i = 0; i < kThieves; ++i) {
    thieves.emplace_back([&] {
      std::uint64_t mine = 0;
      // SYNC(test-done): acquire pairs with the owner's release store.
      while (!done.load(std::memory_order_acquire)) {
        if (auto v = d.steal()) {
          take(*v);
          ++mine;
        }
      }
      while (auto v = d.steal()) {
        take(*v);
        ++mine;
      }
      stolen.fetch_add(mine, std::memory_order_relaxed);
    });
  }
  std::uint64_t popped = 0;
  for (std::uintptr_t i = 0; i < kItems; ++i) {
    d.push(i);
    if (i % 3 == 0) {
      if (auto v = d.pop()) {
        take(*v);
        ++popped;
      }
    }
  }
  while (auto v = d.pop()) {
    take(*v);
    ++popped;
  }
  done.store(true, std::memory_order_release);  // SYNC(test-done)
  for (auto& t : thieves) t.join();
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  for (auto& s : seen) {
    const auto n = s.load(std::memory_order_relaxed);
    lost += n == 0;
    duplicated += n > 1;
  }
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(duplicated, 0u);
  EXPECT_EQ(popped + stolen.load(std::memory_order_relaxed), kItems);
}

}  // namespace
}  // namespace triptych::sched
