// SPDX-License-Identifier: Apache-2.0
// The GPU particle pull on whatever device the machine has (lavapipe here),
// always with the Khronos validation layer (any message fails): the GPU
// reading imported compute slots draws the same image as the CPU layout pass
// (within 1 per channel, at 640x480 and 1280x720) and counts the same
// verdicts; hostile records (NaN, Inf, 1e30 sizes, bad shapes, a slot
// rewritten while it is drawn) are counted exactly and never crash; the path
// choice and its reasons; result zones named later (attach_result) and the
// slot-release wait the engine's frames in flight stand on.
// See docs/render-stage.md ("GPU particle pull").
#include <gtest/gtest.h>

#include <vector>

#include "particle_rig.hpp"

namespace triptych::render {
namespace {

using test::hostile_scene;
using test::Injected;
using test::kWait;
using test::Rig;
using test::scene;
using test::Zones;

// The bound: both paths give the same image within 1 per channel.
constexpr std::uint32_t kPathTolerance = 1;

class ParticlePull : public ::testing::Test {
 protected:
  void SetUp() override { before_ = test::ValidationLog::get().count.load(std::memory_order_relaxed); }
  void TearDown() override { test::expect_no_validation_messages(before_); }
  std::uint64_t before_ = 0;
};

void expect_paths_agree(std::uint32_t w, std::uint32_t h, std::uint32_t n) {
  const auto particles = scene(n, w, h, 11);
  const auto count = static_cast<std::uint32_t>(particles.size());
  Rig gpu = Rig::make(ParticlePath::kGpu, count, w, h);
  Rig cpu = Rig::make(ParticlePath::kCpu, count, w, h);
  ASSERT_TRUE(gpu.renderer && cpu.renderer);
  gpu.fill(0, particles);
  cpu.fill(0, particles);
  auto [gpu_image, gpu_info] = gpu.render(0, count);
  auto [cpu_image, cpu_info] = cpu.render(0, count);
  EXPECT_TRUE(gpu_info.particles_on_gpu);
  EXPECT_FALSE(cpu_info.particles_on_gpu);
  EXPECT_EQ(gpu_info.stats, cpu_info.stats) << "the GPU counts what the CPU layout pass counts";
  EXPECT_GT(gpu_info.stats.drawn, count / 2);
  auto d = compare_images(gpu_image, cpu_image, kPathTolerance);
  ASSERT_TRUE(d.ok()) << d.error().what();
  if (d.value().pixels_over != 0) {
    const std::string base = test::out_dir() + "/pull_" + std::to_string(w) + "x" + std::to_string(h);
    (void)write_png(base + ".gpu.png", gpu_image);
    (void)write_png(base + ".cpu.png", cpu_image);
    (void)write_png(base + ".diff.png", d.value().diff);
  }
  EXPECT_EQ(d.value().pixels_over, 0U) << "GPU pull vs CPU layout pass at " << w << "x" << h << ", max delta "
                                       << d.value().max_delta;
}

TEST_F(ParticlePull, Golden_GpuPullMatchesCpuLayoutPass_640x480) { expect_paths_agree(640, 480, 3000); }

TEST_F(ParticlePull, Golden_GpuPullMatchesCpuLayoutPass_1280x720) { expect_paths_agree(1280, 720, 3000); }

TEST_F(ParticlePull, Hostile_CountsMatchWhatWasInjectedAndImagesAgree) {
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  const Injected in = hostile_scene(kW, kH);
  const auto n = static_cast<std::uint32_t>(in.particles.size());
  Rig gpu = Rig::make(ParticlePath::kGpu, n, kW, kH);
  Rig cpu = Rig::make(ParticlePath::kCpu, n, kW, kH);
  ASSERT_TRUE(gpu.renderer && cpu.renderer);
  gpu.fill(1, in.particles);
  cpu.fill(1, in.particles);
  auto [gpu_image, gpu_info] = gpu.render(1, n);
  auto [cpu_image, cpu_info] = cpu.render(1, n);
  ASSERT_TRUE(gpu_info.particles_on_gpu);
  EXPECT_EQ(gpu_info.stats, in.expected) << "drawn " << gpu_info.stats.drawn << " culled " << gpu_info.stats.culled
                                         << " nonfinite " << gpu_info.stats.nonfinite << " bad_size "
                                         << gpu_info.stats.bad_size << " bad_shape " << gpu_info.stats.bad_shape
                                         << " clamped " << gpu_info.stats.clamped;
  EXPECT_EQ(cpu_info.stats, in.expected);
  auto d = compare_images(gpu_image, cpu_image, kPathTolerance);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.value().pixels_over, 0U) << "max delta " << d.value().max_delta;
}

TEST_F(ParticlePull, Hostile_CountBeyondTheSlotIsOverflowNeverARead) {
  Rig gpu = Rig::make(ParticlePath::kGpu, 128, 64, 64);
  ASSERT_TRUE(gpu.renderer);
  gpu.fill(0, std::vector<Particle>(128, test::circle(8.0F, 8.0F, 2.0F, rgba(255, 0, 0, 255))));
  // The slot's page holds 128 records; the frame claims a million.
  auto [image, info] = gpu.render(0, 1'000'000);
  EXPECT_TRUE(info.particles_on_gpu);
  EXPECT_EQ(info.stats.input, 1'000'000U);
  EXPECT_EQ(info.stats.overflow, 1'000'000U - 128U);
  EXPECT_EQ(info.stats.drawn, 128U);
}

TEST_F(ParticlePull, Hostile_SlotRewrittenWhileDrawnSpoilsOnlyItsPicture) {
  test::expect_scribbled_slot_draws(RasterPath::kQuads);
}

TEST_F(ParticlePull, Choice_AutoTakesTheGpuWhereSlotsImportAndSaysWhyNotElsewhere) {
  Rig automatic = Rig::make(ParticlePath::kAuto, 64, 32, 32);
  ASSERT_TRUE(automatic.renderer);
  EXPECT_TRUE(automatic.renderer->particle_path().gpu) << automatic.renderer->particle_path().why;
  EXPECT_TRUE(automatic.renderer->compute_binding(2).imported);

  Rig cpu = Rig::make(ParticlePath::kCpu, 64, 32, 32);
  ASSERT_TRUE(cpu.renderer);
  EXPECT_FALSE(cpu.renderer->particle_path().gpu);
  EXPECT_NE(cpu.renderer->particle_path().why.find("selected"), std::string::npos);

  // A slot that is not page-aligned cannot be imported: auto falls back and
  // says which slot and why; gpu refuses to start.
  auto block = HostZone::create(2 * kPageSize).value();
  const std::span<std::byte> misaligned = block.bytes().subspan(64, kPageSize);
  Zones z = Zones::make(64, 32, 32);
  VulkanRendererConfig c;
  c.layout.width = 32;
  c.layout.height = 32;
  c.vulkan = test::validated_options();
  c.compute_slots = {misaligned};
  auto fallback = VulkanRenderer::create(c, z.layout, z.result);
  ASSERT_TRUE(fallback.ok()) << fallback.error().what();
  EXPECT_FALSE(fallback.value()->particle_path().gpu);
  EXPECT_NE(fallback.value()->particle_path().why.find("compute slot 0"), std::string::npos)
      << fallback.value()->particle_path().why;
  FrameInput in;
  in.compute_slot = misaligned;
  in.particle_count = 4;
  auto t = fallback.value()->submit(in);
  ASSERT_TRUE(t.ok()) << t.error().what();
  auto info = fallback.value()->wait_frame(t.value(), kWait);
  ASSERT_TRUE(info.ok());
  EXPECT_FALSE(info.value().particles_on_gpu) << "the CPU layout pass drew it";
  fallback.value().reset();

  c.particle_path = ParticlePath::kGpu;
  auto refused = VulkanRenderer::create(c, z.layout, z.result);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kUnsupported);
  EXPECT_NE(refused.error().message.find("compute slot 0"), std::string::npos) << refused.error().message;
}

TEST_F(ParticlePull, Choice_GpuRefusesASlotItDidNotImport) {
  Rig gpu = Rig::make(ParticlePath::kGpu, 64, 32, 32);
  ASSERT_TRUE(gpu.renderer);
  std::vector<Particle> elsewhere(4, test::circle(4.0F, 4.0F, 2.0F, rgba(1, 2, 3, 255)));
  FrameInput in;
  in.compute_slot = test::bytes_of(elsewhere);
  in.particle_count = 4;
  auto t = gpu.renderer->submit(in);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().code, Errc::kInvalidArgument);
}

TEST_F(ParticlePull, Later_ResultZoneAttachedInOrderLandsThePixels) {
  Rig gpu = Rig::make(ParticlePath::kGpu, 64, 32, 32, 3);
  ASSERT_TRUE(gpu.renderer);
  VulkanRenderer& r = *gpu.renderer;
  gpu.fill(0, {test::circle(16.0F, 16.0F, 6.0F, rgba(255, 0, 0, 255))});
  gpu.fill(1, {test::circle(16.0F, 16.0F, 6.0F, rgba(0, 255, 0, 255))});
  FrameInput a;
  a.frame = 10;
  a.compute_slot = gpu.slot_bytes[0];
  a.particle_count = 1;
  a.result_zone = 0;
  FrameInput b = a;
  b.frame = 11;
  b.compute_slot = gpu.slot_bytes[1];
  b.result_zone = kResultZoneLater;
  auto ta = r.submit(a);
  auto tb = r.submit(b);
  ASSERT_TRUE(ta.ok() && tb.ok());
  FrameInput c = a;
  c.frame = 12;
  auto refused = r.submit(c);  // a zone now would copy ahead of b's
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, Errc::kInvalidArgument);
  EXPECT_FALSE(r.attach_result(ta.value(), 1).ok()) << "ticket a already has its zone";
  ASSERT_TRUE(r.wait_slot_released(tb.value(), kWait).ok());
  ASSERT_TRUE(r.wait_frame(ta.value(), kWait).ok());
  EXPECT_LT(r.completed(), tb.value() + 1) << "b cannot complete before its zone is named";
  ASSERT_TRUE(r.attach_result(tb.value(), 1).ok());
  const auto t0 = std::chrono::steady_clock::now();
  auto info = r.wait_frame(tb.value(), kWait);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, kWait / 4) << "returned well inside its timeout";
  ASSERT_TRUE(info.ok()) << info.error().what();
  EXPECT_EQ(info.value().result_zone, 1U);
  std::uint64_t token = 0;
  auto img = image_from_result_zone(gpu.zones.result[1], &token);
  ASSERT_TRUE(img.ok());
  EXPECT_EQ(token, 12U);
  const std::uint8_t* centre = img.value().rgba.data() + (16 * 32 + 16) * 4;
  EXPECT_EQ(centre[1], 255) << "zone 1 holds b's green circle";
  EXPECT_EQ(centre[0], 0);
}

}  // namespace
}  // namespace triptych::render
