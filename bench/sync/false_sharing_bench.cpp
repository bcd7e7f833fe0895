// SPDX-License-Identifier: Apache-2.0
// False sharing: two threads pinned to the CPUs from argv (default 0 1) each
// increment only their own counter, with the two counters on separate 64-byte
// lines (padded, as the arena lays out hot atomics) or on one line
// (unpadded). Prints increments per second and the padded/unpadded ratio,
// for an atomic RMW (fetch_add) and for the single-writer load+store that
// TripleBuffer's counters use. The median of kRounds runs is reported.
// See docs/sync.md ("Triple buffer", why the control block has four lines).
#include <algorithm>
#include <thread>

#include "sync/harness.hpp"

namespace triptych::bench {
namespace {

constexpr std::uint64_t kRunNs = 150'000'000;
constexpr int kRounds = 5;
constexpr int kStopCheckEvery = 1024;

struct alignas(kCacheLine) Padded {
  alignas(kCacheLine) std::atomic<std::uint64_t> a{0};
  alignas(kCacheLine) std::atomic<std::uint64_t> b{0};
};
struct alignas(kCacheLine) Unpadded {
  std::atomic<std::uint64_t> a{0};
  std::atomic<std::uint64_t> b{0};
};
static_assert(sizeof(Padded) == 2 * kCacheLine, "padded counters sit on two lines");
static_assert(sizeof(Unpadded) == kCacheLine, "unpadded counters share one line");

enum class Kind { kFetchAdd, kLoadStore };

// Returns the thread's CPU share over the run.
double hammer(std::atomic<std::uint64_t>& c, const std::atomic<bool>& stop, Kind kind) {
  const CpuShare share;
  for (;;) {
    for (int i = 0; i < kStopCheckEvery; ++i) {
      if (kind == Kind::kFetchAdd) {
        c.fetch_add(1, std::memory_order_relaxed);
      } else {
        c.store(c.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      }
    }
    if (stop.load(std::memory_order_relaxed)) return share.share();
  }
}

// The lowest CPU share any hammering thread had, over the whole run.
double g_min_share = 1.0;

// Increments per second, both threads together.
template <class Counters>
double one_round(const Cpus& cpus, Kind kind) {
  Counters counters;
  alignas(kCacheLine) std::atomic<bool> stop{false};
  StartLine line;
  double s1 = 0, s2 = 0;
  std::thread t1([&] {
    pin_this_thread(cpus.a);
    line.arrive_and_wait();
    s1 = hammer(counters.a, stop, kind);
  });
  std::thread t2([&] {
    pin_this_thread(cpus.b);
    line.arrive_and_wait();
    s2 = hammer(counters.b, stop, kind);
  });
  const std::uint64_t t0 = now_ns();
  spin_for_ns(kRunNs);
  stop.store(true, std::memory_order_relaxed);
  t1.join();
  t2.join();
  g_min_share = std::min({g_min_share, s1, s2});
  const double secs = static_cast<double>(now_ns() - t0) * 1e-9;
  return static_cast<double>(counters.a.load(std::memory_order_relaxed) +
                             counters.b.load(std::memory_order_relaxed)) /
         secs;
}

template <class Counters>
double median_rate(const Cpus& cpus, Kind kind) {
  std::vector<double> r;
  for (int i = 0; i < kRounds; ++i) r.push_back(one_round<Counters>(cpus, kind));
  return summarize(r).p50;
}

int run(int argc, char** argv) {
  const Cpus cpus = parse_cpus(argc, argv);
  std::printf(
      "False sharing: two threads on CPUs %d and %d, each incrementing its own counter\n"
      "(median of %d runs of %llu ms)\n\n",
      cpus.a, cpus.b, kRounds, static_cast<unsigned long long>(kRunNs / 1'000'000));
  std::printf("  %-36s %14s %14s %8s\n", "increment", "padded ops/s", "unpadded ops/s", "ratio");
  for (const Kind kind : {Kind::kFetchAdd, Kind::kLoadStore}) {
    const double padded = median_rate<Padded>(cpus, kind);
    const double unpadded = median_rate<Unpadded>(cpus, kind);
    std::printf("  %-36s %14.3e %14.3e %7.1fx\n",
                kind == Kind::kFetchAdd ? "fetch_add(relaxed)" : "load+store (single writer)",
                padded, unpadded, padded / unpadded);
  }
  std::printf("\nratio = padded / unpadded throughput: what one shared line costs.\n");
  warn_if_descheduled(g_min_share, g_min_share);
  return 0;
}

}  // namespace
}  // namespace triptych::bench

int main(int argc, char** argv) {
  return triptych::bench::run(argc, argv);
}
