// SPDX-License-Identifier: Apache-2.0
// Linux futex syscalls behind include/triptych/sync/futex.hpp. Blocking; any
// thread of any process may call. The lost-wake-up argument is in docs/sync.md.
//
// TRIPTYCH_TEST_LOSE_WAKES=1 (test-only; see docs/verification.md, "Lost-wake
// negative check") compiles raw_wake() without its FUTEX_WAKE syscall, so every
// wake in the binary is lost. Only the `*_lostwake` test executables build this
// file that way, as their own copy in place of libtriptych's; a product build
// never defines it.
#include "triptych/sync/futex.hpp"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <ctime>

#ifndef TRIPTYCH_TEST_LOSE_WAKES
#define TRIPTYCH_TEST_LOSE_WAKES 0
#endif

namespace triptych {
namespace {

using Clock = std::chrono::steady_clock;

timespec to_timespec(std::chrono::nanoseconds ns) noexcept {
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(ns);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(secs.count());
  ts.tv_nsec = static_cast<long>((ns - secs).count());
  return ts;
}

}  // namespace

namespace futex {

int raw_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
             std::chrono::nanoseconds timeout) noexcept {
  timespec ts{};
  const timespec* tsp = nullptr;
  if (timeout != kWaitForever) {
    ts = to_timespec(timeout < std::chrono::nanoseconds::zero() ? std::chrono::nanoseconds::zero()
                                                                 : timeout);
    tsp = &ts;
  }
  // The kernel compares *word with `expected` atomically with queueing us, so
  // a wake between our last load and this call is never lost.
  const long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAIT,
                          expected, tsp, nullptr, 0);
  return rc == 0 ? 0 : errno;
}

int raw_wake(std::atomic<std::uint32_t>& word, int count) noexcept {
#if TRIPTYCH_TEST_LOSE_WAKES
  // The seeded bug: every wake-up is lost. Sleepers wake only at their timeout.
  (void)word;
  (void)count;
  return 0;
#else
  const long rc = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(&word), FUTEX_WAKE,
                          count, nullptr, nullptr, 0);
  return rc < 0 ? 0 : static_cast<int>(rc);
#endif
}

}  // namespace futex

WaitStatus wait(WaitWord& ww, std::uint32_t expected, std::chrono::nanoseconds timeout,
                SpinPolicy policy) noexcept {
  // Phase 1 and 2: the peer often answers within a few hundred nanoseconds.
  // SYNC(futex-value): acquire pairs with the waker's seq_cst RMW of ww.value.
  for (std::uint32_t i = 0; i < policy.spin_iterations; ++i) {
    if (ww.value.load(std::memory_order_acquire) != expected) return WaitStatus::kChanged;
    cpu_relax();
  }
  for (std::uint32_t i = 0; i < policy.yield_iterations; ++i) {
    if (ww.value.load(std::memory_order_acquire) != expected) return WaitStatus::kChanged;
    sched_yield();
  }
  if (timeout <= std::chrono::nanoseconds::zero()) {
    return ww.value.load(std::memory_order_acquire) != expected ? WaitStatus::kChanged
                                                                : WaitStatus::kTimedOut;
  }

  // Phase 3: register, re-check, sleep. The seq_cst increment of `waiters`
  // and the seq_cst re-load of `value` pair with the waker's seq_cst RMW of
  // `value` then seq_cst load of `waiters`: in the single total order either
  // the waker sees us registered, or we see its new value (docs/sync.md).
  const bool forever = timeout == kWaitForever;
  const auto deadline = forever ? Clock::time_point::max() : Clock::now() + timeout;
  ww.waiters.fetch_add(1, std::memory_order_seq_cst);
  WaitStatus status = WaitStatus::kTimedOut;
  for (;;) {
    // SYNC(futex-value): acquire side of the waker's seq_cst RMW.
    if (ww.value.load(std::memory_order_seq_cst) != expected) {
      status = WaitStatus::kChanged;
      break;
    }
    std::chrono::nanoseconds remaining = kWaitForever;
    if (!forever) {
      remaining = deadline - Clock::now();
      if (remaining <= std::chrono::nanoseconds::zero()) break;
    }
    (void)futex::raw_wait(ww.value, expected, remaining);
    // 0, EAGAIN, EINTR and ETIMEDOUT all loop back to the value check, which
    // alone decides; a timeout is reported only if the value is unchanged.
  }
  ww.waiters.fetch_sub(1, std::memory_order_relaxed);  // only a wake-skip hint
  return status;
}

int wake(WaitWord& ww, int count) noexcept {
  // Dekker-style: our caller's seq_cst RMW of value precedes this seq_cst load.
  if (ww.waiters.load(std::memory_order_seq_cst) == 0) return 0;
  return futex::raw_wake(ww.value, count);
}

std::uint32_t store_and_wake(WaitWord& ww, std::uint32_t v, int count) noexcept {
  // SYNC(futex-value): publishes everything written before this call.
  const std::uint32_t previous = ww.value.exchange(v, std::memory_order_seq_cst);
  (void)wake(ww, count);
  return previous;
}

std::uint32_t fetch_add_and_wake(WaitWord& ww, std::uint32_t delta, int count) noexcept {
  // SYNC(futex-value): publishes everything written before this call.
  const std::uint32_t previous = ww.value.fetch_add(delta, std::memory_order_seq_cst);
  (void)wake(ww, count);
  return previous;
}

}  // namespace triptych
