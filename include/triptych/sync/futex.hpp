// SPDX-License-Identifier: Apache-2.0
// Futex wait/notify on 32-bit words inside the arena (the review's
// Atomics.wait/notify, §3.1.2). Waits are blocking: bounded spin, then bounded
// sched_yield, then FUTEX_WAIT (shared, not private, so a waiter in another
// process that mapped the same memfd is woken too). Any thread of any process
// may wait or wake. WaitWord keeps a waiter count so that a wake with nobody
// waiting costs one load and no syscall. Design: docs/sync.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <type_traits>

namespace triptych {

// A futex word plus the number of threads that may be sleeping on it. Lives in
// shared memory: plain layout, 8 bytes, no pointers. Whoever embeds it decides
// which cache line it shares (usually its writer's).
struct WaitWord {
  std::atomic<std::uint32_t> value{0};
  std::atomic<std::uint32_t> waiters{0};
};
static_assert(std::is_standard_layout_v<WaitWord>, "WaitWord is read by other processes");
static_assert(sizeof(WaitWord) == 8, "PROTOCOL.md fixes WaitWord at 8 bytes");
static_assert(std::atomic<std::uint32_t>::is_always_lock_free,
              "a futex word must be a plain lock-free 32-bit integer");

// The spin → yield → sleep bounds. Spinning wins when the peer answers within
// ~1 µs (a core-to-core round trip is ~100 ns); yielding covers a peer that was
// just descheduled; past that we sleep in the kernel.
inline constexpr std::uint32_t kDefaultSpinIterations = 512;
inline constexpr std::uint32_t kDefaultYieldIterations = 8;

struct SpinPolicy {
  std::uint32_t spin_iterations = kDefaultSpinIterations;
  std::uint32_t yield_iterations = kDefaultYieldIterations;
};
inline constexpr SpinPolicy kNoSpin{0, 0};

inline constexpr std::chrono::nanoseconds kWaitForever = std::chrono::nanoseconds::max();

enum class WaitStatus {
  kChanged,   // the value differed from `expected` when last seen
  kTimedOut,  // the timeout passed and the value still equalled `expected`
};

// One pause instruction: tells the core we are spinning (frees the sibling
// hyper-thread, avoids a memory-order mis-speculation on exit).
inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Blocks until ww.value != expected or `timeout` has passed. Never returns
// early with the value unchanged except on timeout (spurious futex wakes and
// EINTR are retried against the remaining time). Allocation-free.
WaitStatus wait(WaitWord& ww, std::uint32_t expected, std::chrono::nanoseconds timeout,
                SpinPolicy policy = {}) noexcept;

// Wakes up to `count` threads sleeping on ww. Makes no syscall when no thread
// is registered as waiting. Only correct after a seq_cst RMW of ww.value (see
// docs/sync.md: the waker's value change and its waiters read must not be
// reordered); prefer store_and_wake / fetch_add_and_wake, which do that.
// Returns the number of threads the kernel woke.
int wake(WaitWord& ww, int count) noexcept;

// ww.value = v (seq_cst), then wake(count). Returns the previous value.
std::uint32_t store_and_wake(WaitWord& ww, std::uint32_t v, int count) noexcept;

// ww.value += delta (seq_cst), then wake(count). Returns the previous value.
std::uint32_t fetch_add_and_wake(WaitWord& ww, std::uint32_t delta, int count) noexcept;

// Raw syscalls, for tests and benchmarks that measure the floor. Shared futex
// (no FUTEX_PRIVATE_FLAG). Return 0 or an errno value (EAGAIN, ETIMEDOUT, EINTR).
namespace futex {
int raw_wait(std::atomic<std::uint32_t>& word, std::uint32_t expected,
             std::chrono::nanoseconds timeout) noexcept;
int raw_wake(std::atomic<std::uint32_t>& word, int count) noexcept;
}  // namespace futex

}  // namespace triptych
