// SPDX-License-Identifier: Apache-2.0
// Single-threaded tests for include/triptych/ring/spsc_ring.hpp: layout,
// argument checks, FIFO/full/empty, tiny capacities wrapping millions of
// times, batches across the wrap, timeouts, element-type rules, and corrupt
// positions written by a hostile peer. Threads are in ring_stress_test.cpp and
// ring_blocking_test.cpp. See docs/rings.md.
#include "triptych/ring/spsc_ring.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ring/ring_conformance.hpp"
#include "ring/ring_test_util.hpp"

namespace triptych {
namespace {

using namespace ring_test;
using ring_test::Spsc;

// Naming SpscRing<T> with a T that breaks RingElement is ill-formed, so this
// concept is false for it: the rejection happens at compile time.
template <class T>
concept SpscRingOf = requires { typename SpscRing<T>; };

struct alignas(64) Wide {
  std::uint64_t v[8];
};
struct NonTrivial {
  NonTrivial() = default;
  NonTrivial(const NonTrivial&) {}
  NonTrivial& operator=(const NonTrivial&) { return *this; }
};

TEST(Ring, Spsc_HeaderLayoutMatchesDocs) {
  EXPECT_EQ(sizeof(SpscRingHeader), 192u);
  EXPECT_EQ(offsetof(SpscRingHeader, magic), 0u);
  EXPECT_EQ(offsetof(SpscRingHeader, version), 8u);
  EXPECT_EQ(offsetof(SpscRingHeader, capacity), 12u);
  EXPECT_EQ(offsetof(SpscRingHeader, elem_size), 16u);
  EXPECT_EQ(offsetof(SpscRingHeader, elem_align), 20u);
  EXPECT_EQ(offsetof(SpscRingHeader, cells_offset), 24u);
  EXPECT_EQ(offsetof(SpscRingHeader, total_bytes), 32u);
  EXPECT_EQ(offsetof(SpscRingHeader, tail), 64u);
  EXPECT_EQ(offsetof(SpscRingHeader, cached_head), 72u);
  EXPECT_EQ(offsetof(SpscRingHeader, not_empty), 80u);
  EXPECT_EQ(offsetof(SpscRingHeader, head), 128u);
  EXPECT_EQ(offsetof(SpscRingHeader, cached_tail), 136u);
  EXPECT_EQ(offsetof(SpscRingHeader, not_full), 144u);
}

TEST(Ring, Spsc_RequiredBytesIsHeaderPlusCellsRoundedToALine) {
  EXPECT_EQ(Spsc::required_bytes(2), 192u + 64u);      // 16 bytes of cells, rounded up
  EXPECT_EQ(Spsc::required_bytes(8), 192u + 64u);
  EXPECT_EQ(Spsc::required_bytes(1024), 192u + 8192u);
  EXPECT_EQ(SpscRing<Wide>::required_bytes(4), 192u + 256u);
  EXPECT_EQ(SpscRing<std::uint8_t>::required_bytes(2), 256u);
  static_assert(Spsc::required_bytes(16) % kCacheLine == 0);
  EXPECT_EQ(Spsc::required_bytes(kRingMaxCapacity), 192u + std::size_t{8} * kRingMaxCapacity);
}

TEST(Ring, Spsc_ElementTypeMustBeTriviallyCopyable) {
  static_assert(RingElement<std::uint64_t>);
  static_assert(RingElement<Wide>);
  static_assert(RingElement<Message>);
  static_assert(!RingElement<std::string>, "a std::string cannot cross processes by memcpy");
  static_assert(!RingElement<NonTrivial>, "a user copy constructor would never run");
  static_assert(!RingElement<const std::uint64_t>);
  static_assert(SpscRingOf<std::uint64_t>);
  static_assert(!SpscRingOf<std::string>);
  static_assert(!SpscRingOf<std::vector<int>>);
  static_assert(!SpscRingOf<NonTrivial>);
  static_assert(Ring<Spsc, std::uint64_t>, "SpscRing satisfies the pluggable Ring concept");
  EXPECT_TRUE(SpscRingOf<std::uint64_t>);
  EXPECT_FALSE(SpscRingOf<std::string>);
}

TEST(Ring, Spsc_CreateRejectsBadArguments) { check_create_rejects_bad_arguments<Spsc>(); }

TEST(Ring, Spsc_FifoFullAndEmpty) {
  check_fifo_full_and_empty<Spsc>(2);
  check_fifo_full_and_empty<Spsc>(64);
}

// Tiny rings wrap millions of times (scaled down under sanitizers).
TEST(Ring, Spsc_WrapsWithCapacity2) { check_wraps<Spsc>(2, scaled(2'000'000, 100'000)); }
TEST(Ring, Spsc_WrapsWithCapacity4) { check_wraps<Spsc>(4, scaled(1'000'000, 50'000)); }

TEST(Ring, Spsc_BatchesCrossTheWrap) { check_batches_across_the_wrap<Spsc>(); }

TEST(Ring, Spsc_TimedPushAndPopTimeOutOnFullAndEmpty) { check_timeouts_on_full_and_empty<Spsc>(); }

TEST(Ring, Spsc_WideAlignedElementsRoundTrip) {
  AlignedBuffer buf(SpscRing<Wide>::required_bytes(4));
  auto ring = make_ring<SpscRing<Wide>>(buf, 4);
  for (std::uint64_t round = 0; round < 100; ++round) {
    Wide w{};
    for (std::uint64_t i = 0; i < 8; ++i) w.v[i] = round * 8 + i;
    ASSERT_TRUE(ring.try_push(w));
    Wide out{};
    ASSERT_TRUE(ring.try_pop(out));
    for (std::uint64_t i = 0; i < 8; ++i) EXPECT_EQ(out.v[i], round * 8 + i);
  }
}

TEST(Ring, Spsc_CreateOverAnOldRingResetsIt) {
  AlignedBuffer buf(Spsc::required_bytes(4));
  auto first = make_ring<Spsc>(buf, 4);
  ASSERT_TRUE(first.try_push(7));
  auto second = make_ring<Spsc>(buf, 4);
  std::uint64_t out = 0;
  EXPECT_FALSE(second.try_pop(out));
  EXPECT_EQ(second.size_approx(), 0u);
}

// A peer that writes garbage positions must not make us read or write outside
// the ring, nor report elements that are not there.
TEST(Ring, Spsc_CorruptPositionsReadAsFullAndEmpty) {
  AlignedBuffer buf(Spsc::required_bytes(4) + 64);
  auto ring = make_ring<Spsc>(buf, 4);
  auto* h = reinterpret_cast<SpscRingHeader*>(buf.data());
  std::uint64_t out = 0;

  h->head.store(1000, std::memory_order_relaxed);  // head far past tail
  h->cached_head = 1000;
  EXPECT_FALSE(ring.try_push(1));
  EXPECT_FALSE(ring.try_pop(out));
  std::array<std::uint64_t, 3> b{1, 2, 3};
  EXPECT_EQ(ring.try_push_n(std::span<const std::uint64_t>(b)), 0u);
  EXPECT_EQ(ring.try_pop_n(std::span<std::uint64_t>(b)), 0u);
  EXPECT_EQ(ring.size_approx(), 0u);

  h->head.store(0, std::memory_order_relaxed);  // tail more than capacity ahead
  h->cached_head = 0;
  h->tail.store(50, std::memory_order_relaxed);
  h->cached_tail = 50;
  EXPECT_FALSE(ring.try_push(1));
  EXPECT_FALSE(ring.try_pop(out));
  EXPECT_FALSE(ring.pop(out, std::chrono::milliseconds(5)));
  EXPECT_FALSE(ring.push(1, std::chrono::milliseconds(5)));

  // A cached copy that lies is refreshed, not trusted.
  h->tail.store(2, std::memory_order_relaxed);
  h->cached_tail = 0;
  h->cached_head = 99;
  EXPECT_TRUE(ring.try_pop(out));
  EXPECT_TRUE(ring.try_push(5));
}

}  // namespace
}  // namespace triptych
