// SPDX-License-Identifier: Apache-2.0
// Ring benchmark harness: SpscRing against boost::lockfree::spsc_queue
// (throughput and ping-pong round trip), MpmcRing against
// moodycamel::ConcurrentQueue and boost::lockfree::queue (1p1c, 2p2c,
// uncontended). Threads are pinned to the CPUs given as argv[1] and argv[2]
// (default 0 and 1); each figure is the median of several repetitions, and
// ratios come from the same run. Usage: bench_ring [cpu_a cpu_b] [--quick].
// Single-process, blocking only in thread joins. See docs/rings.md.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <boost/lockfree/queue.hpp>
#include <boost/lockfree/spsc_queue.hpp>
#include <chrono>
#include <concurrentqueue/concurrentqueue.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"
#include "bench_pin.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using triptych::MpmcRing;
using triptych::SpscRing;

int g_cpu[2] = {0, 1};

void pin(int cpu) { triptych::bench::pin_or_warn(cpu); }

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Arena stand-in: 64-byte-aligned memory that owns a ring's bytes.
struct Zone {
  explicit Zone(std::size_t bytes)
      : mem(static_cast<std::byte*>(std::aligned_alloc(64, triptych::align_up(bytes, 64)))) {
    std::memset(mem, 0, triptych::align_up(bytes, 64));
  }
  ~Zone() { std::free(mem); }
  Zone(const Zone&) = delete;
  Zone& operator=(const Zone&) = delete;
  std::byte* mem;
};

// --- adapters: one shape for every queue under test ---

struct OursSpsc {
  explicit OursSpsc(std::uint32_t cap)
      : zone(SpscRing<std::uint64_t>::required_bytes(cap)),
        q(SpscRing<std::uint64_t>::create(zone.mem, SpscRing<std::uint64_t>::required_bytes(cap), cap)
              .value()) {}
  bool push(std::uint64_t v) { return q.try_push(v); }
  bool pop(std::uint64_t& v) { return q.try_pop(v); }
  Zone zone;
  SpscRing<std::uint64_t> q;
};

struct BoostSpsc {
  explicit BoostSpsc(std::uint32_t cap) : q(cap) {}
  bool push(std::uint64_t v) { return q.push(v); }
  bool pop(std::uint64_t& v) { return q.pop(v); }
  boost::lockfree::spsc_queue<std::uint64_t> q;
};

struct OursMpmc {
  explicit OursMpmc(std::uint32_t cap)
      : zone(MpmcRing<std::uint64_t>::required_bytes(cap)),
        q(MpmcRing<std::uint64_t>::create(zone.mem, MpmcRing<std::uint64_t>::required_bytes(cap), cap)
              .value()) {}
  struct Handle {
    OursMpmc& o;
    bool push(std::uint64_t v) { return o.q.try_push(v); }
    bool pop(std::uint64_t& v) { return o.q.try_pop(v); }
  };
  Handle producer() { return Handle{*this}; }
  Handle consumer() { return Handle{*this}; }
  Zone zone;
  MpmcRing<std::uint64_t> q;
};

// moodycamel with tokens, its recommended fast path. It is unbounded:
// try_enqueue never allocates, but it also fails for good once a producer's
// block index is full, which wedges a bounded-style loop; so this uses
// enqueue (pre-sized, so it rarely allocates). Ours and boost are bounded.
struct Moody {
  explicit Moody(std::uint32_t cap) : q(cap * 4) {}
  struct Producer {
    Moody& m;
    moodycamel::ProducerToken tok;
    bool push(std::uint64_t v) { return m.q.enqueue(tok, v); }
  };
  struct Consumer {
    Moody& m;
    moodycamel::ConsumerToken tok;
    bool pop(std::uint64_t& v) { return m.q.try_dequeue(tok, v); }
  };
  Producer producer() { return Producer{*this, moodycamel::ProducerToken(q)}; }
  Consumer consumer() { return Consumer{*this, moodycamel::ConsumerToken(q)}; }
  moodycamel::ConcurrentQueue<std::uint64_t> q;
};

// boost::lockfree::queue with a fixed node pool: bounded_push never allocates.
struct BoostMpmc {
  explicit BoostMpmc(std::uint32_t cap) : q(cap) {}
  struct Handle {
    BoostMpmc& b;
    bool push(std::uint64_t v) { return b.q.bounded_push(v); }
    bool pop(std::uint64_t& v) { return b.q.pop(v); }
  };
  Handle producer() { return Handle{*this}; }
  Handle consumer() { return Handle{*this}; }
  boost::lockfree::queue<std::uint64_t> q;
};

// --- SPSC ---

template <class Q>
double spsc_throughput(std::uint64_t n) {
  Q q(65536);
  std::uint64_t bad = 0;
  std::thread consumer([&] {
    pin(g_cpu[1]);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = 0;
      while (!q.pop(v)) triptych::cpu_relax();
      bad += v != i;
    }
  });
  pin(g_cpu[0]);
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i)
    while (!q.push(i)) triptych::cpu_relax();
  consumer.join();
  const double s = seconds_since(t0);
  if (bad != 0) std::fprintf(stderr, "error: %llu out-of-order items\n", static_cast<unsigned long long>(bad));
  return static_cast<double>(n) / s;
}

// Ours with 32-element batches: what a caller who can batch gets.
double spsc_batch_throughput(std::uint64_t n) {
  OursSpsc q(65536);
  constexpr std::size_t kBatch = 32;
  std::thread consumer([&] {
    pin(g_cpu[1]);
    std::uint64_t buf[kBatch];
    for (std::uint64_t got = 0; got < n;) {
      const std::size_t k = q.q.try_pop_n(std::span<std::uint64_t>(buf, kBatch));
      if (k == 0) triptych::cpu_relax();
      got += k;
    }
  });
  pin(g_cpu[0]);
  std::uint64_t buf[kBatch];
  const auto t0 = Clock::now();
  for (std::uint64_t sent = 0; sent < n;) {
    const std::size_t want = static_cast<std::size_t>(std::min<std::uint64_t>(kBatch, n - sent));
    for (std::size_t i = 0; i < want; ++i) buf[i] = sent + i;
    const std::size_t k = q.q.try_push_n(std::span<const std::uint64_t>(buf, want));
    if (k == 0) triptych::cpu_relax();
    sent += k;
  }
  consumer.join();
  return static_cast<double>(n) / seconds_since(t0);
}

struct Latency {
  double p50;
  double p99;
};

// Round trip: A pushes on ping, B pops and pushes on pong, A pops. Each
// sample includes one steady_clock read (~20 ns), the same for every queue.
template <class Q>
Latency spsc_round_trip(std::uint64_t n) {
  Q ping(1024);
  Q pong(1024);
  std::thread echo([&] {
    pin(g_cpu[1]);
    for (std::uint64_t i = 0; i < n; ++i) {
      std::uint64_t v = 0;
      while (!ping.pop(v)) triptych::cpu_relax();
      while (!pong.push(v)) triptych::cpu_relax();
    }
  });
  pin(g_cpu[0]);
  std::vector<double> ns(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    while (!ping.push(i)) triptych::cpu_relax();
    std::uint64_t v = 0;
    while (!pong.pop(v)) triptych::cpu_relax();
    ns[i] = std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
  }
  echo.join();
  std::sort(ns.begin(), ns.end());
  return Latency{ns[ns.size() / 2], ns[ns.size() * 99 / 100]};
}

// --- MPMC ---

void back_off(bool oversubscribed) {
  if (oversubscribed) {
    sched_yield();
  } else {
    triptych::cpu_relax();
  }
}

// P producers and C consumers; producer k uses CPU g_cpu[k % 2], consumer k
// uses g_cpu[(k + 1) % 2]. With 2 CPUs, 2p2c is oversubscribed: failed ops
// yield so a descheduled peer can run.
template <class Q>
double mpmc_throughput(int producers, int consumers, std::uint64_t per_producer) {
  Q q(65536);
  const std::uint64_t total = per_producer * static_cast<std::uint64_t>(producers);
  std::atomic<std::uint64_t> received{0};
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  const bool oversubscribed = producers + consumers > 2;
  std::vector<std::thread> threads;
  for (int p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      pin(g_cpu[p % 2]);
      auto h = q.producer();
      ready.fetch_add(1, std::memory_order_acq_rel);
      while (!go.load(std::memory_order_acquire)) triptych::cpu_relax();
      for (std::uint64_t i = 0; i < per_producer; ++i)
        while (!h.push(i)) back_off(oversubscribed);
    });
  }
  for (int c = 0; c < consumers; ++c) {
    threads.emplace_back([&, c] {
      pin(g_cpu[(c + 1) % 2]);
      auto h = q.consumer();
      ready.fetch_add(1, std::memory_order_acq_rel);
      while (!go.load(std::memory_order_acquire)) triptych::cpu_relax();
      std::uint64_t local = 0;
      std::uint64_t v = 0;
      while (received.load(std::memory_order_relaxed) < total) {
        if (h.pop(v)) {
          ++local;
          if (local == 64) {
            received.fetch_add(local, std::memory_order_relaxed);
            local = 0;
          }
        } else {
          if (local != 0) {
            received.fetch_add(local, std::memory_order_relaxed);
            local = 0;
          }
          back_off(oversubscribed);
        }
      }
    });
  }
  while (ready.load(std::memory_order_acquire) != producers + consumers) std::this_thread::yield();
  const auto t0 = Clock::now();
  go.store(true, std::memory_order_release);
  for (auto& t : threads) t.join();
  return static_cast<double>(total) / seconds_since(t0);
}

// One thread, push then pop: the cost of an op with no contention (ns/pair).
template <class Q>
double uncontended_ns(std::uint64_t n) {
  pin(g_cpu[0]);
  Q q(1024);
  auto p = q.producer();
  auto c = q.consumer();
  std::uint64_t sink = 0;
  const auto t0 = Clock::now();
  for (std::uint64_t i = 0; i < n; ++i) {
    (void)p.push(i);
    std::uint64_t v = 0;
    (void)c.pop(v);
    sink += v;
  }
  const double s = seconds_since(t0);
  if (sink == 42) std::puts("");  // keeps the loop from being optimised away
  return s * 1e9 / static_cast<double>(n);
}

template <class F>
double med(int reps, F f) {
  std::vector<double> v;
  for (int i = 0; i < reps; ++i) v.push_back(f());
  return median(v);
}

void row(const char* what, const char* unit, double ours, const char* peer, double theirs,
         bool higher_is_better) {
  const double ratio = higher_is_better ? ours / theirs : theirs / ours;
  std::printf("%-34s %12.2f %12.2f  %-28s %6.2fx\n", what, ours, theirs, peer, ratio);
  (void)unit;
}

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int cpu_args = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (cpu_args < 2) g_cpu[cpu_args++] = std::atoi(argv[i]);
  }
  const int reps = quick ? 3 : 7;
  const std::uint64_t n = quick ? 2'000'000 : 20'000'000;
  const std::uint64_t rt = quick ? 100'000 : 1'000'000;
  const unsigned cpus = std::thread::hardware_concurrency();

  std::printf("bench_ring: CPUs %d and %d (%u online), %d repetitions, median reported\n",
              g_cpu[0], g_cpu[1], cpus, reps);
  std::printf("ratio = ours/peer for throughput, peer/ours for latency (>1 means ours is better)\n\n");
  std::printf("%-34s %12s %12s  %-28s %7s\n", "measure", "ours", "peer", "peer name", "ratio");

  const double s_ours = med(reps, [&] { return spsc_throughput<OursSpsc>(n) / 1e6; });
  const double s_boost = med(reps, [&] { return spsc_throughput<BoostSpsc>(n) / 1e6; });
  row("SPSC throughput (Mops/s)", "Mops/s", s_ours, "boost::lockfree::spsc_queue", s_boost, true);
  const double s_batch = med(reps, [&] { return spsc_batch_throughput(n) / 1e6; });
  row("SPSC throughput, batch 32 (Mops/s)", "Mops/s", s_batch, "boost::lockfree::spsc_queue", s_boost,
      true);

  std::vector<double> o50, o99, b50, b99;
  for (int i = 0; i < reps; ++i) {
    const Latency o = spsc_round_trip<OursSpsc>(rt);
    const Latency b = spsc_round_trip<BoostSpsc>(rt);
    o50.push_back(o.p50);
    o99.push_back(o.p99);
    b50.push_back(b.p50);
    b99.push_back(b.p99);
  }
  row("SPSC round trip p50 (ns)", "ns", median(o50), "boost::lockfree::spsc_queue", median(b50), false);
  row("SPSC round trip p99 (ns)", "ns", median(o99), "boost::lockfree::spsc_queue", median(b99), false);

  const std::uint64_t m = n / 2;
  const double m11 = med(reps, [&] { return mpmc_throughput<OursMpmc>(1, 1, m) / 1e6; });
  const double y11 = med(reps, [&] { return mpmc_throughput<Moody>(1, 1, m) / 1e6; });
  const double b11 = med(reps, [&] { return mpmc_throughput<BoostMpmc>(1, 1, m) / 1e6; });
  row("MPMC 1p1c throughput (Mops/s)", "Mops/s", m11, "moodycamel::ConcurrentQueue", y11, true);
  row("MPMC 1p1c throughput (Mops/s)", "Mops/s", m11, "boost::lockfree::queue", b11, true);

  const double m22 = med(reps, [&] { return mpmc_throughput<OursMpmc>(2, 2, m / 2) / 1e6; });
  const double y22 = med(reps, [&] { return mpmc_throughput<Moody>(2, 2, m / 2) / 1e6; });
  const double b22 = med(reps, [&] { return mpmc_throughput<BoostMpmc>(2, 2, m / 2) / 1e6; });
  row("MPMC 2p2c throughput (Mops/s)", "Mops/s", m22, "moodycamel::ConcurrentQueue", y22, true);
  row("MPMC 2p2c throughput (Mops/s)", "Mops/s", m22, "boost::lockfree::queue", b22, true);
  if (cpus <= 2 || g_cpu[0] == g_cpu[1])
    std::printf("  note: 2p2c runs 4 threads on 2 CPUs (oversubscribed); failed ops yield, so this\n"
                "        measures behaviour under preemption more than raw contention\n");

  const double mu = med(reps, [&] { return uncontended_ns<OursMpmc>(n / 4); });
  const double yu = med(reps, [&] { return uncontended_ns<Moody>(n / 4); });
  const double bu = med(reps, [&] { return uncontended_ns<BoostMpmc>(n / 4); });
  row("MPMC uncontended push+pop (ns)", "ns", mu, "moodycamel::ConcurrentQueue", yu, false);
  row("MPMC uncontended push+pop (ns)", "ns", mu, "boost::lockfree::queue", bu, false);
  return 0;
}
