// SPDX-License-Identifier: Apache-2.0
// attach() under a hostile peer, for both rings: one thread keeps rewriting
// the header's identity fields (random values, single-bit flips, valid but
// wrong capacities, then the good value again) while another attaches in a
// loop for about two seconds. Every view attach() accepts must reach only
// cells inside the memory it was given, with a mask that agrees with its
// capacity: the read-once rule of docs/rings.md ("Attach"). The peer writes
// with relaxed atomic stores, as attach() reads, so the test is race-free by
// construction and runs under TSan (label `concurrency`).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <random>
#include <vector>

#include "ring/ring_test_util.hpp"
#include "support/hostile_peer.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using hostile_test::Field;
using hostile_test::HostilePeer;
using ring_test::AlignedBuffer;
using ring_test::Mpmc;
using ring_test::Spsc;

constexpr auto kRun = TRIPTYCH_SANITIZED ? 700ms : 2s;
constexpr std::uint32_t kCap = 64;

template <class R>
std::vector<Field> identity_fields(std::byte* mem);
template <>
std::vector<Field> identity_fields<Spsc>(std::byte* mem) {
  auto& h = *reinterpret_cast<SpscRingHeader*>(mem);
  return {{&h.version, 4},    {&h.capacity, 4},     {&h.capacity, 4},   {&h.capacity, 4},
          {&h.elem_size, 4},  {&h.elem_align, 4},   {&h.cells_offset, 8}, {&h.total_bytes, 8}};
}
template <>
std::vector<Field> identity_fields<Mpmc>(std::byte* mem) {
  auto& h = *reinterpret_cast<MpmcRingHeader*>(mem);
  return {{&h.version, 4},     {&h.capacity, 4},    {&h.capacity, 4},   {&h.capacity, 4},
          {&h.elem_size, 4},   {&h.elem_align, 4},  {&h.cell_stride, 4}, {&h.data_offset, 4},
          {&h.cells_offset, 8}, {&h.total_bytes, 8}};
}

template <class R>
std::uint64_t stride() {
  if constexpr (std::is_same_v<R, Mpmc>) {
    return Mpmc::kCellStride;
  } else {
    return sizeof(std::uint64_t);
  }
}

template <class R>
class RingHostileAttach : public ::testing::Test {};
TYPED_TEST_SUITE(RingHostileAttach, ring_test::RingTypes, ring_test::RingNames);

TYPED_TEST(RingHostileAttach, AcceptedViewsStayInsideTheirMemory) {
  using R = TypeParam;
  const std::size_t bytes = R::required_bytes(kCap);
  AlignedBuffer buf(bytes);
  ASSERT_TRUE(R::create(buf.data(), bytes, kCap).ok());
  const auto bad = [](std::mt19937_64& rng, const Field& f, std::uint64_t good) -> std::uint64_t {
    switch (rng() % 4) {
      case 0: return rng();
      case 1: return good ^ (std::uint64_t{1} << (rng() % (8 * f.bytes)));
      case 2: return good << (1 + rng() % 24);  // a valid, larger capacity
      default: return std::uint64_t{1} << 31;
    }
  };
  HostilePeer peer(identity_fields<R>(buf.data()), /*seed=*/12, bad);

  static_assert(sizeof(SpscRingHeader) == sizeof(MpmcRingHeader));
  const auto begin = reinterpret_cast<std::uintptr_t>(buf.data()) + sizeof(SpscRingHeader);
  const auto end = reinterpret_cast<std::uintptr_t>(buf.data()) + bytes;
  std::uint64_t accepted = 0, refused = 0, escaped = 0, inconsistent = 0;
  const auto deadline = std::chrono::steady_clock::now() + kRun;
  while (std::chrono::steady_clock::now() < deadline) {
    auto r = R::attach(buf.data(), bytes);
    if (!r.ok()) {
      ++refused;
      continue;
    }
    ++accepted;
    const std::span<const std::byte> cells = r->cell_bytes();
    const auto lo = reinterpret_cast<std::uintptr_t>(cells.data());
    if (lo < begin || lo > end || cells.size() > end - lo) ++escaped;
    if (cells.size() != std::uint64_t{r->capacity()} * stride<R>() ||
        !is_power_of_two(r->capacity()))
      ++inconsistent;
  }
  peer.stop();
  EXPECT_EQ(escaped, 0u) << "views whose cells reach past the memory given";
  EXPECT_EQ(inconsistent, 0u) << "views whose mask disagrees with their capacity";
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace triptych
