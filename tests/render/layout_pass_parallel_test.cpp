// SPDX-License-Identifier: Apache-2.0
// The layout pass split across threads: chunked output must equal the serial
// pass record for record (none lost, duplicated or reordered), counters must
// add up, and chunk ranges must be disjoint and in order. See docs/render-stage.md.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "render_test_util.hpp"
#include "triptych/render/layout_pass.hpp"

namespace triptych::render {
namespace {

std::vector<Instance> flatten(std::span<const std::byte> zone, const LayoutResult& r) {
  std::vector<Instance> out;
  for (std::uint32_t c = 0; c < r.chunk_count; ++c) {
    for (std::uint32_t i = 0; i < r.chunks[c].count; ++i) {
      Instance in;
      std::memcpy(&in, zone.data() + kZonePayloadOffset + (r.chunks[c].first + i) * sizeof(Instance), sizeof in);
      out.push_back(in);
    }
  }
  return out;
}

TEST(LayoutParallel, ChunksMatchTheSerialPassRecordForRecord) {
  // Scaled down under sanitizers (TRIPTYCH_SANITIZED): the pass is O(n).
  constexpr std::uint32_t kN = TRIPTYCH_SANITIZED ? 20'000 : 200'000;
  auto p = test::random_particles(kN, 300, 300, 11);  // some off the 256x256 screen
  for (std::uint32_t i = 0; i < kN; i += 97) p[i].x = std::numeric_limits<float>::quiet_NaN();
  for (std::uint32_t i = 0; i < kN; i += 101) p[i].shape = 7;
  auto serial_zone = HostZone::create(layout_zone_bytes(kN)).value();
  auto serial = layout_pass(LayoutParams{}, 1, test::bytes_of(p), kN, serial_zone.bytes(), 1, serial_parallel_for());
  ASSERT_TRUE(serial.ok());
  const auto expected = flatten(serial_zone.bytes(), serial.value());
  for (std::uint32_t tasks : {2U, 3U, 8U, 64U, 1000U}) {
    auto zone = HostZone::create(layout_zone_bytes(kN)).value();
    auto r = layout_pass(LayoutParams{}, 1, test::bytes_of(p), kN, zone.bytes(), tasks, thread_split_parallel_for());
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.value().stats, serial.value().stats) << tasks << " tasks";
    EXPECT_EQ(r.value().chunk_count, std::min<std::uint32_t>({tasks, kMaxLayoutChunks, kN / kMinChunkParticles}));
    std::uint32_t end = 0;
    for (std::uint32_t c = 0; c < r.value().chunk_count; ++c) {
      EXPECT_GE(r.value().chunks[c].first, end) << "chunks are disjoint and in order";
      end = r.value().chunks[c].first + r.value().chunks[c].count;
    }
    const auto got = flatten(zone.bytes(), r.value());
    ASSERT_EQ(got.size(), expected.size());
    std::uint64_t mismatched = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
      if (std::memcmp(&got[i], &expected[i], sizeof(Instance)) != 0) ++mismatched;
    }
    EXPECT_EQ(mismatched, 0U) << tasks << " tasks";
  }
}

TEST(LayoutParallel, SmallInputsStayOnOneChunk) {
  const auto p = test::random_particles(100, 256, 256, 1);
  auto zone = HostZone::create(layout_zone_bytes(100)).value();
  std::uint32_t calls = 0;
  ParallelFor counting = [&calls](std::uint32_t tasks, const std::function<void(std::uint32_t)>& body) {
    ++calls;
    for (std::uint32_t i = 0; i < tasks; ++i) body(i);
  };
  auto r = layout_pass(LayoutParams{}, 1, test::bytes_of(p), 100, zone.bytes(), 8, counting);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().chunk_count, 1U);
  EXPECT_EQ(calls, 0U) << "one chunk runs inline";
}

}  // namespace
}  // namespace triptych::render
