// SPDX-License-Identifier: Apache-2.0
// Scheduler benchmarks, each against oneTBB (and OpenMP) in the same run,
// all threads pinned to the CPUs given as arguments (default 0 1):
//  1. fine-grained parallel_for over a memory-light kernel: time per frame;
//  2. frame dispatch latency from idle: "frame starts" to every worker
//     running, p50/p99 (the raw futex wake floor is measured beside it);
//  3. CPU use of an idle, parked pool;
//  4. with --sweep: parallel efficiency at 1, 2, 4, 8, 12, 16 workers.
// Prints ratios triptych / TBB (< 1.0 is faster). Single-threaded driver.
// See docs/scheduler.md and docs/BENCHMARKS.md.
#include <omp.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <tbb/blocked_range.h>
#include <tbb/parallel_for.h>
#include <tbb/partitioner.h>
#include <tbb/task_arena.h>
#include <tbb/task_scheduler_observer.h>

#include "triptych/sched/pool.hpp"
#include "triptych/sync/futex.hpp"
#include "bench_pin.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using triptych::sched::AffinityPartitioner;
using triptych::sched::Pool;
using triptych::sched::PoolConfig;

void pin(std::uint32_t cpu) { triptych::bench::pin_or_warn(static_cast<int>(cpu)); }

double ns_since(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

double pct(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(p * static_cast<double>(v.size())))];
}

// Pins TBB's threads in the arena to our CPU list, round robin.
class TbbPinner : public tbb::task_scheduler_observer {
 public:
  TbbPinner(tbb::task_arena& a, std::vector<std::uint32_t> cpus)
      : tbb::task_scheduler_observer(a), cpus_(std::move(cpus)) {
    observe(true);
  }
  ~TbbPinner() override { observe(false); }
  void on_scheduler_entry(bool) override {
    pin(cpus_[next_.fetch_add(1, std::memory_order_relaxed) % cpus_.size()]);
  }

 private:
  std::vector<std::uint32_t> cpus_;
  std::atomic<std::size_t> next_{0};
};

// The memory-light kernel: a few flops per element over an L2-sized array.
void kernel(float* a, std::size_t b, std::size_t e) {
  for (std::size_t i = b; i < e; ++i) a[i] = a[i] * 0.999f + std::sqrt(static_cast<float>(i & 255));
}

struct Fine {
  double triptych_ns, tbb_ns, omp_ns;
};

Fine fine_grained(const std::vector<std::uint32_t>& cpus, std::size_t n, std::size_t grain, int frames) {
  std::vector<float> a(n, 1.0f);
  const int workers = static_cast<int>(cpus.size());
  PoolConfig c;
  c.name = "bench";
  c.cpus = cpus;
  auto pool = std::move(Pool::create(c)).value();
  AffinityPartitioner part;
  std::vector<double> t_ours, t_tbb, t_omp;
  for (int f = 0; f < frames; ++f) {
    const auto t0 = Clock::now();
    pool->parallel_for(0, n, grain, [&](std::size_t b, std::size_t e) { kernel(a.data(), b, e); }, &part);
    t_ours.push_back(ns_since(t0));
  }
  pool.reset();
  tbb::task_arena arena(workers, 1);
  TbbPinner pinner(arena, cpus);
  tbb::affinity_partitioner ap;
  for (int f = 0; f < frames; ++f) {
    const auto t0 = Clock::now();
    arena.execute([&] {
      tbb::parallel_for(tbb::blocked_range<std::size_t>(0, n, grain),
                        [&](const tbb::blocked_range<std::size_t>& r) { kernel(a.data(), r.begin(), r.end()); }, ap);
    });
    t_tbb.push_back(ns_since(t0));
  }
  omp_set_num_threads(workers);
#pragma omp parallel
  pin(cpus[static_cast<std::size_t>(omp_get_thread_num()) % cpus.size()]);
  for (int f = 0; f < frames; ++f) {
    const auto t0 = Clock::now();
    const long long nn = static_cast<long long>(n);
    const long long g = static_cast<long long>(grain);
#pragma omp parallel for schedule(dynamic, 1)
    for (long long b = 0; b < nn; b += g) {
      kernel(a.data(), static_cast<std::size_t>(b), static_cast<std::size_t>(std::min(nn, b + g)));
    }
    t_omp.push_back(ns_since(t0));
  }
  return {pct(t_ours, 0.5), pct(t_tbb, 0.5), pct(t_omp, 0.5)};
}

// Time from "frame starts" until every one of `workers` chunks is running on
// its own thread, starting from a parked pool.
void dispatch_latency(const std::vector<std::uint32_t>& cpus, int samples) {
  const std::size_t w = cpus.size();
  std::vector<double> ours, tbb_lat;
  {
    PoolConfig c;
    c.name = "lat";
    c.cpus = cpus;
    auto pool = std::move(Pool::create(c)).value();
    for (int s = 0; s < samples; ++s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));  // workers park
      std::atomic<std::size_t> started{0};
      std::atomic<std::int64_t> last{0};
      const auto t0 = Clock::now();
      pool->parallel_for(0, w, 1, [&](std::size_t, std::size_t) {
        const auto dt = static_cast<std::int64_t>(ns_since(t0));
        std::int64_t prev = last.load(std::memory_order_relaxed);
        while (prev < dt && !last.compare_exchange_weak(prev, dt, std::memory_order_relaxed)) {
        }
        started.fetch_add(1, std::memory_order_acq_rel);
        const auto give_up = Clock::now() + std::chrono::milliseconds(50);
        while (started.load(std::memory_order_acquire) < w && Clock::now() < give_up) triptych::cpu_relax();
      });
      ours.push_back(static_cast<double>(last.load(std::memory_order_acquire)));
    }
  }
  {
    tbb::task_arena arena(static_cast<int>(w), 1);
    TbbPinner pinner(arena, cpus);
    for (int s = 0; s < samples; ++s) {
      std::this_thread::sleep_for(std::chrono::milliseconds(3));
      std::atomic<std::size_t> started{0};
      std::atomic<std::int64_t> last{0};
      const auto t0 = Clock::now();
      arena.execute([&] {
        tbb::parallel_for(tbb::blocked_range<std::size_t>(0, w, 1), [&](const tbb::blocked_range<std::size_t>&) {
          const auto dt = static_cast<std::int64_t>(ns_since(t0));
          std::int64_t prev = last.load(std::memory_order_relaxed);
          while (prev < dt && !last.compare_exchange_weak(prev, dt, std::memory_order_relaxed)) {
          }
          started.fetch_add(1, std::memory_order_acq_rel);
          const auto give_up = Clock::now() + std::chrono::milliseconds(50);
          while (started.load(std::memory_order_acquire) < w && Clock::now() < give_up) triptych::cpu_relax();
        }, tbb::simple_partitioner());
      });
      tbb_lat.push_back(static_cast<double>(last.load(std::memory_order_acquire)));
    }
  }
  // The floor: one futex wake of a sleeping waiter, to running.
  std::vector<double> floor;
  for (int s = 0; s < samples; ++s) {
    triptych::WaitWord ww;
    std::atomic<std::int64_t> woke{0};
    Clock::time_point t0;
    std::thread waiter([&] {
      pin(cpus.back());
      (void)triptych::wait(ww, 0, std::chrono::seconds(1), triptych::kNoSpin);
      woke.store(static_cast<std::int64_t>(ns_since(t0)), std::memory_order_release);
    });
    while (ww.waiters.load(std::memory_order_acquire) == 0) std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    t0 = Clock::now();
    (void)triptych::store_and_wake(ww, 1, 1);
    waiter.join();
    floor.push_back(static_cast<double>(woke.load(std::memory_order_acquire)));
  }
  std::printf("dispatch from idle to %zu workers running: triptych p50 %.1f us p99 %.1f us | "
              "TBB p50 %.1f us p99 %.1f us | ratio p50 %.2f | futex wake floor p50 %.1f us\n",
              w, pct(ours, 0.5) / 1e3, pct(ours, 0.99) / 1e3, pct(tbb_lat, 0.5) / 1e3, pct(tbb_lat, 0.99) / 1e3,
              pct(ours, 0.5) / pct(tbb_lat, 0.5), pct(floor, 0.5) / 1e3);
}

long thread_ticks(int tid) {
  std::ifstream f("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string s;
  std::getline(f, s);
  std::istringstream in(s.substr(s.rfind(')') + 2));
  std::string field;
  long t = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14 || i == 15) t += std::stol(field);
  }
  return t;
}

void idle_cpu(const std::vector<std::uint32_t>& cpus) {
  PoolConfig c;
  c.name = "idle";
  c.cpus = cpus;
  auto pool = std::move(Pool::create(c)).value();
  const auto tids = pool->thread_ids();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  long before = 0;
  for (int t : tids) before += thread_ticks(t);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  long after = 0;
  for (int t : tids) after += thread_ticks(t);
  const double pct_cpu = 100.0 * static_cast<double>(after - before) /
                         (2.0 * static_cast<double>(sysconf(_SC_CLK_TCK)) * static_cast<double>(tids.size()));
  std::printf("idle parked pool: %.2f%% CPU per worker over 2 s (%ld ticks, %zu workers)\n", pct_cpu,
              after - before, tids.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::uint32_t> cpus;
  bool sweep = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--sweep") == 0) {
      sweep = true;
    } else {
      cpus.push_back(static_cast<std::uint32_t>(std::strtoul(argv[i], nullptr, 10)));
    }
  }
  if (cpus.empty()) cpus = {0, 1};
  // The driver stays unpinned until the OpenMP section: TBB sizes its worker
  // limit from the affinity mask it sees at start-up.
  const std::size_t n = std::size_t{1} << 18;
  for (std::size_t grain : {std::size_t{256}, std::size_t{1024}, std::size_t{4096}}) {
    const Fine f = fine_grained(cpus, n, grain, 300);
    std::printf("parallel_for n=%zu grain=%zu on %zu CPUs: triptych %.1f us, TBB %.1f us, OpenMP %.1f us; "
                "triptych/TBB %.2f, triptych/OpenMP %.2f\n",
                n, grain, cpus.size(), f.triptych_ns / 1e3, f.tbb_ns / 1e3, f.omp_ns / 1e3, f.triptych_ns / f.tbb_ns,
                f.triptych_ns / f.omp_ns);
  }
  dispatch_latency(cpus, 200);
  idle_cpu(cpus);
  if (sweep) {
    const std::size_t big = std::size_t{1} << 22;
    double t1 = 0;
    for (std::size_t w : {1u, 2u, 4u, 8u, 12u, 16u}) {
      if (w > cpus.size()) break;
      std::vector<std::uint32_t> sub(cpus.begin(), cpus.begin() + static_cast<long>(w));
      const Fine f = fine_grained(sub, big, 16384, 50);
      if (w == 1) t1 = f.triptych_ns;
      std::printf("sweep %2zu workers: triptych %.1f us (efficiency %.0f%%), TBB %.1f us\n", w, f.triptych_ns / 1e3,
                  100.0 * t1 / (f.triptych_ns * static_cast<double>(w)), f.tbb_ns / 1e3);
    }
  }
  return 0;
}
