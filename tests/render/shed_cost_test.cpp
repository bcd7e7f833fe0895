// SPDX-License-Identifier: Apache-2.0
// What a governor sheds in the render stage (FrameInput::resolution_scale
// and draw_stride): scaled_layout keeps the world and shrinks the pixels, a
// draw stride draws a deterministic subset and still validates every
// particle, and stretch_result_zone fills the image from its top-left corner
// (and refuses a rendered size larger than the image). The CPU reference
// renders a scaled frame that stretches back to the full picture's layout.
// Single-threaded.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "triptych/render/cpu_stage.hpp"
#include "triptych/render/layout_pass.hpp"
#include "triptych/render/render_stage.hpp"

namespace triptych::render {
namespace {

struct AlignedBytes {
  explicit AlignedBytes(std::size_t n) : words((n + 7) / 8) {}
  std::span<std::byte> span() { return {reinterpret_cast<std::byte*>(words.data()), words.size() * 8}; }
  std::vector<std::uint64_t> words;
};

LayoutParams full_params() {
  LayoutParams p;
  p.width = 64;
  p.height = 32;
  p.scale = 16.0F;
  p.origin_x = -2.0F;
  p.origin_y = -1.0F;
  return p;
}

TEST(ShedCost, ScaledLayoutKeepsTheWorldAndShrinksThePixels) {
  const LayoutParams half = scaled_layout(full_params(), 0.5F, 3);
  EXPECT_EQ(half.width, 32U);
  EXPECT_EQ(half.height, 16U);
  EXPECT_FLOAT_EQ(half.scale, 8.0F);
  EXPECT_FLOAT_EQ(half.origin_x, -2.0F);
  EXPECT_EQ(half.draw_stride, 3U);
  EXPECT_EQ(scaled_layout(full_params(), std::numeric_limits<float>::quiet_NaN(), 0).width, 64U)
      << "a scale that is not a number reads as 1, a stride of 0 as 1";
  EXPECT_EQ(scaled_layout(full_params(), 0.5F, 0).draw_stride, 1U);
  EXPECT_EQ(scaled_layout(full_params(), 4.0F, 1).width, 64U) << "never larger than the target";
  LayoutParams bad = full_params();
  bad.draw_stride = 0;
  EXPECT_FALSE(validate(bad));
}

TEST(ShedCost, DrawStrideDrawsADeterministicSubsetAndStillValidatesAll) {
  std::vector<Particle> ps(12, Particle{0.0F, 0.0F, 0.0F, 0.0F, 0.1F, rgba(255, 0, 0), 0, 0});
  ps[5].x = std::numeric_limits<float>::quiet_NaN();  // not drawn anyway, but must be counted
  AlignedBytes zone(layout_zone_bytes(64));
  LayoutParams p = full_params();
  p.draw_stride = 4;
  const auto r = layout_pass(p, 1, std::as_bytes(std::span(ps)), 12, zone.span(), 1, serial_parallel_for());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->stats.drawn, 3U) << "particles 0, 4 and 8";
  EXPECT_EQ(r->stats.nonfinite, 1U) << "the stride never hides a rejected particle";
  EXPECT_EQ(r->stats.culled, 8U);
}

TEST(ShedCost, StretchFillsTheImageFromItsTopLeftCorner) {
  AlignedBytes zone(result_zone_bytes(4, 2));
  ASSERT_TRUE(init_result_zone(zone.span(), 4, 2));
  auto* px = reinterpret_cast<std::uint32_t*>(zone.span().data() + kZonePayloadOffset);
  const std::array<std::uint32_t, 8> before{1, 2, 9, 9, 9, 9, 9, 9};  // a 2x1 frame in a 4x2 image
  std::memcpy(px, before.data(), sizeof before);
  ASSERT_TRUE(stretch_result_zone(zone.span(), 2, 1));
  const std::array<std::uint32_t, 8> want{1, 1, 2, 2, 1, 1, 2, 2};
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(px[i], want[i]) << "pixel " << i;
  EXPECT_FALSE(stretch_result_zone(zone.span(), 5, 1)) << "wider than the image";
  EXPECT_FALSE(stretch_result_zone(zone.span(), 0, 1));
}

TEST(ShedCost, CpuStageRendersAScaledFrameIntoTheCorner) {
  const LayoutParams p = full_params();
  std::vector<Particle> ps(1, Particle{-1.5F, -0.5F, 0.0F, 0.0F, 0.25F, rgba(255, 255, 255), 0, 0});
  AlignedBytes lz(layout_zone_bytes(16)), rz(result_zone_bytes(p.width, p.height));
  const std::array<std::span<std::byte>, 1> lzs{lz.span()}, rzs{rz.span()};
  auto stage = CpuRenderStage::create(p, {0.0F, 0.0F, 0.0F, 1.0F}, lzs, rzs);
  ASSERT_TRUE(stage);
  FrameInput in;
  in.compute_slot = std::as_bytes(std::span(ps));
  in.particle_count = 1;
  in.resolution_scale = 0.5F;
  ASSERT_TRUE(stage.value()->submit(in));
  const auto* px = reinterpret_cast<const std::uint32_t*>(rz.span().data() + kZonePayloadOffset);
  // The particle sits at world (-1.5, -0.5): pixel (8, 8) at full size, (4, 4) at half.
  EXPECT_EQ(px[4 * p.width + 4] & 0xFFu, 255U) << "drawn at half size in the corner";
  ASSERT_TRUE(stretch_result_zone(rz.span(), p.width / 2, p.height / 2));
  EXPECT_EQ(px[8 * p.width + 8] & 0xFFu, 255U) << "stretched back where the full picture has it";
}

}  // namespace
}  // namespace triptych::render
