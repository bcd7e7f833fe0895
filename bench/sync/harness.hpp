// SPDX-License-Identifier: Apache-2.0
// A small harness for the sync benchmarks: CPU pinning from argv, a start
// line both threads cross together, a monotonic nanosecond clock, and
// percentile summaries printed as one table row each. Not thread-safe except
// StartLine; each benchmark thread pins itself. Results are compared only
// within one run (DESIGN.md §5); docs/sync.md describes what each bench shows.
#pragma once

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "triptych/core/config.hpp"
#include "triptych/sync/futex.hpp"
#include "bench_pin.hpp"

namespace triptych::bench {

struct Cpus {
  int a = 0;  // writer / producer / pinger
  int b = 1;  // reader / consumer / ponger
};

// argv[1], argv[2]: the two CPUs (default 0 and 1), as run-bench.sh passes them.
inline Cpus parse_cpus(int argc, char** argv) {
  Cpus c;
  if (argc > 1) c.a = std::atoi(argv[1]);
  if (argc > 2) c.b = std::atoi(argv[2]);
  return c;
}

// Pins the calling thread; a failure is reported, not fatal (the numbers are
// then for unpinned threads, and the line says so).
inline void pin_this_thread(int cpu) { triptych::bench::pin_or_warn(cpu); }

inline std::uint64_t now_ns() noexcept {
  return static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                        std::chrono::steady_clock::now().time_since_epoch())
                                        .count());
}

// CPU time the calling thread has used. A pinned benchmark thread that got
// much less CPU than wall time was descheduled: its figures are not clean.
inline std::uint64_t thread_cpu_ns() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<std::uint64_t>(ts.tv_sec) * 1'000'000'000u +
         static_cast<std::uint64_t>(ts.tv_nsec);
}

// Measures a thread's share of the CPU between construction and share().
class CpuShare {
 public:
  CpuShare() noexcept : wall0_(now_ns()), cpu0_(thread_cpu_ns()) {}
  [[nodiscard]] double share() const noexcept {
    const std::uint64_t wall = now_ns() - wall0_;
    return wall ? static_cast<double>(thread_cpu_ns() - cpu0_) / static_cast<double>(wall) : 1.0;
  }

 private:
  std::uint64_t wall0_;
  std::uint64_t cpu0_;
};

// Prints a warning when a two-thread measurement's threads did not really
// run side by side (a busy machine): the ratios then understate contention.
inline void warn_if_descheduled(double share_a, double share_b) {
  constexpr double kCleanShare = 0.9;
  if (share_a < kCleanShare || share_b < kCleanShare) {
    std::printf(
        "  warning: the threads had %.0f%% and %.0f%% of a CPU (machine busy); "
        "two-thread figures are not clean\n",
        100.0 * share_a, 100.0 * share_b);
  }
}

// Busy-waits (no syscall, no sleep) for `ns`; lets a peer fall asleep.
inline void spin_for_ns(std::uint64_t ns) noexcept {
  const std::uint64_t end = now_ns() + ns;
  while (now_ns() < end) cpu_relax();
}

// Two threads arrive; both leave together, so neither measures the other's
// thread start-up.
class StartLine {
 public:
  void arrive_and_wait() noexcept {
    // SYNC(start-line): release/acquire so set-up before the line is visible after it.
    arrived_.fetch_add(1, std::memory_order_acq_rel);
    while (arrived_.load(std::memory_order_acquire) < 2) cpu_relax();
  }

 private:
  std::atomic<int> arrived_{0};
};

// Page-aligned heap memory standing in for an arena.
class Arena {
 public:
  explicit Arena(std::size_t n)
      : size_(n),
        mem_(static_cast<std::byte*>(std::aligned_alloc(kPageSize, align_up(n, kPageSize)))) {}
  ~Arena() { std::free(mem_); }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  [[nodiscard]] std::byte* base() const noexcept { return mem_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  std::size_t size_;
  std::byte* mem_;
};

struct Summary {
  double p50 = 0;
  double p99 = 0;
  double mean = 0;
  std::size_t n = 0;
};

inline Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  const auto at = [&](double q) {
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
  };
  s.p50 = at(0.50);
  s.p99 = at(0.99);
  double sum = 0;
  for (double x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size());
  s.n = v.size();
  return s;
}

inline void print_header(const char* title, const char* unit) {
  std::printf("\n%s\n  %-44s %10s %10s %10s %8s\n", title, "case",
              (std::string("p50 ") + unit).c_str(), (std::string("p99 ") + unit).c_str(),
              (std::string("mean ") + unit).c_str(), "n");
}

inline void print_row(const std::string& name, const Summary& s) {
  std::printf("  %-44s %10.1f %10.1f %10.1f %8zu\n", name.c_str(), s.p50, s.p99, s.mean, s.n);
}

}  // namespace triptych::bench
