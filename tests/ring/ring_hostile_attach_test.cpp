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

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "ring/ring_test_util.hpp"
#include "triptych/ring/mpmc_ring.hpp"
#include "triptych/ring/spsc_ring.hpp"

namespace triptych {
namespace {

using namespace std::chrono_literals;
using ring_test::AlignedBuffer;
using ring_test::Mpmc;
using ring_test::Spsc;

constexpr auto kRun = TRIPTYCH_SANITIZED ? 700ms : 2s;
constexpr std::uint32_t kCap = 64;

// One header field the peer may rewrite, with its width.
struct Field {
  void* at;
  unsigned bytes;  // 4 or 8
};

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

std::uint64_t load(const Field& f) {
  if (f.bytes == 4) {
    return std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(f.at))
        .load(std::memory_order_relaxed);
  }
  return std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(f.at))
      .load(std::memory_order_relaxed);
}
void store(const Field& f, std::uint64_t v) {
  if (f.bytes == 4) {
    std::atomic_ref<std::uint32_t>(*static_cast<std::uint32_t*>(f.at))
        .store(static_cast<std::uint32_t>(v), std::memory_order_relaxed);
  } else {
    std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(f.at))
        .store(v, std::memory_order_relaxed);
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
  const std::vector<Field> fields = identity_fields<R>(buf.data());
  std::vector<std::uint64_t> good;
  for (const Field& f : fields) good.push_back(load(f));

  std::atomic<bool> stop{false};
  std::thread peer([&] {
    std::mt19937_64 rng(12);
    while (!stop.load(std::memory_order_relaxed)) {
      const std::size_t i = rng() % fields.size();
      const Field& f = fields[i];
      std::uint64_t bad = 0;
      switch (rng() % 4) {
        case 0: bad = rng(); break;
        case 1: bad = good[i] ^ (std::uint64_t{1} << (rng() % (8 * f.bytes))); break;
        case 2: bad = good[i] << (1 + rng() % 24); break;  // a valid, larger capacity
        default: bad = std::uint64_t{1} << 31; break;
      }
      store(f, bad);
      for (int spin = static_cast<int>(rng() % 64); spin > 0; --spin) cpu_relax();
      store(f, good[i]);
    }
  });

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
  stop.store(true, std::memory_order_relaxed);
  peer.join();
  EXPECT_EQ(escaped, 0u) << "views whose cells reach past the memory given";
  EXPECT_EQ(inconsistent, 0u) << "views whose mask disagrees with their capacity";
  EXPECT_GT(accepted, 0u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace triptych
