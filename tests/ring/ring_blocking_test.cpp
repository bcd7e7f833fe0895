// SPDX-License-Identifier: Apache-2.0
// Blocking push/pop with threads, for both rings: a sleeping consumer (or
// producer) is woken by the peer's non-blocking op, ping-pongs that would
// stall on one lost wake-up, and a wake-up across two mappings of one memfd.
// Every blocking op passes a long timeout and must return well inside it
// (support/wake_timing.hpp): a lost wake would still succeed, at the timeout.
// Also built as ring_blocking_test_lostwake, where each test must fail
// (docs/verification.md). Labelled `concurrency` (runs under TSan). See
// docs/rings.md.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <thread>

#include "ring/ring_test_util.hpp"
#include "support/wake_timing.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych {
namespace {

using namespace ring_test;
using namespace std::chrono_literals;
using ring_test::Mpmc;
using ring_test::Spsc;
using wake_test::kSleepInducingPause;
using wake_test::kSlowWakeMs;
using wake_test::kWakeTimeout;
using wake_test::Stopwatch;
using wake_test::this_tid;
using wake_test::wait_until_asleep;

// A blocking op's result and how long it took.
struct Timed {
  bool ok = false;
  std::int64_t ms = -1;
};

// Runs `op` on a new thread and waits until that thread sleeps in the kernel
// on `word`, so only a wake can end the op before its timeout. join() then
// returns what the op did.
class Sleeper {
 public:
  template <class Op>
  Sleeper(const std::atomic<std::uint32_t>& word, Op op)
      : thread_([this, op]() mutable {
          // SYNC(test-tid): pairs with the acquire load in the constructor.
          tid_.store(this_tid(), std::memory_order_release);
          const Stopwatch sw;
          result_.ok = op();
          result_.ms = sw.ms();
        }) {
    pid_t tid = 0;
    while ((tid = tid_.load(std::memory_order_acquire)) == 0) std::this_thread::yield();  // SYNC(test-tid)
    asleep_ = wait_until_asleep(tid, &word);
  }
  [[nodiscard]] bool was_asleep() const { return asleep_; }
  Timed join() {
    thread_.join();
    return result_;
  }

 private:
  std::atomic<pid_t> tid_{0};
  Timed result_;
  bool asleep_ = false;
  std::thread thread_;  // last: starts after the members it writes exist
};

// The waiter counts a sleeper registers in, read through the shared header.
std::uint32_t not_empty_waiters(const Spsc& r) {
  return r.header().not_empty.waiters.load(std::memory_order_acquire);
}
std::uint32_t not_empty_waiters(const Mpmc& r) {
  return r.header().not_empty.waiters.load(std::memory_order_acquire);
}
std::uint32_t not_full_waiters(const Spsc& r) {
  return r.header().not_full.waiters.load(std::memory_order_acquire);
}
std::uint32_t not_full_waiters(const Mpmc& r) {
  return r.header().not_full.waiters.load(std::memory_order_acquire);
}
template <class R>
const std::atomic<std::uint32_t>& not_empty_word(const R& r) {
  return r.header().not_empty.value;
}
template <class R>
const std::atomic<std::uint32_t>& not_full_word(const R& r) {
  return r.header().not_full.value;
}

template <class R>
class RingBlocking : public ::testing::Test {};
using ring_test::RingNames;
using ring_test::RingTypes;
TYPED_TEST_SUITE(RingBlocking, RingTypes, RingNames);

TYPED_TEST(RingBlocking, SleepingConsumerIsWokenByTryPush) {
  AlignedBuffer buf(TypeParam::required_bytes(4));
  auto ring = TypeParam::create(buf.data(), buf.size(), 4).value();
  std::uint64_t value = 0;
  Sleeper consumer(not_empty_word(ring), [&] { return ring.pop(value, kWakeTimeout); });
  EXPECT_TRUE(consumer.was_asleep());
  EXPECT_TRUE(ring.try_push(77));
  const Timed t = consumer.join();
  EXPECT_TRUE(t.ok);
  EXPECT_LT(t.ms, kSlowWakeMs) << "the pop was ended by its timeout, not by the push's wake";
  EXPECT_EQ(value, 77u);
  EXPECT_EQ(not_empty_waiters(ring), 0u);
}

TYPED_TEST(RingBlocking, SleepingProducerIsWokenByTryPop) {
  AlignedBuffer buf(TypeParam::required_bytes(2));
  auto ring = TypeParam::create(buf.data(), buf.size(), 2).value();
  ASSERT_TRUE(ring.try_push(1));
  ASSERT_TRUE(ring.try_push(2));
  Sleeper producer(not_full_word(ring), [&] { return ring.push(3, kWakeTimeout); });
  EXPECT_TRUE(producer.was_asleep());
  std::uint64_t out = 0;
  EXPECT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out, 1u);
  const Timed t = producer.join();
  EXPECT_TRUE(t.ok);
  EXPECT_LT(t.ms, kSlowWakeMs) << "the push was ended by its timeout, not by the pop's wake";
  ASSERT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out, 2u);
  ASSERT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out, 3u);
  EXPECT_EQ(not_full_waiters(ring), 0u);
}

TYPED_TEST(RingBlocking, SleepingConsumerIsWokenByABatch) {
  AlignedBuffer buf(TypeParam::required_bytes(8));
  auto ring = TypeParam::create(buf.data(), buf.size(), 8).value();
  std::uint64_t value = 0;
  Sleeper consumer(not_empty_word(ring), [&] { return ring.pop(value, kWakeTimeout); });
  EXPECT_TRUE(consumer.was_asleep());
  std::array<std::uint64_t, 3> b{5, 6, 7};
  EXPECT_EQ(ring.try_push_n(std::span<const std::uint64_t>(b)), 3u);
  const Timed t = consumer.join();
  EXPECT_TRUE(t.ok);
  EXPECT_LT(t.ms, kSlowWakeMs) << "the pop was ended by its timeout, not by the batch's wake";
  EXPECT_EQ(value, 5u);
}

// Two rings, one each way, blocking on both sides: every round trip is a
// hand-off, so a single lost wake-up shows as a slow pop (one that outlived
// kSlowWake). With both cores free the spin phase often absorbs every hand-off,
// so each side also pauses 5 ms, 20 times, to make the other really sleep.
// Both sides stop at the first slow op, so a lossy build fails within a
// timeout or two instead of one per round.
TYPED_TEST(RingBlocking, PingPongLosesNoWakeUp) {
  const std::uint64_t rounds = scaled(20000, 2000);
  const std::uint64_t pause_every = rounds / 20;
  constexpr auto kPause = kSleepInducingPause;
  AlignedBuffer ping_buf(TypeParam::required_bytes(2));
  AlignedBuffer pong_buf(TypeParam::required_bytes(2));
  auto ping = TypeParam::create(ping_buf.data(), ping_buf.size(), 2).value();
  auto pong = TypeParam::create(pong_buf.data(), pong_buf.size(), 2).value();
  std::atomic<std::uint64_t> slow{0};
  auto timed = [&](auto&& op) {
    const Stopwatch sw;
    const bool ok = op();
    if (sw.slow()) slow.fetch_add(1, std::memory_order_relaxed);
    return ok;
  };
  auto stalled = [&] { return slow.load(std::memory_order_relaxed) != 0; };
  std::uint64_t echo_errors = 0;
  std::thread echo([&] {
    for (std::uint64_t i = 0; i < rounds && !stalled(); ++i) {
      std::uint64_t v = 0;
      const bool got = timed([&] { return ping.pop(v, kWakeTimeout); });
      if (i % pause_every == pause_every / 2) std::this_thread::sleep_for(kPause);  // main sleeps in pop
      if (!got || v != i ||
          !timed([&] { return pong.push(v + 1, kWakeTimeout); }))
        ++echo_errors;
    }
  });
  std::uint64_t errors = 0;
  for (std::uint64_t i = 0; i < rounds && !stalled(); ++i) {
    std::uint64_t v = 0;
    if (i % pause_every == 0) std::this_thread::sleep_for(kPause);  // echo sleeps in pop
    if (!timed([&] { return ping.push(i, kWakeTimeout); }) ||
        !timed([&] { return pong.pop(v, kWakeTimeout); }) || v != i + 1)
      ++errors;
  }
  echo.join();
  EXPECT_EQ(slow.load(std::memory_order_relaxed), 0u) << "ops outlived " << kSlowWakeMs << " ms";
  if (!stalled()) {
    EXPECT_EQ(errors, 0u);
    EXPECT_EQ(echo_errors, 0u);
  }
}

// Blocking on both sides of a 2-cell ring: producers and consumers keep
// falling asleep on full and empty; every item must still arrive once.
// Flat out, both sides mostly finish inside the spin phase, so each side also
// pauses 5 ms, 20 times, to make the other fall asleep in the kernel (on full,
// then on empty). Each op is timed; a slow one (over kSlowWake) is a lost
// wake-up, and stops both sides.
TYPED_TEST(RingBlocking, BlockingStreamThroughATinyRing) {
  const std::uint64_t n = scaled(50000, 5000);
  const std::uint64_t pause_every = n / 20;
  constexpr auto kPause = kSleepInducingPause;
  AlignedBuffer buf(TypeParam::required_bytes(2));
  auto ring = TypeParam::create(buf.data(), buf.size(), 2).value();
  std::atomic<std::uint64_t> slow{0};
  auto stalled = [&] { return slow.load(std::memory_order_relaxed) != 0; };
  std::uint64_t push_failures = 0;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n && !stalled(); ++i) {
      if (i % pause_every == pause_every / 2) std::this_thread::sleep_for(kPause);  // consumer sleeps
      const Stopwatch sw;
      if (!ring.push(i, kWakeTimeout)) ++push_failures;
      if (sw.slow()) slow.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < n && !stalled(); ++i) {
    std::uint64_t v = 0;
    if (i % pause_every == 0) std::this_thread::sleep_for(kPause);  // producer sleeps on full
    const Stopwatch sw;
    if (!ring.pop(v, kWakeTimeout) || v != i) ++wrong;
    if (sw.slow()) slow.fetch_add(1, std::memory_order_relaxed);
  }
  producer.join();
  EXPECT_EQ(slow.load(std::memory_order_relaxed), 0u) << "ops outlived " << kSlowWakeMs << " ms";
  if (!stalled()) {
    EXPECT_EQ(push_failures, 0u);
    EXPECT_EQ(wrong, 0u);
  }
}

// The futex is shared, not private: a sleeper on one mapping of a memfd is
// woken by a push through another mapping (as across processes).
TYPED_TEST(RingBlocking, WakeUpCrossesMappings) {
  const int fd = memfd_create("triptych-ring-wake", MFD_CLOEXEC);
  ASSERT_GE(fd, 0);
  const std::size_t bytes = align_up(TypeParam::required_bytes(8), kPageSize);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(bytes)), 0);
  void* a = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  void* b = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  ASSERT_NE(a, MAP_FAILED);
  ASSERT_NE(b, MAP_FAILED);
  auto producer_view = TypeParam::create(static_cast<std::byte*>(a), bytes, 8).value();
  auto consumer_view = TypeParam::attach(static_cast<std::byte*>(b), bytes).value();
  std::uint64_t value = 0;
  // The sleeper's futex word is its own mapping's; the kernel keys a shared
  // futex by the page, so the push through the other mapping must reach it.
  Sleeper consumer(not_empty_word(consumer_view), [&] { return consumer_view.pop(value, kWakeTimeout); });
  EXPECT_TRUE(consumer.was_asleep());
  EXPECT_TRUE(producer_view.try_push(9));
  const Timed t = consumer.join();
  EXPECT_TRUE(t.ok);
  EXPECT_LT(t.ms, kSlowWakeMs) << "the pop was ended by its timeout, not by the wake";
  EXPECT_EQ(value, 9u);
  munmap(a, bytes);
  munmap(b, bytes);
  close(fd);
}

TEST(Ring, Mpmc_TwoSleepingConsumersAreBothWoken) {
  AlignedBuffer buf(Mpmc::required_bytes(4));
  auto ring = Mpmc::create(buf.data(), buf.size(), 4).value();
  std::uint64_t v1 = 0, v2 = 0;
  // Both are seen asleep in the kernel before the pushes, so each push's wake
  // is the only thing that can end a pop before its timeout.
  Sleeper c1(not_empty_word(ring), [&] { return ring.pop(v1, kWakeTimeout); });
  Sleeper c2(not_empty_word(ring), [&] { return ring.pop(v2, kWakeTimeout); });
  EXPECT_TRUE(c1.was_asleep());
  EXPECT_TRUE(c2.was_asleep());
  EXPECT_TRUE(ring.try_push(10));
  EXPECT_TRUE(ring.try_push(20));
  const Timed t1 = c1.join();
  const Timed t2 = c2.join();
  EXPECT_TRUE(t1.ok);
  EXPECT_TRUE(t2.ok);
  EXPECT_LT(t1.ms, kSlowWakeMs) << "a pop was ended by its timeout, not by a wake";
  EXPECT_LT(t2.ms, kSlowWakeMs) << "a pop was ended by its timeout, not by a wake";
  EXPECT_EQ(v1 + v2, 30u);
}

}  // namespace
}  // namespace triptych
