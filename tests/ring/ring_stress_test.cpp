// SPDX-License-Identifier: Apache-2.0
// Concurrency stress for both rings, counting lost, duplicated, reordered and
// torn messages and asserting 0 of each: SPSC 10^7 messages (single and
// batch ops, several capacities), MPMC 2 producers x 2 consumers with exact
// multiset equality and per-producer order at each consumer. Labelled
// `concurrency` and `stress`; counts are scaled down under sanitizers. The
// blocking mode times every push and pop against a long timeout and counts
// slow ones (support/wake_timing.hpp); it is also built as
// ring_stress_test_lostwake, where it must fail (docs/verification.md). See
// docs/rings.md.
#include <gtest/gtest.h>
#include <sched.h>

#include <thread>
#include <vector>

#include "ring/ring_test_util.hpp"
#include "support/wake_timing.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych {
namespace {

using namespace ring_test;
using wake_test::kWakeTimeout;
using wake_test::Stopwatch;

struct Tally {
  std::uint64_t received = 0;
  std::uint64_t lost = 0;        // a sequence number skipped
  std::uint64_t duplicated = 0;  // a sequence number seen twice
  std::uint64_t reordered = 0;   // an earlier number after a later one
  std::uint64_t torn = 0;        // the three words disagree
};

// The producer alternates single and batch pushes; the consumer alternates
// single and batch pops, so every combination crosses the wrap.
void spsc_run(std::uint32_t capacity, std::uint64_t n, Tally& t) {
  AlignedBuffer buf(SpscRing<Message>::required_bytes(capacity));
  auto ring = SpscRing<Message>::create(buf.data(), buf.size(), capacity).value();
  std::thread producer([&] {
    std::uint64_t seq = 0;
    std::array<Message, 7> batch{};
    while (seq < n) {
      if ((seq / 64) % 2 == 0) {
        if (ring.try_push(Message::make(0, seq))) ++seq;
        else cpu_relax();
      } else {
        const std::uint64_t k = std::min<std::uint64_t>(batch.size(), n - seq);
        for (std::uint64_t i = 0; i < k; ++i) batch[i] = Message::make(0, seq + i);
        const std::size_t pushed = ring.try_push_n(std::span<const Message>(batch.data(), k));
        if (pushed == 0) cpu_relax();
        seq += pushed;
      }
    }
  });
  std::uint64_t expected = 0;
  std::vector<bool> seen(n, false);
  auto account = [&](const Message& m) {
    ++t.received;
    if (!m.intact() || m.producer != 0 || m.seq >= n) {
      ++t.torn;
      return;
    }
    if (seen[m.seq]) {
      ++t.duplicated;
    } else if (m.seq < expected) {
      ++t.reordered;  // an older message after a newer one
    }
    seen[m.seq] = true;
    expected = std::max(expected, m.seq + 1);  // a gap shows up as lost below
  };
  std::array<Message, 5> out{};
  std::uint64_t rounds = 0;
  while (t.received < n) {
    if (++rounds % 3 == 0) {
      const std::size_t got = ring.try_pop_n(std::span<Message>(out));
      for (std::size_t i = 0; i < got; ++i) account(out[i]);
      if (got == 0) cpu_relax();
    } else {
      Message m{};
      if (ring.try_pop(m)) account(m);
      else cpu_relax();
    }
  }
  producer.join();
  for (std::uint64_t i = 0; i < n; ++i) if (!seen[i]) ++t.lost;
  Message extra{};
  EXPECT_FALSE(ring.try_pop(extra));
}

TEST(Ring, Spsc_TenMillionMessagesNoLossDupReorderOrTear) {
  Tally t;
  spsc_run(1024, scaled(10'000'000, 200'000), t);
  EXPECT_EQ(t.received, scaled(10'000'000, 200'000));
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.duplicated, 0u);
  EXPECT_EQ(t.reordered, 0u);
  EXPECT_EQ(t.torn, 0u);
}

TEST(Ring, Spsc_TinyCapacitiesUnderContention) {
  for (std::uint32_t cap : {2u, 4u, 8u}) {
    Tally t;
    spsc_run(cap, scaled(1'000'000, 20'000), t);
    EXPECT_EQ(t.lost, 0u) << cap;
    EXPECT_EQ(t.duplicated, 0u) << cap;
    EXPECT_EQ(t.reordered, 0u) << cap;
    EXPECT_EQ(t.torn, 0u) << cap;
  }
}

enum class Mode { kSingle, kBatch, kBlocking };

constexpr int kMpmcProducers = 2;

// What one consumer received from each producer, and what it saw out of order.
struct ConsumerLog {
  std::vector<std::uint64_t> got[kMpmcProducers];
  std::uint64_t next_min[kMpmcProducers] = {0, 0};
  std::uint64_t reordered = 0;
  std::uint64_t torn = 0;
};

// The union of the consumers' logs against {p} x [0, n) once each.
Tally exact_multiset(const std::vector<ConsumerLog>& logs, std::uint64_t per_producer) {
  Tally t;
  for (int p = 0; p < kMpmcProducers; ++p) {
    std::vector<std::uint8_t> count(per_producer, 0);
    for (const auto& log : logs)
      for (std::uint64_t s : log.got[p]) ++count[s];
    for (std::uint8_t k : count) {
      t.lost += k == 0;
      t.duplicated += k > 1 ? k - 1u : 0u;
    }
  }
  for (const auto& log : logs) {
    t.reordered += log.reordered;
    t.torn += log.torn;
  }
  return t;
}

// Producers tag each message with their id and a per-producer sequence.
// Every consumer checks that each producer's messages reach it in increasing
// order (the ring is FIFO, so two pops by one thread cannot invert two pushes
// by one thread) and records what it got; afterwards the union must be
// exactly {p} x [0, n) once each.
void mpmc_run(std::uint32_t capacity, std::uint64_t per_producer, Mode mode) {
  constexpr int kProducers = kMpmcProducers;
  constexpr int kConsumers = 2;
  constexpr std::uint64_t kStop = 99;  // the producer id of a stop message
  AlignedBuffer buf(MpmcRing<Message>::required_bytes(capacity));
  auto ring = MpmcRing<Message>::create(buf.data(), buf.size(), capacity).value();
  const std::uint64_t total = per_producer * kProducers;
  std::atomic<std::uint64_t> consumed{0};
  // Blocking mode: ops that outlived kSlowWake. A blocked op here waits for a
  // peer's next op, which with 4 threads on 2 cores is at most a few
  // scheduling periods (ms); only a lost wake makes it last its timeout
  // (kWakeTimeout, 10x the bound). Everyone stops at the first one.
  std::atomic<std::uint64_t> slow{0};
  auto stalled = [&] { return slow.load(std::memory_order_relaxed) != 0; };
  auto timed = [&](auto&& op) {
    const Stopwatch sw;
    const bool ok = op();
    if (sw.slow()) slow.fetch_add(1, std::memory_order_relaxed);
    return ok;
  };

  std::vector<std::thread> threads;
  std::vector<std::uint64_t> push_failures(kProducers, 0);
  for (int p = 0; p < kProducers; ++p) {
    threads.emplace_back([&, p] {
      const auto id = static_cast<std::uint64_t>(p);
      std::array<Message, 3> batch{};
      std::uint64_t seq = 0;
      while (seq < per_producer) {
        if (mode == Mode::kBlocking) {
          if (stalled()) break;
          if (!timed([&] { return ring.push(Message::make(id, seq), kWakeTimeout); })) ++push_failures[id];
          ++seq;
        } else if (mode == Mode::kBatch && seq % 2 == 1) {
          const std::uint64_t k = std::min<std::uint64_t>(batch.size(), per_producer - seq);
          for (std::uint64_t i = 0; i < k; ++i) batch[i] = Message::make(id, seq + i);
          const std::size_t pushed = ring.try_push_n(std::span<const Message>(batch.data(), k));
          if (pushed == 0) sched_yield();
          seq += pushed;
        } else {
          if (ring.try_push(Message::make(id, seq))) ++seq;
          else sched_yield();  // 2 CPUs: 4 threads oversubscribe, let the peer run
        }
      }
    });
  }

  std::vector<ConsumerLog> logs(kConsumers);
  for (int c = 0; c < kConsumers; ++c) {
    threads.emplace_back([&, c] {
      ConsumerLog& log = logs[static_cast<std::size_t>(c)];
      auto account = [&](const Message& m) {
        if (!m.intact() || m.producer >= kProducers || m.seq >= per_producer) {
          ++log.torn;
          return;
        }
        if (m.seq < log.next_min[m.producer]) ++log.reordered;
        log.next_min[m.producer] = m.seq + 1;
        log.got[m.producer].push_back(m.seq);
      };
      std::array<Message, 4> out{};
      if (mode == Mode::kBlocking) {
        // Long timeouts throughout: the run ends with one stop message per
        // consumer, queued after every real one, so nobody waits it out.
        for (;;) {
          Message m{};
          if (!timed([&] { return ring.pop(m, kWakeTimeout); })) continue;
          if (m.producer == kStop) break;
          account(m);
          consumed.fetch_add(1, std::memory_order_relaxed);
        }
        return;
      }
      while (consumed.load(std::memory_order_relaxed) < total) {
        std::size_t got = 0;
        if (mode == Mode::kBatch) {
          got = ring.try_pop_n(std::span<Message>(out));
          for (std::size_t i = 0; i < got; ++i) account(out[i]);
        } else {
          Message m{};
          if (ring.try_pop(m)) {
            account(m);
            got = 1;
          }
        }
        if (got == 0) sched_yield();
        else consumed.fetch_add(got, std::memory_order_relaxed);
      }
    });
  }
  if (mode == Mode::kBlocking) {
    for (int p = 0; p < kProducers; ++p) threads[static_cast<std::size_t>(p)].join();
    for (int c = 0; c < kConsumers; ++c) {
      // A slow push here is counted like any other.
      if (!timed([&] { return ring.push(Message::make(kStop, 0), kWakeTimeout); })) ++push_failures[0];
    }
  }
  for (auto& t : threads)
    if (t.joinable()) t.join();
  EXPECT_EQ(slow.load(std::memory_order_relaxed), 0u)
      << "blocking ops outlived " << wake_test::kSlowWakeMs << " ms: a lost wake-up";
  if (stalled()) return;  // producers stopped early; the counts below mean nothing

  const Tally t = exact_multiset(logs, per_producer);
  EXPECT_EQ(push_failures[0] + push_failures[1], 0u);
  EXPECT_EQ(consumed.load(std::memory_order_relaxed), total);
  EXPECT_EQ(t.lost, 0u);
  EXPECT_EQ(t.duplicated, 0u);
  EXPECT_EQ(t.reordered, 0u);
  EXPECT_EQ(t.torn, 0u);
  Message extra{};
  EXPECT_FALSE(ring.try_pop(extra));
}

TEST(Ring, Mpmc_TwoByTwoExactMultiset) { mpmc_run(1024, scaled(1'000'000, 20'000), Mode::kSingle); }
TEST(Ring, Mpmc_TwoByTwoExactMultisetCapacity2) {
  mpmc_run(2, scaled(200'000, 5'000), Mode::kSingle);
}
TEST(Ring, Mpmc_TwoByTwoExactMultisetWithBatches) {
  mpmc_run(16, scaled(500'000, 10'000), Mode::kBatch);
}
TEST(Ring, Mpmc_TwoByTwoExactMultisetBlocking) {
  mpmc_run(4, scaled(200'000, 5'000), Mode::kBlocking);
}

}  // namespace
}  // namespace triptych
