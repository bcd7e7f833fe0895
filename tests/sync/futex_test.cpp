// SPDX-License-Identifier: Apache-2.0
// Tests for include/triptych/sync/futex.hpp: timeouts, wake-ups, the no-syscall
// fast path, and a ping-pong that would hang on a lost wake-up.
#include "triptych/sync/futex.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>

namespace triptych {
namespace {

using namespace std::chrono_literals;

TEST(Sync, Futex_WaitReturnsChangedWhenValueAlreadyDiffers) {
  WaitWord ww;
  ww.value.store(7, std::memory_order_relaxed);
  EXPECT_EQ(wait(ww, 3, 1s), WaitStatus::kChanged);
  EXPECT_EQ(ww.waiters.load(std::memory_order_relaxed), 0u);
}

TEST(Sync, Futex_WaitTimesOutWhenNobodyWakes) {
  WaitWord ww;
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(wait(ww, 0, 20ms, kNoSpin), WaitStatus::kTimedOut);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_EQ(ww.waiters.load(std::memory_order_relaxed), 0u);
}

TEST(Sync, Futex_ZeroTimeoutIsAPoll) {
  WaitWord ww;
  EXPECT_EQ(wait(ww, 0, 0ns, kNoSpin), WaitStatus::kTimedOut);
  ww.value.store(1, std::memory_order_relaxed);
  EXPECT_EQ(wait(ww, 0, 0ns, kNoSpin), WaitStatus::kChanged);
}

TEST(Sync, Futex_WakeWithoutWaitersMakesNoSyscall) {
  WaitWord ww;
  // wake() returns the kernel's woken count, 0 here either way; the waiter
  // count is what lets it skip the syscall, so check that count directly.
  EXPECT_EQ(ww.waiters.load(std::memory_order_relaxed), 0u);
  EXPECT_EQ(fetch_add_and_wake(ww, 1, 1), 0u);
  EXPECT_EQ(ww.value.load(std::memory_order_relaxed), 1u);
}

TEST(Sync, Futex_SleepingWaiterIsWoken) {
  WaitWord ww;
  std::atomic<bool> done{false};
  std::thread waiter([&] {
    EXPECT_EQ(wait(ww, 0, 10s, kNoSpin), WaitStatus::kChanged);
    done.store(true, std::memory_order_release);
  });
  while (ww.waiters.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  store_and_wake(ww, 1, 1);
  waiter.join();
  EXPECT_TRUE(done.load(std::memory_order_acquire));
  EXPECT_EQ(ww.waiters.load(std::memory_order_relaxed), 0u);
}

TEST(Sync, Futex_WakeCountIsRespected) {
  WaitWord ww;
  constexpr int kWaiters = 4;
  std::atomic<int> woken{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&] {
      if (wait(ww, 0, 10s, kNoSpin) == WaitStatus::kChanged)
        woken.fetch_add(1, std::memory_order_relaxed);
    });
  }
  while (ww.waiters.load(std::memory_order_acquire) != kWaiters) std::this_thread::yield();
  store_and_wake(ww, 1, kWaiters);
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), kWaiters);
}

// Two threads alternate ownership of a token through one word; a single lost
// wake-up would stall a side until its (long) timeout and fail the test.
TEST(Sync, Futex_PingPongLosesNoWakeUps) {
  WaitWord ww;
  constexpr std::uint32_t kRounds = TRIPTYCH_SANITIZED ? 2000 : 20000;
  std::atomic<int> timeouts{0};
  auto player = [&](std::uint32_t parity) {
    for (std::uint32_t i = parity; i < 2 * kRounds; i += 2) {
      while (ww.value.load(std::memory_order_acquire) != i) {
        if (wait(ww, i - 1, 5s, SpinPolicy{16, 1}) == WaitStatus::kTimedOut)
          timeouts.fetch_add(1, std::memory_order_relaxed);
      }
      fetch_add_and_wake(ww, 1, 1);
    }
  };
  std::thread a(player, 0u), b(player, 1u);
  a.join();
  b.join();
  EXPECT_EQ(ww.value.load(), 2 * kRounds);
  EXPECT_EQ(timeouts.load(), 0);
}

// The futex is shared, not private: a waiter in a forked child sleeping on a
// MAP_SHARED page is woken by the parent.
TEST(Sync, Futex_WakesWaiterInAnotherProcess) {
  void* mem = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(mem, MAP_FAILED);
  auto* ww = new (mem) WaitWord{};
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const WaitStatus s = wait(*ww, 0, 10s, kNoSpin);
    _exit(s == WaitStatus::kChanged ? 0 : 1);
  }
  while (ww->waiters.load(std::memory_order_acquire) == 0) std::this_thread::yield();
  store_and_wake(*ww, 1, 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  munmap(mem, 4096);
}

}  // namespace
}  // namespace triptych
