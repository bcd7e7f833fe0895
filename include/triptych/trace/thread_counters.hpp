// SPDX-License-Identifier: Apache-2.0
// One thread's system counters over a span of its life, as plain numbers: the
// record the trace layer keeps with each thread's spans (spans.hpp) and the
// report layer fills in (report/counters.hpp, ThreadProbe) and exports. A
// value type: no threads, no blocking. Design: docs/tracing.md ("System
// counters").
#pragma once

#include <cstdint>

namespace triptych::trace {

// The review's redesign threshold: lock contention over 5% of the time.
inline constexpr double kFutexWaitShareFlag = 0.05;

struct ThreadCounters {
  std::uint64_t wall_ns = 0;               // between the probe's start and finish
  std::uint64_t user_ns = 0;               // CPU time in user mode
  std::uint64_t system_ns = 0;             // CPU time in the kernel
  std::uint64_t voluntary_switches = 0;    // blocked (futex sleep, I/O, nanosleep)
  std::uint64_t involuntary_switches = 0;  // preempted
  std::uint64_t cpu_migrations = 0;
  bool migrations_available = false;
  std::uint64_t futex_wait_ns = 0;  // timed_wait(kContention): spin, yield and sleep
  std::uint64_t futex_wait_calls = 0;
  std::uint64_t idle_wait_ns = 0;  // timed_wait(kIdle): waiting for work, not contention
  bool hw_available = false;       // perf_event_open hardware counters opened
  std::uint64_t cycles = 0;
  std::uint64_t instructions = 0;
  std::uint64_t cache_misses = 0;

  // Share of wall time spent waiting on futexes; the report flags it past kFutexWaitShareFlag.
  [[nodiscard]] double futex_wait_share() const noexcept {
    return wall_ns == 0 ? 0.0 : static_cast<double>(futex_wait_ns) / static_cast<double>(wall_ns);
  }
};

}  // namespace triptych::trace
