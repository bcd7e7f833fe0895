// SPDX-License-Identifier: Apache-2.0
// Timing for the wake-up tests (futex, blocking ring ops, wait_for_new). Every
// waiting path re-checks its condition when its timeout expires, so a lost
// wake-up still "succeeds", only late: these tests pass a long timeout and
// assert that each wait returned well inside it, measured with steady_clock.
// Built normally, and built with TRIPTYCH_TEST_LOSE_WAKES=1 as the `*_lostwake`
// targets that must fail (docs/verification.md, "Lost-wake negative check").
// Header-only helpers, any thread.
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>

#ifndef TRIPTYCH_TEST_LOSE_WAKES
#define TRIPTYCH_TEST_LOSE_WAKES 0
#endif

namespace triptych::wake_test {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// The timeout every blocking wait in a wake-up test passes. With wakes lost a
// sleeper returns only when this expires, so the negative-check build uses a
// shorter one to stay cheap; it is still twice kSlowWake, so the assertion that
// fires there is the same elapsed-time check as here, never a timeout.
inline constexpr milliseconds kWakeTimeout{TRIPTYCH_TEST_LOSE_WAKES ? 2'000 : 10'000};

// A wait that took longer than this was ended by its timeout, not by a wake.
// A delivered wake costs the peer's progress plus one scheduling delay: micro-
// to milliseconds even with 4 threads on the shared 2 cores (a CFS period is
// ≤ 24 ms), so 1 s is ~40x the worst honest case and 10x below kWakeTimeout.
// Sanitizer builds run the peers 5-20x slower: 2 s there, still 5x below.
inline constexpr milliseconds kSlowWake{TRIPTYCH_SANITIZED ? 2'000 : 1'000};

static_assert(kSlowWake * 2 <= kWakeTimeout,
              "a lost wake must exceed the slow bound by a wide margin in every build");

// How long a stream test's side pauses so that its peer falls asleep in the
// kernel rather than finishing inside its spin phase. The negative-check build
// pauses longer: it must see at least one real sleep even when a loaded
// machine deschedules the peer mid-spin (5 ms alone was seen to miss there).
inline constexpr milliseconds kSleepInducingPause{TRIPTYCH_TEST_LOSE_WAKES ? 50 : 5};

// Milliseconds since construction; gtest prints integers, not durations.
class Stopwatch {
 public:
  Stopwatch() noexcept : start_(Clock::now()) {}
  [[nodiscard]] std::int64_t ms() const noexcept {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - start_).count();
  }
  [[nodiscard]] bool slow() const noexcept { return Clock::now() - start_ > kSlowWake; }

 private:
  Clock::time_point start_;
};

inline constexpr std::int64_t kSlowWakeMs = kSlowWake.count();

// The calling thread's kernel id, for the "asleep" probe below.
[[nodiscard]] inline pid_t this_tid() noexcept { return static_cast<pid_t>(syscall(SYS_gettid)); }

// True if the task behind `proc_syscall_path` (/proc/self/task/<tid>/syscall,
// or /proc/<pid>/syscall for a child's main thread) is blocked in futex() on
// `word`: the kernel prints the syscall number, then its first argument.
[[nodiscard]] inline bool asleep_on(const char* proc_syscall_path, const void* word) noexcept {
  std::FILE* f = std::fopen(proc_syscall_path, "r");
  if (f == nullptr) return false;
  long nr = -1;
  unsigned long long arg0 = 0;
  const int fields = std::fscanf(f, "%ld %llx", &nr, &arg0);
  std::fclose(f);
  return fields == 2 && nr == SYS_futex && arg0 == reinterpret_cast<std::uintptr_t>(word);
}

// Polls until thread `tid` of this process (or, with `is_process`, the main
// thread of process `tid`) sleeps in the kernel on `word`, so that the next
// wake is the only way it can return before its timeout. "Registered as a
// waiter" is not enough: a waiter that has registered but not yet re-read the
// value sees the change and never sleeps, and the test would then pass with
// every wake lost. False if it was not seen asleep within `limit`.
[[nodiscard]] inline bool wait_until_asleep(pid_t tid, const void* word, bool is_process = false,
                                            milliseconds limit = kWakeTimeout / 2) {
  char path[64];
  if (is_process) std::snprintf(path, sizeof path, "/proc/%d/syscall", static_cast<int>(tid));
  else std::snprintf(path, sizeof path, "/proc/self/task/%d/syscall", static_cast<int>(tid));
  const auto until = Clock::now() + limit;
  while (!asleep_on(path, word)) {
    if (Clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace triptych::wake_test
