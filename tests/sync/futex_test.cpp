// SPDX-License-Identifier: Apache-2.0
// Tests for include/triptych/sync/futex.hpp: timeouts, wake-ups, the no-syscall
// fast path (counted at the kernel boundary by a seccomp trap), and a
// ping-pong that stalls on a lost wake-up. Every wake test passes a long
// timeout and asserts the wait returned well inside it: a lost wake would
// still end in kChanged, at the timeout. Also built as sync_futex_test_lostwake
// (TRIPTYCH_TEST_LOSE_WAKES=1), where each wake test must fail
// (docs/verification.md). Labelled `concurrency`.
#include "triptych/sync/futex.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <thread>
#include <vector>

#include "support/syscall_counter.hpp"
#include "support/wake_timing.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using wake_test::kSlowWakeMs;
using wake_test::kWakeTimeout;
using wake_test::Stopwatch;
using wake_test::this_tid;
using wake_test::wait_until_asleep;

// A waiter thread's kernel id, published before it waits.
// SYNC(test-tid): the release store pairs with tid_of()'s acquire load.
void publish_tid(std::atomic<pid_t>& slot) { slot.store(this_tid(), std::memory_order_release); }
pid_t tid_of(const std::atomic<pid_t>& slot) {
  pid_t t = 0;
  while ((t = slot.load(std::memory_order_acquire)) == 0) std::this_thread::yield();  // SYNC(test-tid)
  return t;
}

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
  const syscall_test::Counted c = syscall_test::count_shared_futex_wakes([] {
    WaitWord ww;
    (void)fetch_add_and_wake(ww, 1, 1);
    (void)store_and_wake(ww, 5, INT_MAX);
    (void)wake(ww, 1);
  });
  ASSERT_GE(c.wakes, 0) << c.error;
  EXPECT_EQ(c.wakes, 0) << "a wake with no registered waiter made a FUTEX_WAKE syscall";
}

// The control for the test above: the same harness, with a waiter registered
// (no thread actually sleeps), must see every wake reach the kernel. Without
// it a harness that never counts would pass the no-syscall test too.
TEST(Sync, Futex_WakeWithARegisteredWaiterMakesTheSyscall) {
  const syscall_test::Counted c = syscall_test::count_shared_futex_wakes([] {
    WaitWord ww;
    ww.waiters.store(1, std::memory_order_relaxed);
    (void)fetch_add_and_wake(ww, 1, 1);
    (void)store_and_wake(ww, 5, INT_MAX);
    (void)wake(ww, 1);
  });
  ASSERT_GE(c.wakes, 0) << c.error;
  EXPECT_EQ(c.wakes, 3) << "the harness missed FUTEX_WAKE syscalls (or they were never made)";
}

TEST(Sync, Futex_SleepingWaiterIsWoken) {
  WaitWord ww;
  WaitStatus status = WaitStatus::kTimedOut;
  std::int64_t ms = -1;
  std::atomic<pid_t> tid{0};
  std::thread waiter([&] {
    publish_tid(tid);
    const Stopwatch sw;
    status = wait(ww, 0, kWakeTimeout, kNoSpin);
    ms = sw.ms();
  });
  // Wake only once it sleeps in the kernel, so that only the wake can end it.
  EXPECT_TRUE(wait_until_asleep(tid_of(tid), &ww.value));
  store_and_wake(ww, 1, 1);
  waiter.join();
  EXPECT_EQ(status, WaitStatus::kChanged);
  EXPECT_LT(ms, kSlowWakeMs) << "woken by its timeout, not by the wake";
  EXPECT_EQ(ww.waiters.load(std::memory_order_relaxed), 0u);
}

TEST(Sync, Futex_WakeCountIsRespected) {
  WaitWord ww;
  constexpr int kWaiters = 4;
  std::atomic<int> woken{0};
  std::atomic<int> slow{0};
  std::vector<std::thread> threads;
  std::array<std::atomic<pid_t>, kWaiters> tids{};
  for (int i = 0; i < kWaiters; ++i) {
    threads.emplace_back([&, i] {
      publish_tid(tids[static_cast<std::size_t>(i)]);
      const Stopwatch sw;
      if (wait(ww, 0, kWakeTimeout, kNoSpin) == WaitStatus::kChanged)
        woken.fetch_add(1, std::memory_order_relaxed);
      if (sw.slow()) slow.fetch_add(1, std::memory_order_relaxed);
    });
  }
  for (const auto& t : tids) EXPECT_TRUE(wait_until_asleep(tid_of(t), &ww.value));
  store_and_wake(ww, 1, kWaiters);
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(std::memory_order_relaxed), kWaiters);
  EXPECT_EQ(slow.load(std::memory_order_relaxed), 0) << "waiters woken by their timeout, not the wake";
}

// Two threads alternate ownership of a token through one word; a single lost
// wake-up stalls a side until its (long) timeout: counted as a slow wait, and
// both sides stop at the first one so a lossy build fails in one timeout.
TEST(Sync, Futex_PingPongLosesNoWakeUps) {
  WaitWord ww;
  constexpr std::uint32_t kRounds = TRIPTYCH_SANITIZED ? 2000 : 20000;
  std::atomic<int> timeouts{0};
  std::atomic<int> slow{0};
  auto player = [&](std::uint32_t parity) {
    for (std::uint32_t i = parity; i < 2 * kRounds; i += 2) {
      while (ww.value.load(std::memory_order_acquire) != i) {
        if (slow.load(std::memory_order_relaxed) != 0) return;
        const Stopwatch sw;
        if (wait(ww, i - 1, kWakeTimeout, SpinPolicy{16, 1}) == WaitStatus::kTimedOut)
          timeouts.fetch_add(1, std::memory_order_relaxed);
        if (sw.slow()) slow.fetch_add(1, std::memory_order_relaxed);
      }
      fetch_add_and_wake(ww, 1, 1);
    }
  };
  std::thread a(player, 0u), b(player, 1u);
  a.join();
  b.join();
  EXPECT_EQ(slow.load(std::memory_order_relaxed), 0) << "a wait outlived " << kSlowWakeMs << " ms";
  EXPECT_EQ(timeouts.load(std::memory_order_relaxed), 0);
  EXPECT_EQ(ww.value.load(std::memory_order_relaxed), 2 * kRounds);
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
    const Stopwatch sw;
    const WaitStatus s = wait(*ww, 0, kWakeTimeout, kNoSpin);
    _exit(s != WaitStatus::kChanged ? 1 : sw.slow() ? 2 : 0);
  }
  EXPECT_TRUE(wait_until_asleep(child, &ww->value, /*is_process=*/true));
  store_and_wake(*ww, 1, 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the child timed out; 2: it was woken by its timeout";
  munmap(mem, 4096);
}

}  // namespace
}  // namespace triptych
