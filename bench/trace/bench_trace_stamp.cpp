// SPDX-License-Identifier: Apache-2.0
// What tracing costs the thread that stamps: ns per TRIPTYCH_STAMP (enabled,
// and switched off at run time), per begin_frame, per TRIPTYCH_SPAN, beside
// the clock read alone and the naive peer (steady_clock + a mutex-guarded
// vector), uncontended on CPU A and contended (two threads on CPUs A and B
// stamping the same records). Prints p50/p99 of 1000-op batches and ratios.
// Usage: bench_trace_stamp [cpuA=0] [cpuB=1]. docs/tracing.md ("Cost").
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

#include "triptych/trace/trace.hpp"
#include "bench_pin.hpp"

namespace {

using namespace triptych::trace;

constexpr int kBatch = 1000;
constexpr int kBatches = 2000;

void pin(int cpu) { triptych::bench::pin_or_warn(cpu); }

struct Cost {
  double p50, p99;
};

// Runs body(kBatch) kBatches times; ns per op at p50 and p99 of the batches.
template <class Fn>
Cost measure(Fn&& body) {
  std::vector<double> per_op;
  per_op.reserve(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    const std::uint64_t t0 = now_ns();
    body(kBatch);
    per_op.push_back(static_cast<double>(now_ns() - t0) / kBatch);
  }
  std::sort(per_op.begin(), per_op.end());
  return {per_op[per_op.size() / 2], per_op[per_op.size() * 99 / 100]};
}

FrameTraceTable make_table(std::uint32_t capacity) {
  const std::size_t bytes = FrameTraceTable::required_bytes(capacity);
  void* mem = std::aligned_alloc(64, bytes);  // lives for the whole run
  auto t = FrameTraceTable::create(mem, bytes, capacity);
  if (!t) {
    std::fprintf(stderr, "%s\n", t.error().what().c_str());
    std::exit(1);
  }
  return t.value();
}

void row(const char* name, Cost c, double ref) {
  std::printf("%-44s p50 %7.1f ns   p99 %7.1f ns   x%.2f vs naive\n", name, c.p50, c.p99,
              c.p50 / ref);
}

}  // namespace

int main(int argc, char** argv) {
  const int cpu_a = argc > 1 ? std::atoi(argv[1]) : 0;
  const int cpu_b = argc > 2 ? std::atoi(argv[2]) : 1;
  pin(cpu_a);
  register_thread("bench");
  FrameTraceTable table = make_table(1u << 12);

  // Peer: what a naive tracer does, a clock read and a locked append.
  std::mutex mu;
  std::vector<std::pair<std::uint64_t, std::uint64_t>> log;
  log.reserve(static_cast<std::size_t>(kBatch) * kBatches + 16);
  const Cost naive = measure([&](int n) {
    for (int i = 0; i < n; ++i) {
      const auto t =
          static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
      const std::lock_guard lock(mu);
      log.emplace_back(static_cast<std::uint64_t>(i), t);
    }
  });
  const Cost clock = measure([](int n) {
    std::uint64_t sink = 0;
    for (int i = 0; i < n; ++i) sink += now_ns();
    if (sink == 1) std::puts("");
  });
  const Cost begin = measure([&](int n) {
    for (int i = 0; i < n; ++i) (void)table.begin_frame(now_ns());
  });
  // Five stamps per frame; begin_frame's share is subtracted below.
  const Cost begin_and_5 = measure([&](int n) {
    for (int i = 0; i < n; i += 5) {
      const std::uint64_t f = table.begin_frame(now_ns());
      TRIPTYCH_STAMP(table, f, Stage::kComputeStart);
      TRIPTYCH_STAMP(table, f, Stage::kComputeEnd);
      TRIPTYCH_STAMP(table, f, Stage::kRenderStart);
      TRIPTYCH_STAMP(table, f, Stage::kRenderEnd);
      TRIPTYCH_STAMP(table, f, Stage::kPresented);
    }
  });
  const Cost stamp{begin_and_5.p50 - begin.p50 / 5, begin_and_5.p99 - begin.p99 / 5};
  set_enabled(false);
  const std::uint64_t off_frame = table.begin_frame(now_ns());
  const Cost stamp_off = measure([&](int n) {
    for (int i = 0; i < n; ++i) TRIPTYCH_STAMP(table, off_frame, Stage::kComputeStart);
  });
  set_enabled(true);
  const Cost span = measure([](int n) {
    for (int i = 0; i < n; ++i) {
      TRIPTYCH_SPAN("bench span");
    }
    (void)collect_threads();  // keep the ring from filling (counted in the batch: an upper bound)
  });

  // Contended: thread B stamps render stages of the frames A opened, on the same lines.
  FrameTraceTable shared = make_table(1u << 10);
  std::atomic<std::uint64_t> opened{0};
  std::atomic<bool> stop{false};
  std::thread other([&] {
    pin(cpu_b);
    std::uint64_t next = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      // SYNC(bench-open): acquire pairs with the opener's release.
      const std::uint64_t upto = opened.load(std::memory_order_acquire);
      for (; next < upto; ++next) TRIPTYCH_STAMP(shared, next, Stage::kRenderStart);
    }
  });
  const Cost contended = measure([&](int n) {
    for (int i = 0; i < n; i += 2) {
      const std::uint64_t f = shared.begin_frame(now_ns());
      // SYNC(bench-open): publishes the opened record to thread B.
      opened.store(f + 1, std::memory_order_release);
      TRIPTYCH_STAMP(shared, f, Stage::kComputeStart);
    }
  });
  stop.store(true, std::memory_order_relaxed);
  other.join();

  std::printf("trace cost on CPU %d (contended peer on CPU %d), %d batches of %d ops\n", cpu_a,
              cpu_b, kBatches, kBatch);
  row("naive: steady_clock + mutex + vector (peer)", naive, naive.p50);
  row("now_ns() (CLOCK_MONOTONIC, vDSO)", clock, naive.p50);
  row("TRIPTYCH_STAMP, enabled", stamp, naive.p50);
  row("TRIPTYCH_STAMP, switched off at run time", stamp_off, naive.p50);
  row("begin_frame (producer, resets one line)", begin, naive.p50);
  row("TRIPTYCH_SPAN, enabled (2 clock reads+push)", span, naive.p50);
  row("begin_frame+stamp, peer stamping same lines", contended, naive.p50);
  std::printf("stamp overhead beyond the clock read: %.1f ns (p50)\n", stamp.p50 - clock.p50);
  return 0;
}
