// SPDX-License-Identifier: Apache-2.0
// Hand-off latency, p50/p99, from a producer's signal to the waiting consumer
// running again, for every wake mechanism in one run: TripleBuffer with a
// spinning reader, TripleBuffer::wait_for_new and WaitWord wait() (futex),
// a raw futex wake of an idle waiter, a pipe and an eventfd. The physical
// floor is measured in the same run: a core-to-core cache-line round trip
// (ping-pong on one atomic); hand-offs are one-way, so ratios are to half of
// it. Producer on argv[1], consumer on argv[2] (default 0 1). The producer
// idles kGapNs before each signal so a blocking consumer is truly asleep.
// See docs/sync.md ("Triple buffer", benchmarks).
#include <sys/eventfd.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <thread>

#include "sync/harness.hpp"
#include "triptych/sync/triple_buffer.hpp"

namespace triptych::bench {
namespace {

using namespace std::chrono_literals;

constexpr int kRoundTrips = 20'000;
constexpr int kSpinHandoffs = 5'000;
constexpr int kSleepHandoffs = 2'000;
constexpr int kWarmup = 100;
constexpr std::uint64_t kGapNs = 50'000;  // well past the spin and yield phases
constexpr auto kConsumerTimeout = 1s;     // a lost wake-up shows as a ~1 s outlier

// One line per word so the floor measures exactly one line moving.
struct alignas(kCacheLine) Line {
  std::atomic<std::uint32_t> v{0};
};

// Producer and consumer meet once per iteration: the consumer announces it is
// about to block on iteration k, the producer idles kGapNs, stamps and signals.
struct Rendezvous {
  Line ready;                                            // consumer: "I wait for k"
  alignas(kCacheLine) std::atomic<std::uint64_t> t0{0};  // producer's stamp
};

Summary ping_pong(const Cpus& cpus) {
  Line word;
  StartLine line;
  std::vector<double> rtt;
  rtt.reserve(kRoundTrips);
  std::thread pong([&] {
    pin_this_thread(cpus.b);
    line.arrive_and_wait();
    for (std::uint32_t k = 1; k <= kRoundTrips + kWarmup; ++k) {
      // SYNC(ping): acquire pairs with the pinger's release store.
      while (word.v.load(std::memory_order_acquire) != 2 * k - 1) cpu_relax();
      // SYNC(pong): release pairs with the pinger's acquire load.
      word.v.store(2 * k, std::memory_order_release);
    }
  });
  pin_this_thread(cpus.a);
  line.arrive_and_wait();
  for (std::uint32_t k = 1; k <= kRoundTrips + kWarmup; ++k) {
    const std::uint64_t t0 = now_ns();
    // SYNC(ping): release pairs with the ponger's acquire load.
    word.v.store(2 * k - 1, std::memory_order_release);
    // SYNC(pong): acquire pairs with the ponger's release store.
    while (word.v.load(std::memory_order_acquire) != 2 * k) cpu_relax();
    if (k > kWarmup) rtt.push_back(static_cast<double>(now_ns() - t0));
  }
  pong.join();
  return summarize(rtt);
}

// Runs `iterations` hand-offs. block(k) returns the producer's stamp once
// iteration k's signal arrived (or 0 on a timeout); signal(k, t0) sends it.
Summary handoff(const Cpus& cpus, int iterations, std::uint64_t gap_ns,
                const std::function<std::uint64_t(std::uint32_t)>& block,
                const std::function<void(std::uint32_t, std::uint64_t)>& signal, int* timeouts) {
  Rendezvous rv;
  StartLine line;
  std::vector<double> lat;
  lat.reserve(static_cast<std::size_t>(iterations));
  const auto total = static_cast<std::uint32_t>(iterations + kWarmup);
  std::thread consumer([&] {
    pin_this_thread(cpus.b);
    line.arrive_and_wait();
    for (std::uint32_t k = 1; k <= total; ++k) {
      // SYNC(ready): release pairs with the producer's acquire load.
      rv.ready.v.store(k, std::memory_order_release);
      const std::uint64_t t0 = block(k);
      const std::uint64_t t1 = now_ns();
      if (t0 == 0) {
        ++*timeouts;
      } else if (k > kWarmup) {
        lat.push_back(static_cast<double>(t1 - t0));
      }
    }
  });
  pin_this_thread(cpus.a);
  line.arrive_and_wait();
  for (std::uint32_t k = 1; k <= total; ++k) {
    // SYNC(ready): acquire pairs with the consumer's release store.
    while (rv.ready.v.load(std::memory_order_acquire) != k) cpu_relax();
    spin_for_ns(gap_ns);
    signal(k, now_ns());
  }
  consumer.join();
  return summarize(lat);
}

std::uint64_t stamp_of(const TripleBuffer::Frame& f) {
  std::uint64_t t0;
  std::memcpy(&t0, f.data.data(), sizeof t0);
  return t0;
}

struct Row {
  const char* name;
  Summary s;
  int timeouts;
};

// A hand-off through a file descriptor: the consumer's read blocks until the
// producer writes the 8-byte stamp.
Row fd_row(const char* name, int read_fd, int write_fd, const Cpus& cpus) {
  int timeouts = 0;
  const Summary s = handoff(
      cpus, kSleepHandoffs, kGapNs,
      [&](std::uint32_t) -> std::uint64_t {
        std::uint64_t t0 = 0;
        return read(read_fd, &t0, sizeof t0) == sizeof t0 ? t0 : 0;
      },
      [&](std::uint32_t, std::uint64_t t0) {
        if (write(write_fd, &t0, sizeof t0) != sizeof t0) std::abort();
      },
      &timeouts);
  return {name, s, timeouts};
}

// A raw FUTEX_WAKE of an idle waiter: the kernel's floor under the futex rows.
Row raw_futex_row(const Cpus& cpus) {
  Line raw;
  std::atomic<std::uint64_t> raw_t0{0};
  int timeouts = 0;
  const Summary s = handoff(
      cpus, kSleepHandoffs, kGapNs,
      [&](std::uint32_t k) -> std::uint64_t {
        const std::uint64_t deadline = now_ns() + 1'000'000'000;
        // SYNC(raw-futex): acquire pairs with the producer's release store.
        while (raw.v.load(std::memory_order_acquire) != k) {
          if (now_ns() > deadline) return 0;
          (void)futex::raw_wait(raw.v, k - 1, kConsumerTimeout);
        }
        return raw_t0.load(std::memory_order_relaxed);
      },
      [&](std::uint32_t k, std::uint64_t t0) {
        raw_t0.store(t0, std::memory_order_relaxed);
        // SYNC(raw-futex): release publishes the stamp.
        raw.v.store(k, std::memory_order_release);
        (void)futex::raw_wake(raw.v, 1);
      },
      &timeouts);
  return {"raw futex wake of an idle waiter", s, timeouts};
}

// The table: the physical floor, then each hand-off against it.
void print_rows(const Summary& rtt, const std::vector<Row>& rows) {
  const double floor50 = rtt.p50 / 2, floor99 = rtt.p99 / 2;
  print_header("physical floor (same run)", "ns");
  print_row("cache-line round trip (ping-pong)", rtt);
  std::printf("  one-way floor = round trip / 2: p50 %.1f ns, p99 %.1f ns\n", floor50, floor99);
  std::printf("\n  %-44s %10s %10s %10s %10s %8s\n", "hand-off (one-way)", "p50 ns", "p99 ns", "p50/floor",
              "p99/floor", "timeouts");
  for (const Row& r : rows) {
    std::printf("  %-44s %10.1f %10.1f %9.1fx %9.1fx %8d\n", r.name, r.s.p50, r.s.p99, r.s.p50 / floor50,
                r.s.p99 / floor99, r.timeouts);
  }
  const Summary& raw_wake = rows[3].s;
  std::printf("\nratios to the raw futex wake (p50): wait_for_new %.2fx, pipe %.2fx, eventfd %.2fx\n",
              rows[1].s.p50 / raw_wake.p50, rows[4].s.p50 / raw_wake.p50, rows[5].s.p50 / raw_wake.p50);
}

int run(int argc, char** argv) {
  const Cpus cpus = parse_cpus(argc, argv);
  std::printf(
      "Hand-off latency: producer on CPU %d signals, consumer on CPU %d wakes\n"
      "(producer idles %llu us before each signal; one-way times, ns)\n",
      cpus.a, cpus.b, static_cast<unsigned long long>(kGapNs / 1000));

  const Summary rtt = ping_pong(cpus);

  Arena arena(kPageSize + 3 * kPageSize);
  auto created = TripleBuffer::create(arena.base(), arena.size(), 0,
                                      {kPageSize, 2 * kPageSize, 3 * kPageSize}, kPageSize);
  if (!created.ok()) {
    std::fprintf(stderr, "create failed: %s\n", created.error().what().c_str());
    return 1;
  }
  TripleBuffer tb = created.value();
  const auto publish_stamp = [&](std::uint32_t, std::uint64_t t0) {
    std::memcpy(tb.write_slot().data(), &t0, sizeof t0);
    (void)tb.publish();
  };

  std::vector<Row> rows;
  int to = 0;

  // (a) TripleBuffer, reader spinning on has_new().
  to = 0;
  rows.push_back({"TripleBuffer, reader spins (has_new)",
                  handoff(
                      cpus, kSpinHandoffs, kGapNs,
                      [&](std::uint32_t) {
                        while (!tb.has_new()) cpu_relax();
                        return stamp_of(tb.acquire_latest());
                      },
                      publish_stamp, &to),
                  to});

  // (b) TripleBuffer, reader asleep in wait_for_new (futex).
  to = 0;
  rows.push_back({"TripleBuffer, reader sleeps (wait_for_new)",
                  handoff(
                      cpus, kSleepHandoffs, kGapNs,
                      [&](std::uint32_t) -> std::uint64_t {
                        if (tb.wait_for_new(kConsumerTimeout, kNoSpin) == WaitStatus::kTimedOut) {
                          return 0;
                        }
                        return stamp_of(tb.acquire_latest());
                      },
                      publish_stamp, &to),
                  to});

  // (b') WaitWord wait() / store_and_wake(), the primitive under (b).
  WaitWord ww;
  std::atomic<std::uint64_t> ww_t0{0};
  to = 0;
  rows.push_back({"futex: WaitWord wait / store_and_wake",
                  handoff(
                      cpus, kSleepHandoffs, kGapNs,
                      [&](std::uint32_t k) -> std::uint64_t {
                        if (wait(ww, k - 1, kConsumerTimeout, kNoSpin) == WaitStatus::kTimedOut) {
                          return 0;
                        }
                        // SYNC(futex-value): the wait's acquire made the stamp visible.
                        return ww_t0.load(std::memory_order_relaxed);
                      },
                      [&](std::uint32_t k, std::uint64_t t0) {
                        ww_t0.store(t0, std::memory_order_relaxed);
                        (void)store_and_wake(ww, k, 1);
                      },
                      &to),
                  to});

  // (f) Raw FUTEX_WAKE of an idle waiter: the kernel's floor under (b), (b').
  rows.push_back(raw_futex_row(cpus));

  // (c) A pipe and (d) an eventfd: the stamp travels as the 8 bytes written
  // (for the eventfd, as the counter value added).
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("pipe");
    return 1;
  }
  rows.push_back(fd_row("pipe (read blocks, write 8 B)", fds[0], fds[1], cpus));
  close(fds[0]);
  close(fds[1]);
  const int efd = eventfd(0, 0);
  if (efd < 0) {
    std::perror("eventfd");
    return 1;
  }
  rows.push_back(fd_row("eventfd (read blocks, write stamp)", efd, efd, cpus));
  close(efd);
  print_rows(rtt, rows);
  return 0;
}

}  // namespace
}  // namespace triptych::bench

int main(int argc, char** argv) {
  return triptych::bench::run(argc, argv);
}
