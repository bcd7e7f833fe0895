// SPDX-License-Identifier: Apache-2.0
// Single-threaded behaviour every ring must show, written once as templates
// and instantiated by spsc_ring_test.cpp and mpmc_ring_test.cpp: create's
// argument checks, FIFO order, full/empty, batch ops across the wrap, tiny
// capacities wrapping millions of times, and timed push/pop on a full/empty
// ring. See docs/rings.md.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <vector>

#include "ring/ring_test_util.hpp"
#include "triptych/ring/ring_common.hpp"

namespace triptych::ring_test {

template <class R>
R make_ring(AlignedBuffer& buf, std::uint32_t capacity) {
  auto r = R::create(buf.data(), buf.size(), capacity);
  EXPECT_TRUE(r.ok()) << r.error().what();
  return std::move(r).value();
}

template <class R>
void check_create_rejects_bad_arguments() {
  AlignedBuffer buf(R::required_bytes(1024) + 4096);
  for (std::uint32_t bad : {0u, 1u, 3u, 6u, 1000u, 0x80000001u}) {
    EXPECT_EQ(R::required_bytes(bad), 0u) << bad;
    auto r = R::create(buf.data(), buf.size(), bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().code, Errc::kInvalidArgument) << bad;
  }
  auto small = R::create(buf.data(), R::required_bytes(1024) - 1, 1024);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().code, Errc::kTooSmall);
  auto misaligned = R::create(buf.data() + 8, buf.size() - 8, 4);
  ASSERT_FALSE(misaligned.ok());
  EXPECT_EQ(misaligned.error().code, Errc::kMisaligned);
  auto null = R::create(nullptr, buf.size(), 4);
  ASSERT_FALSE(null.ok());
  EXPECT_EQ(null.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(small.error().what().empty());
}

template <class R>
void check_fifo_full_and_empty(std::uint32_t capacity) {
  AlignedBuffer buf(R::required_bytes(capacity));
  R ring = make_ring<R>(buf, capacity);
  EXPECT_EQ(ring.capacity(), capacity);
  std::uint64_t out = 0;
  EXPECT_FALSE(ring.try_pop(out));
  for (std::uint64_t i = 0; i < capacity; ++i) ASSERT_TRUE(ring.try_push(i * 3 + 1));
  EXPECT_FALSE(ring.try_push(999));
  EXPECT_EQ(ring.size_approx(), capacity);
  for (std::uint64_t i = 0; i < capacity; ++i) {
    ASSERT_TRUE(ring.try_pop(out));
    EXPECT_EQ(out, i * 3 + 1);
  }
  EXPECT_FALSE(ring.try_pop(out));
  EXPECT_EQ(ring.size_approx(), 0u);
}

// Every push and pop is checked, so a masking or lap bug fails at once.
template <class R>
void check_wraps(std::uint32_t capacity, std::uint64_t rounds) {
  AlignedBuffer buf(R::required_bytes(capacity));
  R ring = make_ring<R>(buf, capacity);
  std::uint64_t next_in = 0;
  std::uint64_t next_out = 0;
  std::uint64_t mismatches = 0;
  for (std::uint64_t r = 0; r < rounds; ++r) {
    // Vary the fill level so every cell is seen both full and empty.
    const std::uint64_t fill = 1 + r % capacity;
    for (std::uint64_t i = 0; i < fill; ++i) {
      if (!ring.try_push(next_in)) ++mismatches;
      ++next_in;
    }
    std::uint64_t out = 0;
    for (std::uint64_t i = 0; i < fill; ++i) {
      if (!ring.try_pop(out) || out != next_out) ++mismatches;
      ++next_out;
    }
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GE(next_out, rounds);
  std::uint64_t out = 0;
  EXPECT_FALSE(ring.try_pop(out));
}

template <class R>
void check_batches_across_the_wrap() {
  constexpr std::uint32_t kCap = 8;
  AlignedBuffer buf(R::required_bytes(kCap));
  R ring = make_ring<R>(buf, kCap);
  EXPECT_EQ(ring.try_push_n(std::span<const std::uint64_t>{}), 0u);
  std::array<std::uint64_t, 4> none{};
  EXPECT_EQ(ring.try_pop_n(std::span<std::uint64_t>(none)), 0u);

  std::vector<std::uint64_t> in(12);
  std::iota(in.begin(), in.end(), 100);
  // Only 8 fit: a prefix is taken.
  EXPECT_EQ(ring.try_push_n(std::span<const std::uint64_t>(in)), 8u);
  EXPECT_EQ(ring.try_push_n(std::span<const std::uint64_t>(in).subspan(8)), 0u);
  std::array<std::uint64_t, 5> out{};
  ASSERT_EQ(ring.try_pop_n(std::span<std::uint64_t>(out)), 5u);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(out[i], 100 + i);
  // Now positions 8..12 wrap around the end of the cell array.
  EXPECT_EQ(ring.try_push_n(std::span<const std::uint64_t>(in).subspan(8)), 4u);
  std::array<std::uint64_t, 16> rest{};
  ASSERT_EQ(ring.try_pop_n(std::span<std::uint64_t>(rest)), 7u);
  for (std::size_t i = 0; i < 7; ++i) EXPECT_EQ(rest[i], 105 + i);
  EXPECT_EQ(ring.try_pop_n(std::span<std::uint64_t>(rest)), 0u);

  // Batches and single ops interleave in one order.
  std::uint64_t next = 0;
  std::uint64_t expect = 0;
  std::uint64_t errors = 0;
  for (int round = 0; round < 10000; ++round) {
    std::array<std::uint64_t, 3> b{next, next + 1, next + 2};
    const std::size_t pushed = ring.try_push_n(std::span<const std::uint64_t>(b));
    next += pushed;
    if (ring.try_push(next)) ++next;
    std::array<std::uint64_t, 2> o{};
    const std::size_t popped = ring.try_pop_n(std::span<std::uint64_t>(o));
    for (std::size_t i = 0; i < popped; ++i) errors += o[i] != expect++;
    std::uint64_t one = 0;
    if (ring.try_pop(one)) errors += one != expect++;
  }
  EXPECT_EQ(errors, 0u);
  EXPECT_GT(expect, 10000u);
}

template <class R>
void check_timeouts_on_full_and_empty() {
  using namespace std::chrono_literals;
  AlignedBuffer buf(R::required_bytes(2));
  R ring = make_ring<R>(buf, 2);
  std::uint64_t out = 0;
  EXPECT_FALSE(ring.pop(out, 0ns));
  EXPECT_FALSE(ring.pop(out, -5ms));
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ring.pop(out, 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 20ms);
  EXPECT_TRUE(ring.push(1, 0ns));
  EXPECT_TRUE(ring.push(2, 20ms));
  EXPECT_FALSE(ring.push(3, 0ns));
  const auto t1 = std::chrono::steady_clock::now();
  EXPECT_FALSE(ring.push(3, 20ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t1, 20ms);
  ASSERT_TRUE(ring.pop(out, 20ms));
  EXPECT_EQ(out, 1u);
  ASSERT_TRUE(ring.pop(out, kWaitForever));
  EXPECT_EQ(out, 2u);
}

}  // namespace triptych::ring_test
