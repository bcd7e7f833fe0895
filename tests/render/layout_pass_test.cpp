// SPDX-License-Identifier: Apache-2.0
// The layout pass on one thread: validation of untrusted particles, culling,
// clamping, capacity, zone headers and bad arguments; and the CPU reference
// rasteriser's basic pixels. See docs/render-stage.md.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "render_test_util.hpp"
#include "triptych/render/layout_pass.hpp"

// vulkan_renderer.hpp (through render_test_util.hpp) keeps Vulkan off its callers' include path.
#ifdef VULKAN_CORE_H_
#error "triptych/render/vulkan_renderer.hpp must not include the Vulkan headers"
#endif

namespace triptych::render {
namespace {

using test::bytes_of;

struct Pass {
  HostZone zone;
  LayoutResult result;
};

Result<LayoutResult> run(const LayoutParams& lp, const std::vector<Particle>& p, std::span<std::byte> zone,
                         std::uint32_t count) {
  return layout_pass(lp, 5, bytes_of(p), count, zone, 1, serial_parallel_for());
}

Instance instance_at(std::span<const std::byte> zone, std::uint32_t i) {
  Instance in;
  std::memcpy(&in, zone.data() + kZonePayloadOffset + i * sizeof(Instance), sizeof in);
  return in;
}

TEST(Layout, TransformsEachShapeToPixels) {
  LayoutParams lp;
  lp.origin_x = 10;
  lp.origin_y = 20;
  lp.scale = 2;
  lp.velocity_scale = 0.5F;
  auto zone = HostZone::create(layout_zone_bytes(8)).value();
  const std::vector<Particle> p{test::circle(40, 50, 3, rgba(1, 2, 3)), test::rounded_rect(40, 50, 4, rgba(4, 5, 6)),
                                test::line(40, 50, 8, -4, 1, rgba(7, 8, 9))};
  auto r = run(lp, p, zone.bytes(), 3);
  ASSERT_TRUE(r.ok()) << r.error().what();
  EXPECT_EQ(r.value().instance_count, 3U);
  const Instance c = instance_at(zone.bytes(), 0);
  EXPECT_FLOAT_EQ(c.ax, 60.0F);
  EXPECT_FLOAT_EQ(c.ay, 60.0F);
  EXPECT_FLOAT_EQ(c.bx, 6.0F);
  EXPECT_FLOAT_EQ(c.param, 0.0F);
  EXPECT_EQ(c.rgba, rgba(1, 2, 3));
  const Instance q = instance_at(zone.bytes(), 1);
  EXPECT_FLOAT_EQ(q.bx, 8.0F);
  EXPECT_FLOAT_EQ(q.param, 2.0F) << "corner radius is a quarter of the half extent";
  const Instance l = instance_at(zone.bytes(), 2);
  EXPECT_FLOAT_EQ(l.bx, 68.0F);
  EXPECT_FLOAT_EQ(l.by, 56.0F);
  EXPECT_FLOAT_EQ(l.param, 2.0F);
  EXPECT_EQ(l.shape, static_cast<std::uint32_t>(Shape::kLine));
}

TEST(Layout, WritesAHeaderThatDescribesTheZone) {
  auto zone = HostZone::create(layout_zone_bytes(100)).value();
  const std::vector<Particle> p{test::circle(4, 4, 3, rgba(1, 2, 3)), test::circle(-90, 4, 3, rgba(1, 2, 3))};
  auto r = run(LayoutParams{}, p, zone.bytes(), 2);
  ASSERT_TRUE(r.ok());
  LayoutZoneHeader h;
  std::memcpy(&h, zone.bytes().data(), sizeof h);
  EXPECT_EQ(h.magic, kLayoutZoneMagic);
  EXPECT_EQ(h.version, kRenderZoneVersion);
  EXPECT_EQ(h.frame, 5U);
  EXPECT_EQ(h.instance_offset, kZonePayloadOffset);
  EXPECT_EQ(h.capacity, layout_zone_capacity(zone.bytes().size()));
  EXPECT_EQ(h.chunk_count, 1U);
  EXPECT_EQ(h.instance_count, 1U);
  EXPECT_EQ(h.stats, r.value().stats);
  EXPECT_EQ(h.stats.culled, 1U);
}

TEST(Layout, DropsAndCountsHostileRecords) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<Particle> p{
      {nan, 1, 0, 0, 1, rgba(1, 1, 1), 0, 0},      {1, -inf, 0, 0, 1, rgba(1, 1, 1), 0, 0},
      {1, 1, 0, 0, inf, rgba(1, 1, 1), 0, 0},      {1, 1, nan, 0, 1, rgba(1, 1, 1), 2, 0},
      {1, 1, nan, 0, 1, rgba(1, 1, 1), 0, 0},  // velocity is ignored for circles: drawn
      {1, 1, 0, 0, -0.5F, rgba(1, 1, 1), 0, 0},    {1, 1, 0, 0, 1, rgba(1, 1, 1), 3, 0},
      {1, 1, 0, 0, 1e9F, rgba(1, 1, 1), 1, 0},     {1, 1, 1e20F, 0, 1, rgba(1, 1, 1), 2, 0},
  };
  auto zone = HostZone::create(layout_zone_bytes(16)).value();
  auto r = run(LayoutParams{}, p, zone.bytes(), 9);
  ASSERT_TRUE(r.ok());
  const LayoutStats& s = r.value().stats;
  EXPECT_EQ(s.input, 9U);
  EXPECT_EQ(s.nonfinite, 4U);
  EXPECT_EQ(s.bad_size, 1U);
  EXPECT_EQ(s.bad_shape, 1U);
  EXPECT_EQ(s.drawn, 3U);
  EXPECT_EQ(s.clamped, 2U);
  EXPECT_EQ(s.drawn + s.culled + s.dropped(), s.input);
  const Instance big = instance_at(zone.bytes(), 1);
  EXPECT_FLOAT_EQ(big.bx, 256.0F) << "size clamped to max(width, height)";
  const Instance longline = instance_at(zone.bytes(), 2);
  EXPECT_NEAR(longline.bx - longline.ax, 512.0F, 1e-3F) << "length clamped to 2 * max(width, height)";
  for (std::uint32_t i = 0; i < r.value().instance_count; ++i) {
    const Instance in = instance_at(zone.bytes(), i);
    EXPECT_TRUE(std::isfinite(in.ax) && std::isfinite(in.ay) && std::isfinite(in.bx) && std::isfinite(in.by));
    EXPECT_LT(in.shape, kShapeCount);
  }
}

TEST(Layout, CullsOffscreenTransparentAndEmpty) {
  // A circle's quad reaches size + 1 pixel (the anti-aliasing margin) from its centre.
  const std::vector<Particle> p{test::circle(-10.5F, 5, 10, rgba(1, 1, 1)),  // margin reaches x = 0.5: kept
                                test::circle(-11, 5, 10, rgba(1, 1, 1)),     // margin ends at x = 0: culled
                                test::circle(-12, 5, 10, rgba(1, 1, 1)),
                                test::circle(300, 5, 10, rgba(1, 1, 1)),   test::circle(5, 5, 10, rgba(1, 1, 1, 0)),
                                test::circle(5, 5, 0, rgba(1, 1, 1)),      test::line(-20, -20, 40, 40, 1, rgba(1, 1, 1))};
  auto zone = HostZone::create(layout_zone_bytes(16)).value();
  auto r = run(LayoutParams{}, p, zone.bytes(), static_cast<std::uint32_t>(p.size()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().stats.drawn, 2U) << "the first circle and the line crossing the screen";
  EXPECT_EQ(r.value().stats.culled, 5U);
}

TEST(Layout, CapacityAndShortSlotsAreOverflow) {
  const auto p = test::random_particles(100, 256, 256, 3);
  auto zone = HostZone::create(layout_zone_bytes(10)).value();
  const std::uint32_t cap = layout_zone_capacity(zone.bytes().size());
  auto r = run(LayoutParams{}, p, zone.bytes(), 100);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().stats.overflow, 100U - std::min(cap, 100U));
  auto r2 = run(LayoutParams{}, p, HostZone::create(layout_zone_bytes(1000)).value().bytes(), 5000);
  ASSERT_TRUE(r2.ok());
  EXPECT_EQ(r2.value().stats.overflow, 4900U) << "the slot holds only 100 records";
  EXPECT_EQ(r2.value().stats.drawn + r2.value().stats.culled + r2.value().stats.dropped(), 5000U);
}

TEST(Layout, BadArgumentsAreErrors) {
  const std::vector<Particle> p{test::circle(1, 1, 1, rgba(1, 1, 1))};
  auto zone = HostZone::create(layout_zone_bytes(4)).value();
  LayoutParams lp;
  lp.scale = 0;
  EXPECT_EQ(run(lp, p, zone.bytes(), 1).error().code, Errc::kInvalidArgument);
  lp = {};
  lp.origin_x = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(run(lp, p, zone.bytes(), 1).error().code, Errc::kInvalidArgument);
  lp = {};
  lp.width = 0;
  EXPECT_EQ(run(lp, p, zone.bytes(), 1).error().code, Errc::kInvalidArgument);
  lp = {};
  lp.max_size = -1;
  EXPECT_EQ(run(lp, p, zone.bytes(), 1).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(run(LayoutParams{}, p, zone.bytes().first(100), 1).error().code, Errc::kTooSmall);
  EXPECT_EQ(run(LayoutParams{}, p, zone.bytes().subspan(4), 1).error().code, Errc::kMisaligned);
  EXPECT_EQ(layout_zone_capacity(100), 0U);
  EXPECT_EQ(layout_zone_capacity(kZonePayloadOffset + 64), 2U);
}

TEST(ResultZone, HeaderIsCheckedBeforeUse) {
  auto zone = HostZone::create(result_zone_bytes(16, 8)).value();
  EXPECT_EQ(init_result_zone(zone.bytes(), 64, 64).error().code, Errc::kTooSmall);
  EXPECT_EQ(init_result_zone(zone.bytes(), 0, 8).error().code, Errc::kInvalidArgument);
  ASSERT_TRUE(init_result_zone(zone.bytes(), 16, 8).ok());
  std::uint64_t frame = 9;
  auto img = image_from_result_zone(zone.bytes(), &frame);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(frame, 0U);
  EXPECT_EQ(img.value().width, 16U);
  auto* h = reinterpret_cast<ResultZoneHeader*>(zone.bytes().data());
  h->height = 1'000'000;
  EXPECT_EQ(image_from_result_zone(zone.bytes()).error().code, Errc::kCorruptHeader);
  h->magic = 0;
  EXPECT_EQ(image_from_result_zone(zone.bytes()).error().code, Errc::kBadMagic);
}

TEST(Image, PngRoundTripAndDiff) {
  Image a;
  a.width = 3;
  a.height = 2;
  a.rgba = {1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 255, 13, 14, 15, 128, 16, 17, 18, 0};
  const std::string path = test::out_dir() + "/roundtrip.png";
  ASSERT_TRUE(write_png(path, a).ok());
  auto b = read_png(path);
  ASSERT_TRUE(b.ok()) << b.error().what();
  EXPECT_EQ(b.value().rgba, a.rgba);
  Image c = a;
  c.rgba[5] = 9;  // +4
  auto d = compare_images(c, a, 3);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().pixels_over, 1U);
  EXPECT_EQ(d.value().max_delta, 4U);
  EXPECT_EQ(compare_images(c, a, 4).value().pixels_over, 0U);
  Image wrong = a;
  wrong.width = 2;
  EXPECT_FALSE(compare_images(wrong, a, 0).ok());
  EXPECT_FALSE(read_png(test::out_dir() + "/missing.png").ok());
}

TEST(CpuStage, DrawsACircleOverTheClearColour) {
  test::Zones z = test::Zones::make(16, 64, 64, 1);
  LayoutParams lp;
  lp.width = 64;
  lp.height = 64;
  auto cpu = CpuRenderStage::create(lp, {0.0F, 0.0F, 0.2F, 1.0F}, z.layout, z.result);
  ASSERT_TRUE(cpu.ok());
  const std::vector<Particle> p{test::circle(32, 32, 10, rgba(255, 0, 0))};
  auto t = cpu.value()->submit({3, bytes_of(p), 1, 0, 0});
  ASSERT_TRUE(t.ok());
  auto info = cpu.value()->wait_frame(t.value(), std::chrono::seconds(1));
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info.value().stats.drawn, 1U);
  EXPECT_EQ(cpu.value()->frame_ready().value.load(std::memory_order_acquire), 1U);
  std::uint64_t frame = 0;
  const Image img = image_from_result_zone(z.result[0], &frame).value();
  EXPECT_EQ(frame, 4U);
  const std::uint8_t* c = img.pixel(32, 32);
  EXPECT_EQ(c[0], 255);
  EXPECT_EQ(c[2], 0);
  const std::uint8_t* bg = img.pixel(2, 2);
  EXPECT_EQ(bg[0], 0);
  EXPECT_EQ(bg[2], 51);
  EXPECT_EQ(cpu.value()->submit({3, bytes_of(p), 1, 1, 0}).error().code, Errc::kOutOfRange);
}

}  // namespace
}  // namespace triptych::render
