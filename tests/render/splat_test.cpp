// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer on whatever device the machine has (lavapipe
// here), always with the Khronos validation layer (any message fails): it
// draws the raster quads' image within kSplatTolerance per channel at 640x480
// and 1280x720 from both inputs (the GPU particle pull and the CPU layout
// pass, imported or staged); hostile records are counted exactly as injected,
// and a slot rewritten while it is drawn fails nothing;
// two runs are bit-identical; tile lists too long for shared memory (sorted in
// place) and tiles whose list finds no room (scanned, counted) give exactly
// the image of roomy lists; the --raster choice and its reasons. See docs/render-stage.md ("Compute splat renderer").
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "particle_rig.hpp"

namespace triptych::render {
namespace {

using test::hostile_scene;
using test::Injected;
using test::Rig;
using test::scene;
using test::Zones;

// The stated bound: splat against raster quads within 2 per channel (the
// golden tests' bound for the raster path against the CPU reference): both
// round every blend to 8 bits, but the rasteriser interpolates the quad's
// local coordinates where the splat path computes them per pixel, so an edge
// pixel's coverage may round the other way.
constexpr std::uint32_t kSplatTolerance = 2;
// Where thousands of particles overlap (the dense scene: 6000 on 256x128),
// those one-step roundings compound over many blends: every pixel within 4,
// and at most 0.1 % of them beyond kSplatTolerance.
constexpr std::uint32_t kDenseTolerance = 4;
constexpr double kDenseShareBeyond = 0.001;

class Splat : public ::testing::Test {
 protected:
  void SetUp() override { before_ = test::ValidationLog::get().count.load(std::memory_order_relaxed); }
  void TearDown() override { test::expect_no_validation_messages(before_); }
  std::uint64_t before_ = 0;
};

void expect_images_agree(const Image& splat, const Image& quads, std::uint32_t tolerance, const std::string& name) {
  auto d = compare_images(splat, quads, tolerance);
  ASSERT_TRUE(d.ok()) << d.error().what();
  if (d.value().pixels_over != 0) {
    const std::string base = test::out_dir() + "/splat_" + name;
    (void)write_png(base + ".splat.png", splat);
    (void)write_png(base + ".quads.png", quads);
    (void)write_png(base + ".diff.png", d.value().diff);
  }
  EXPECT_EQ(d.value().pixels_over, 0U) << name << ": splat vs quads, max delta " << d.value().max_delta;
}

// Splat and quads from the same particles through the same particle path.
void expect_splat_matches_quads(ParticlePath path, std::uint32_t w, std::uint32_t h, std::uint32_t n,
                                HostMemoryPath layout_path = HostMemoryPath::kImport) {
  const auto particles = scene(n, w, h, 11);
  const auto count = static_cast<std::uint32_t>(particles.size());
  Rig splat = Rig::make(path, count, w, h, 2, RasterPath::kSplat, 0, 0, layout_path);
  Rig quads = Rig::make(path, count, w, h, 2, RasterPath::kQuads, 0, 0, layout_path);
  ASSERT_TRUE(splat.renderer && quads.renderer);
  EXPECT_TRUE(splat.renderer->raster_path().splat);
  EXPECT_FALSE(quads.renderer->raster_path().splat);
  splat.fill(0, particles);
  quads.fill(0, particles);
  auto [splat_image, splat_info] = splat.render(0, count);
  auto [quads_image, quads_info] = quads.render(0, count);
  EXPECT_TRUE(splat_info.splat);
  EXPECT_FALSE(quads_info.splat);
  EXPECT_EQ(splat_info.particles_on_gpu, path == ParticlePath::kGpu);
  EXPECT_EQ(splat_info.stats, quads_info.stats) << "both count what the particle path counts";
  EXPECT_GT(splat_info.stats.drawn, count / 2);
  EXPECT_EQ(splat_info.splat_overflow_tiles, 0U);
  expect_images_agree(splat_image, quads_image, kSplatTolerance,
                      std::string(path == ParticlePath::kGpu ? "pull_" : "layout_") + std::to_string(w) + "x" +
                          std::to_string(h));
}

TEST_F(Splat, Golden_MatchesQuads_GpuPull_640x480) { expect_splat_matches_quads(ParticlePath::kGpu, 640, 480, 3000); }
TEST_F(Splat, Golden_MatchesQuads_GpuPull_1280x720) { expect_splat_matches_quads(ParticlePath::kGpu, 1280, 720, 3000); }
TEST_F(Splat, Golden_MatchesQuads_LayoutPass_640x480) { expect_splat_matches_quads(ParticlePath::kCpu, 640, 480, 3000); }
TEST_F(Splat, Golden_MatchesQuads_LayoutPass_1280x720) {
  expect_splat_matches_quads(ParticlePath::kCpu, 1280, 720, 3000);
}
TEST_F(Splat, Golden_MatchesQuads_LayoutPassStaged_640x480) {
  expect_splat_matches_quads(ParticlePath::kCpu, 640, 480, 3000, HostMemoryPath::kStaging);
}

TEST_F(Splat, Golden_AShedFrameMatchesQuads) {
  // A governor's shed frame (half resolution, every second particle) takes
  // the layout pass, which scales it; both paths draw it into the top-left.
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  const auto particles = scene(2000, kW, kH, 17);
  const auto n = static_cast<std::uint32_t>(particles.size());
  Rig splat = Rig::make(ParticlePath::kAuto, n, kW, kH, 2, RasterPath::kSplat);
  Rig quads = Rig::make(ParticlePath::kAuto, n, kW, kH, 2, RasterPath::kQuads);
  ASSERT_TRUE(splat.renderer && quads.renderer);
  std::vector<Image> images;
  for (Rig* r : {&splat, &quads}) {
    r->fill(0, particles);
    FrameInput in;
    in.frame = 1;
    in.compute_slot = r->slot_bytes[0];
    in.particle_count = n;
    in.resolution_scale = 0.5F;
    in.draw_stride = 2;
    auto t = r->renderer->submit(in);
    ASSERT_TRUE(t.ok()) << t.error().what();
    const auto t0 = std::chrono::steady_clock::now();
    auto info = r->renderer->wait_frame(t.value(), test::kWait);
    ASSERT_TRUE(info.ok()) << info.error().what();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, test::kWait / 4) << "returned well inside its timeout";
    EXPECT_FALSE(info.value().particles_on_gpu) << "a shed frame takes the layout pass";
    EXPECT_EQ(info.value().splat, r == &splat);
    auto img = image_from_result_zone(r->zones.result[0]);
    ASSERT_TRUE(img.ok());
    images.push_back(img.value());
  }
  expect_images_agree(images[0], images[1], kSplatTolerance, "shed");
}

TEST_F(Splat, Hostile_CountsMatchWhatWasInjectedOnBothInputs) {
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  const Injected in = hostile_scene(kW, kH);
  const auto n = static_cast<std::uint32_t>(in.particles.size());
  for (ParticlePath path : {ParticlePath::kGpu, ParticlePath::kCpu}) {
    Rig splat = Rig::make(path, n, kW, kH, 2, RasterPath::kSplat);
    Rig quads = Rig::make(path, n, kW, kH, 2, RasterPath::kQuads);
    ASSERT_TRUE(splat.renderer && quads.renderer);
    splat.fill(1, in.particles);
    quads.fill(1, in.particles);
    auto [splat_image, splat_info] = splat.render(1, n);
    auto [quads_image, quads_info] = quads.render(1, n);
    EXPECT_EQ(splat_info.particles_on_gpu, path == ParticlePath::kGpu);
    EXPECT_EQ(splat_info.stats, in.expected) << "drawn " << splat_info.stats.drawn << " culled "
                                             << splat_info.stats.culled << " nonfinite " << splat_info.stats.nonfinite
                                             << " bad_size " << splat_info.stats.bad_size << " bad_shape "
                                             << splat_info.stats.bad_shape << " clamped " << splat_info.stats.clamped;
    expect_images_agree(splat_image, quads_image, kSplatTolerance,
                        path == ParticlePath::kGpu ? "hostile_pull" : "hostile_layout");
    EXPECT_TRUE(splat.renderer->health().ok());
  }
}

TEST_F(Splat, Hostile_SlotRewrittenWhileDrawnSpoilsOnlyItsPicture) {
  test::expect_scribbled_slot_draws(RasterPath::kSplat);
}

TEST_F(Splat, Deterministic_TwoRunsAreBitIdentical) {
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  // Dense enough that every tile blends many particles in one order.
  const auto particles = scene(20000, kW, kH, 3);
  const auto n = static_cast<std::uint32_t>(particles.size());
  Rig first = Rig::make(ParticlePath::kGpu, n, kW, kH, 2, RasterPath::kSplat);
  Rig second = Rig::make(ParticlePath::kGpu, n, kW, kH, 2, RasterPath::kSplat);
  ASSERT_TRUE(first.renderer && second.renderer);
  first.fill(0, particles);
  second.fill(0, particles);
  auto [a, a_info] = first.render(0, n, 1);
  auto [b, b_info] = first.render(0, n, 2);
  auto [c, c_info] = second.render(0, n, 1);
  expect_images_agree(a, b, 0, "deterministic_frames");
  expect_images_agree(a, c, 0, "deterministic_renderers");
  EXPECT_EQ(a.rgba, c.rgba);
}

// Renders the same dense scene with the default tile lists and with
// `tile_list` / `entries` shrunk; returns both images and infos.
struct Dense {
  static constexpr std::uint32_t kW = 256;
  static constexpr std::uint32_t kH = 128;
  static constexpr std::uint32_t kTiles = (kW / 16) * (kH / 16);
  std::pair<Image, FrameInfo> shrunk, roomy, quads;
};

Dense render_dense(std::uint32_t tile_list, std::uint32_t entries) {
  const auto particles = scene(6000, Dense::kW, Dense::kH, 21);
  const auto n = static_cast<std::uint32_t>(particles.size());
  Rig shrunk = Rig::make(ParticlePath::kGpu, n, Dense::kW, Dense::kH, 2, RasterPath::kSplat, tile_list, entries);
  Rig roomy = Rig::make(ParticlePath::kGpu, n, Dense::kW, Dense::kH, 2, RasterPath::kSplat);
  Rig quads = Rig::make(ParticlePath::kGpu, n, Dense::kW, Dense::kH, 2, RasterPath::kQuads);
  if (!shrunk.renderer || !roomy.renderer || !quads.renderer) return {};
  for (Rig* r : {&shrunk, &roomy, &quads}) r->fill(2, particles);
  return {shrunk.render(2, n), roomy.render(2, n), quads.render(2, n)};
}

void expect_dense_agrees_with_quads(const Image& splat, const Image& quads) {
  expect_images_agree(splat, quads, kDenseTolerance, "dense_vs_quads");
  auto d = compare_images(splat, quads, kSplatTolerance);
  ASSERT_TRUE(d.ok());
  EXPECT_LE(static_cast<double>(d.value().pixels_over), kDenseShareBeyond * Dense::kW * Dense::kH)
      << d.value().pixels_over << " pixels beyond " << kSplatTolerance << ", max delta " << d.value().max_delta;
}

TEST_F(Splat, Overflow_ListsLongerThanSharedMemorySortInPlaceToTheSameImage) {
  // Lists of more than 8 sort in device memory: nearly every tile here.
  const Dense d = render_dense(8, 0);
  EXPECT_EQ(d.shrunk.second.splat_overflow_tiles, 0U);
  EXPECT_EQ(d.shrunk.second.stats, d.roomy.second.stats);
  expect_images_agree(d.shrunk.first, d.roomy.first, 0, "in_place_vs_shared");
  expect_dense_agrees_with_quads(d.shrunk.first, d.quads.first);
}

TEST_F(Splat, Overflow_ATileWithoutRoomIsScannedAndCountedNeverLost) {
  // 64 entries for 128 tiles of a 6000-particle scene: almost every tile finds no room.
  const Dense d = render_dense(0, 64);
  EXPECT_GT(d.shrunk.second.splat_overflow_tiles, Dense::kTiles / 2) << "tiles without room are counted";
  EXPECT_LE(d.shrunk.second.splat_overflow_tiles, Dense::kTiles);
  EXPECT_EQ(d.roomy.second.splat_overflow_tiles, 0U);
  EXPECT_EQ(d.shrunk.second.stats, d.roomy.second.stats);
  // The scan blends exactly the records a list would have held, in the same order.
  expect_images_agree(d.shrunk.first, d.roomy.first, 0, "scanned_vs_listed");
  expect_dense_agrees_with_quads(d.shrunk.first, d.quads.first);
}

TEST_F(Splat, Overflow_OneCrowdedTileCostsOnlyItself) {
  constexpr std::uint32_t kW = 256;
  constexpr std::uint32_t kH = 128;
  std::vector<Particle> particles;
  // One small circle in the middle of every tile but the crowded one...
  for (std::uint32_t ty = 0; ty < kH / 16; ++ty) {
    for (std::uint32_t tx = 0; tx < kW / 16; ++tx) {
      if (tx == 5 && ty == 3) continue;
      particles.push_back(test::circle(static_cast<float>(tx * 16 + 8), static_cast<float>(ty * 16 + 8), 2.0F,
                                       rgba(static_cast<std::uint8_t>(tx * 16), static_cast<std::uint8_t>(ty * 32), 200, 220)));
    }
  }
  // ... and 300 overlapping ones inside tile (5, 3), each a different colour.
  for (std::uint32_t i = 0; i < 300; ++i) {
    particles.push_back(test::circle(5 * 16 + 7.0F + static_cast<float>(i % 3), 3 * 16 + 7.0F + static_cast<float>(i % 2),
                                     2.0F, rgba(static_cast<std::uint8_t>(i), static_cast<std::uint8_t>(255 - i), 90, 120)));
  }
  const auto n = static_cast<std::uint32_t>(particles.size());
  // Room for the 127 lone circles, not for the crowded tile's 300.
  Rig tight = Rig::make(ParticlePath::kGpu, n, kW, kH, 2, RasterPath::kSplat, 0, 200);
  Rig roomy = Rig::make(ParticlePath::kGpu, n, kW, kH, 2, RasterPath::kSplat);
  ASSERT_TRUE(tight.renderer && roomy.renderer);
  tight.fill(0, particles);
  roomy.fill(0, particles);
  auto [scanned, scanned_info] = tight.render(0, n);
  auto [listed, listed_info] = roomy.render(0, n);
  EXPECT_EQ(scanned_info.splat_overflow_tiles, 1U) << "only the crowded tile is scanned";
  EXPECT_EQ(listed_info.splat_overflow_tiles, 0U);
  expect_images_agree(scanned, listed, 0, "crowded_tile");
}

TEST_F(Splat, Choice_TheRasterPathAndItsReason) {
  Rig quads = Rig::make(ParticlePath::kAuto, 64, 32, 32, 2, RasterPath::kQuads);
  Rig splat = Rig::make(ParticlePath::kAuto, 64, 32, 32, 2, RasterPath::kSplat);
  Rig automatic = Rig::make(ParticlePath::kAuto, 64, 32, 32);
  ASSERT_TRUE(quads.renderer && splat.renderer && automatic.renderer);
  EXPECT_FALSE(quads.renderer->raster_path().splat);
  EXPECT_NE(quads.renderer->raster_path().why.find("selected"), std::string::npos);
  EXPECT_TRUE(splat.renderer->raster_path().splat);
  EXPECT_NE(splat.renderer->raster_path().why.find("selected"), std::string::npos);
  const RasterChoice& a = automatic.renderer->raster_path();
  if (automatic.renderer->device().type == "cpu") {
    EXPECT_FALSE(a.splat);
    EXPECT_NE(a.why.find("software rasteriser"), std::string::npos) << a.why;
  } else {
    EXPECT_NE(a.why.find("measured"), std::string::npos) << a.why;
  }
}

TEST_F(Splat, Choice_AutoMeasuresBothAndSaysWhatItMeasured) {
  const auto particles = scene(500, 160, 120, 8);
  const auto n = static_cast<std::uint32_t>(particles.size());
  Zones zones = Zones::make(n, 160, 120);
  std::vector<HostZone> slots;
  std::vector<std::span<std::byte>> slot_bytes;
  for (int i = 0; i < 3; ++i) {
    slots.push_back(HostZone::create(align_up(std::uint64_t{n} * sizeof(Particle), kPageSize)).value());
    slot_bytes.push_back(slots.back().bytes());
  }
  VulkanRendererConfig c;
  c.layout.width = 160;
  c.layout.height = 120;
  c.clear_color = test::kClear;
  c.vulkan = test::validated_options();
  c.compute_slots = slot_bytes;
  c.raster_trial_on_cpu = true;
  auto r = VulkanRenderer::create(std::move(c), zones.layout, zones.result);
  ASSERT_TRUE(r.ok()) << r.error().what();
  const RasterChoice& choice = r.value()->raster_path();
  EXPECT_NE(choice.why.find("auto measured compute splat"), std::string::npos) << choice.why;
  EXPECT_NE(choice.why.find(" particles at 160x120 on " + r.value()->device().name), std::string::npos) << choice.why;
  EXPECT_EQ(choice.why.rfind(choice.splat ? "compute splat:" : "raster quads:", 0), 0U) << choice.why;
  // Whatever it picked draws.
  std::memcpy(slot_bytes[0].data(), particles.data(), particles.size() * sizeof(Particle));
  FrameInput in;
  in.frame = 1;
  in.compute_slot = slot_bytes[0];
  in.particle_count = n;
  auto t = r.value()->submit(in);
  ASSERT_TRUE(t.ok()) << t.error().what();
  const auto t0 = std::chrono::steady_clock::now();
  auto info = r.value()->wait_frame(t.value(), test::kWait);
  ASSERT_TRUE(info.ok()) << info.error().what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, test::kWait / 4) << "returned well inside its timeout";
  EXPECT_EQ(info.value().splat, choice.splat);
}

TEST_F(Splat, Choice_TileListsTheDeviceCannotHoldAreRefused) {
  Zones zones = Zones::make(64, 32, 32);
  VulkanRendererConfig c;
  c.layout.width = 32;
  c.layout.height = 32;
  c.vulkan = test::validated_options();
  c.raster = RasterPath::kSplat;
  c.splat_tile_list = 3;
  auto r = VulkanRenderer::create(c, zones.layout, zones.result);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, Errc::kInvalidArgument);
  EXPECT_NE(r.error().message.find("power of two"), std::string::npos) << r.error().message;
  c.splat_tile_list = 0;
  c.splat_entries = 0xFFFFFFFFu;
  auto too_many = VulkanRenderer::create(c, zones.layout, zones.result);
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, Errc::kInvalidArgument);
  EXPECT_NE(too_many.error().message.find("splat_entries"), std::string::npos) << too_many.error().message;
}

}  // namespace
}  // namespace triptych::render
