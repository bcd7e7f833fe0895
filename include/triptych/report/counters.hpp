// SPDX-License-Identifier: Apache-2.0
// System counters per thread and per run: context switches
// (getrusage RUSAGE_THREAD), CPU migrations (perf_event_open software counter,
// else /proc/thread-self/sched), CPU time, time spent in futex waits (through
// timed_wait(), a measuring wrapper around triptych::wait), and optionally the
// perf_event_open hardware counters (cycles, instructions, cache misses). A
// ThreadProbe lives on the thread it measures; it allocates nothing and opens
// file descriptors only at construction. Blocking only where timed_wait blocks.
// Design and the 5% contention flag: docs/tracing.md ("System counters").
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string>

#include "triptych/sync/futex.hpp"
#include "triptych/trace/thread_counters.hpp"

namespace triptych::report {

// Whole-process counters (getrusage RUSAGE_SELF) across a run.
struct ProcessCounters {
  std::uint64_t wall_ns = 0;
  std::uint64_t user_ns = 0;
  std::uint64_t system_ns = 0;
  std::uint64_t voluntary_switches = 0;
  std::uint64_t involuntary_switches = 0;
  std::uint64_t max_rss_kib = 0;
};

// Measures the calling thread from construction to finish(). Not thread-safe:
// construct, finish and destroy it on the same thread.
class ThreadProbe {
 public:
  ThreadProbe() noexcept;
  ~ThreadProbe();
  ThreadProbe(const ThreadProbe&) = delete;
  ThreadProbe& operator=(const ThreadProbe&) = delete;

  // The counters since construction. Also stores them with this thread's
  // trace (spans.hpp) so collect_threads() reports them by thread name.
  trace::ThreadCounters finish() noexcept;

 private:
  struct Sample {
    std::uint64_t wall_ns, user_ns, system_ns, nvcsw, nivcsw, migrations, wait_ns, wait_calls,
        idle_ns;
    std::array<std::uint64_t, 3> hw;
  };
  [[nodiscard]] Sample sample() const noexcept;

  int migration_fd_ = -1;
  bool proc_migrations_ = false;
  std::array<int, 3> hw_fds_{-1, -1, -1};
  Sample start_{};
};

// Samples the process at construction; finish() gives the deltas.
class ProcessProbe {
 public:
  ProcessProbe() noexcept;
  [[nodiscard]] ProcessCounters finish() const noexcept;

 private:
  ProcessCounters start_{};
};

// Why a thread waits: kContention (for a peer to release or make room: the
// review's "lock contention", flagged past 5%) or kIdle (for new work: an idle
// stage, reported but never flagged).
enum class WaitKind { kContention, kIdle };

// triptych::wait, timed: adds the time spent inside it to the calling thread's
// total for `kind` (read by ThreadProbe). Same contract as wait(); the extra
// cost is two clock reads. Lets the report show lock contention without
// touching the futex itself.
WaitStatus timed_wait(WaitWord& ww, std::uint32_t expected, std::chrono::nanoseconds timeout,
                      SpinPolicy policy = {}, WaitKind kind = WaitKind::kContention) noexcept;

// This thread's futex-wait totals so far (timed_wait only).
[[nodiscard]] std::uint64_t thread_futex_wait_ns() noexcept;
[[nodiscard]] std::uint64_t thread_idle_wait_ns() noexcept;
[[nodiscard]] std::uint64_t thread_futex_wait_calls() noexcept;

// Why hardware counters are missing ("perf_event_open(cycles): No such file or
// directory"), or empty when they opened. The first refusal is also printed
// once to stderr; later ones are silent.
[[nodiscard]] std::string hw_counters_note();

}  // namespace triptych::report
