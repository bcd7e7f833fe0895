// SPDX-License-Identifier: Apache-2.0
// Blocking push/pop with threads, for both rings: a sleeping consumer (or
// producer) is woken by the peer's non-blocking op, ping-pongs that would
// hang on one lost wake-up, and a wake-up across two mappings of one memfd.
// Labelled `concurrency` (runs under TSan). See docs/rings.md.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <thread>

#include "ring/ring_test_util.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych {
namespace {

using namespace ring_test;
using namespace std::chrono_literals;
using ring_test::Mpmc;
using ring_test::Spsc;

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
class RingBlocking : public ::testing::Test {};
using ring_test::RingNames;
using ring_test::RingTypes;
TYPED_TEST_SUITE(RingBlocking, RingTypes, RingNames);

TYPED_TEST(RingBlocking, SleepingConsumerIsWokenByTryPush) {
  AlignedBuffer buf(TypeParam::required_bytes(4));
  auto ring = TypeParam::create(buf.data(), buf.size(), 4).value();
  std::atomic<bool> got{false};
  std::uint64_t value = 0;
  std::thread consumer([&] {
    got.store(ring.pop(value, 30s), std::memory_order_release);
  });
  // Wait until it has registered as a sleeper, so the push must wake it.
  while (not_empty_waiters(ring) == 0) std::this_thread::yield();
  ASSERT_TRUE(ring.try_push(77));
  consumer.join();
  EXPECT_TRUE(got.load(std::memory_order_acquire));
  EXPECT_EQ(value, 77u);
  EXPECT_EQ(not_empty_waiters(ring), 0u);
}

TYPED_TEST(RingBlocking, SleepingProducerIsWokenByTryPop) {
  AlignedBuffer buf(TypeParam::required_bytes(2));
  auto ring = TypeParam::create(buf.data(), buf.size(), 2).value();
  ASSERT_TRUE(ring.try_push(1));
  ASSERT_TRUE(ring.try_push(2));
  std::atomic<bool> pushed{false};
  std::thread producer([&] { pushed.store(ring.push(3, 30s), std::memory_order_release); });
  while (not_full_waiters(ring) == 0) std::this_thread::yield();
  std::uint64_t out = 0;
  ASSERT_TRUE(ring.try_pop(out));
  EXPECT_EQ(out, 1u);
  producer.join();
  EXPECT_TRUE(pushed.load(std::memory_order_acquire));
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
  std::atomic<bool> got{false};
  std::thread consumer([&] { got.store(ring.pop(value, 30s), std::memory_order_release); });
  while (not_empty_waiters(ring) == 0) std::this_thread::yield();
  std::array<std::uint64_t, 3> b{5, 6, 7};
  ASSERT_EQ(ring.try_push_n(std::span<const std::uint64_t>(b)), 3u);
  consumer.join();
  EXPECT_TRUE(got.load(std::memory_order_acquire));
  EXPECT_EQ(value, 5u);
}

// Two rings, one each way, blocking on both sides: every round trip is a
// sleep/wake hand-off, so a single lost wake-up shows as a timed-out pop.
TYPED_TEST(RingBlocking, PingPongLosesNoWakeUp) {
  const std::uint64_t rounds = scaled(20000, 2000);
  AlignedBuffer ping_buf(TypeParam::required_bytes(2));
  AlignedBuffer pong_buf(TypeParam::required_bytes(2));
  auto ping = TypeParam::create(ping_buf.data(), ping_buf.size(), 2).value();
  auto pong = TypeParam::create(pong_buf.data(), pong_buf.size(), 2).value();
  std::uint64_t echo_errors = 0;
  std::thread echo([&] {
    for (std::uint64_t i = 0; i < rounds; ++i) {
      std::uint64_t v = 0;
      if (!ping.pop(v, 10s) || v != i || !pong.push(v + 1, 10s)) ++echo_errors;
    }
  });
  std::uint64_t errors = 0;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    std::uint64_t v = 0;
    if (!ping.push(i, 10s) || !pong.pop(v, 10s) || v != i + 1) ++errors;
  }
  echo.join();
  EXPECT_EQ(errors, 0u);
  EXPECT_EQ(echo_errors, 0u);
}

// Blocking on both sides of a 2-cell ring: producers and consumers keep
// falling asleep on full and empty; every item must still arrive once.
TYPED_TEST(RingBlocking, BlockingStreamThroughATinyRing) {
  const std::uint64_t n = scaled(50000, 5000);
  AlignedBuffer buf(TypeParam::required_bytes(2));
  auto ring = TypeParam::create(buf.data(), buf.size(), 2).value();
  std::uint64_t push_failures = 0;
  std::thread producer([&] {
    for (std::uint64_t i = 0; i < n; ++i)
      if (!ring.push(i, 10s)) ++push_failures;
  });
  std::uint64_t wrong = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t v = 0;
    if (!ring.pop(v, 10s) || v != i) ++wrong;
  }
  producer.join();
  EXPECT_EQ(push_failures, 0u);
  EXPECT_EQ(wrong, 0u);
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
  std::atomic<bool> got{false};
  std::thread consumer([&] { got.store(consumer_view.pop(value, 30s), std::memory_order_release); });
  while (not_empty_waiters(producer_view) == 0) std::this_thread::yield();
  ASSERT_TRUE(producer_view.try_push(9));
  consumer.join();
  EXPECT_TRUE(got.load(std::memory_order_acquire));
  EXPECT_EQ(value, 9u);
  munmap(a, bytes);
  munmap(b, bytes);
  close(fd);
}

TEST(Ring, Mpmc_TwoSleepingConsumersAreBothWoken) {
  AlignedBuffer buf(Mpmc::required_bytes(4));
  auto ring = Mpmc::create(buf.data(), buf.size(), 4).value();
  std::atomic<int> got{0};
  std::atomic<std::uint64_t> sum{0};
  auto consume = [&] {
    std::uint64_t v = 0;
    if (ring.pop(v, 30s)) {
      got.fetch_add(1, std::memory_order_relaxed);
      sum.fetch_add(v, std::memory_order_relaxed);
    }
  };
  std::thread c1(consume);
  std::thread c2(consume);
  // A sleeper counts twice (once in the ring, once inside futex wait), so
  // this proves one is asleep; the other may be asleep or about to be. Either
  // way each push must reach a consumer.
  while (not_empty_waiters(ring) < 2) std::this_thread::yield();
  ASSERT_TRUE(ring.try_push(10));
  ASSERT_TRUE(ring.try_push(20));
  c1.join();
  c2.join();
  EXPECT_EQ(got.load(std::memory_order_relaxed), 2);
  EXPECT_EQ(sum.load(std::memory_order_relaxed), 30u);
}

}  // namespace
}  // namespace triptych
