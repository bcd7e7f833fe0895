// SPDX-License-Identifier: Apache-2.0
// The particle render tests' rig: three compute slots (the arena's compute A,
// B, C), layout and result zones and a validated Vulkan renderer over them,
// with the particle path and raster path chosen; a mixed scene of every
// shape; a hostile scene whose verdicts are known; and a slot rewritten by
// another thread while it is drawn. Shared by the GPU
// particle pull and compute splat tests. Test-thread only. See docs/render-stage.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "render_test_util.hpp"

namespace triptych::render::test {

inline constexpr std::array<float, 4> kClear{0.05F, 0.05F, 0.1F, 1.0F};
inline constexpr auto kWait = std::chrono::seconds(120);

// Three compute slots (page-aligned, page-sized: the arena's compute A B C),
// layout and result zones, and a renderer over them.
struct Rig {
  std::vector<HostZone> slots;
  std::vector<std::span<std::byte>> slot_bytes;
  Zones zones;
  std::unique_ptr<VulkanRenderer> renderer;

  static Rig make(ParticlePath path, std::uint32_t capacity, std::uint32_t w, std::uint32_t h,
                  std::uint32_t frames_in_flight = 2, RasterPath raster = RasterPath::kAuto,
                  std::uint32_t splat_tile_list = 0, std::uint32_t splat_entries = 0,
                  HostMemoryPath layout_path = HostMemoryPath::kImport) {
    Rig rig;
    for (int i = 0; i < 3; ++i) {
      rig.slots.push_back(HostZone::create(align_up(std::uint64_t{capacity} * sizeof(Particle), kPageSize)).value());
      rig.slot_bytes.push_back(rig.slots.back().bytes());
    }
    rig.zones = Zones::make(capacity, w, h);
    VulkanRendererConfig c;
    c.layout.width = w;
    c.layout.height = h;
    c.layout.scale = 1.0F;
    c.layout.velocity_scale = 1.0F;
    c.clear_color = kClear;
    c.frames_in_flight = frames_in_flight;
    c.vulkan = validated_options();
    c.particle_path = path;
    c.raster = raster;
    c.splat_tile_list = splat_tile_list;
    c.splat_entries = splat_entries;
    c.layout_path = layout_path;
    c.compute_slots = rig.slot_bytes;
    auto r = VulkanRenderer::create(std::move(c), rig.zones.layout, rig.zones.result);
    EXPECT_TRUE(r.ok()) << r.error().what();
    if (r.ok()) rig.renderer = std::move(r).value();
    return rig;
  }

  void fill(std::uint32_t slot, const std::vector<Particle>& particles) {
    std::memcpy(slot_bytes[slot].data(), particles.data(), particles.size() * sizeof(Particle));
  }

  // Renders the particles in `slot` into result zone 0 and returns the image and info.
  std::pair<Image, FrameInfo> render(std::uint32_t slot, std::uint32_t count, std::uint64_t frame = 1) {
    FrameInput in;
    in.frame = frame;
    in.compute_slot = slot_bytes[slot];
    in.particle_count = count;
    auto t = renderer->submit(in);
    EXPECT_TRUE(t.ok()) << t.error().what();
    if (!t.ok()) return {};
    const auto t0 = std::chrono::steady_clock::now();
    auto info = renderer->wait_frame(t.value(), kWait);
    EXPECT_TRUE(info.ok()) << info.error().what();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, kWait / 4) << "returned well inside its timeout";
    if (!info.ok()) return {};
    auto img = image_from_result_zone(zones.result[0]);
    EXPECT_TRUE(img.ok());
    return {img.value(), info.value()};
  }
};

// Every shape, overlapping and blended, some partly off screen.
inline std::vector<Particle> scene(std::uint32_t n, std::uint32_t w, std::uint32_t h, std::uint32_t seed) {
  auto v = random_particles(n, static_cast<float>(w), static_cast<float>(h), seed);
  v.push_back(circle(-2.0F, 10.0F, 6.0F, rgba(255, 0, 0, 200)));
  v.push_back(line(static_cast<float>(w) - 5.0F, 20.0F, 40.0F, 30.0F, 2.0F, rgba(0, 255, 0, 255)));
  v.push_back(rounded_rect(static_cast<float>(w) / 2, static_cast<float>(h) / 2, 40.0F, rgba(0, 0, 255, 90)));
  return v;
}

// Hostile records, each of a known verdict, among good ones.
struct Injected {
  std::vector<Particle> particles;
  LayoutStats expected;
};

inline Injected hostile_scene(std::uint32_t w, std::uint32_t h) {
  constexpr float kNan = std::numeric_limits<float>::quiet_NaN();
  constexpr float kInf = std::numeric_limits<float>::infinity();
  Injected in;
  auto add = [&](const Particle& p, std::uint32_t LayoutStats::*verdict, bool clamped = false) {
    in.particles.push_back(p);
    ++(in.expected.*verdict);
    if (clamped) ++in.expected.clamped;
  };
  const std::uint32_t white = rgba(255, 255, 255, 255);
  for (std::uint32_t i = 0; i < 7; ++i) add(circle(kNan, 10.0F, 3.0F, white), &LayoutStats::nonfinite);
  for (std::uint32_t i = 0; i < 5; ++i) add(circle(10.0F, -kInf, 3.0F, white), &LayoutStats::nonfinite);
  for (std::uint32_t i = 0; i < 4; ++i) add(circle(10.0F, 10.0F, kInf, white), &LayoutStats::nonfinite);
  for (std::uint32_t i = 0; i < 3; ++i) add(line(20.0F, 20.0F, kNan, 1.0F, 1.0F, white), &LayoutStats::nonfinite);
  for (std::uint32_t i = 0; i < 6; ++i) add(circle(10.0F, 10.0F, -1.0F, white), &LayoutStats::bad_size);
  for (std::uint32_t i = 0; i < 9; ++i) {
    Particle p = circle(10.0F, 10.0F, 3.0F, white);
    p.shape = 3 + i * 1000;
    add(p, &LayoutStats::bad_shape);
  }
  // 1e30 sizes: clamped to max(w, h), drawn over everything.
  for (std::uint32_t i = 0; i < 2; ++i) add(circle(50.0F, 50.0F, 1e30F, rgba(9, 9, 9, 30)), &LayoutStats::drawn, true);
  // A line of 1e30 length: clamped, drawn.
  add(line(30.0F, 30.0F, 1e30F, 1e30F, 1.0F, white), &LayoutStats::drawn, true);
  // Finite but overflowing transform, off screen, zero size, transparent: culled.
  add(circle(3e38F, 10.0F, 1.0F, white), &LayoutStats::culled);
  add(circle(-50.0F, 10.0F, 1.0F, white), &LayoutStats::culled);
  add(circle(10.0F, 10.0F, 0.0F, white), &LayoutStats::culled);
  add(circle(10.0F, 10.0F, 4.0F, rgba(255, 255, 255, 0)), &LayoutStats::culled);
  for (std::uint32_t i = 0; i < 40; ++i) {
    add(circle(static_cast<float>(10 + (i * 37) % (w - 20)), static_cast<float>(10 + (i * 53) % (h - 20)), 4.0F,
                     rgba(200, static_cast<std::uint8_t>(i * 6), 40, 220)),
        &LayoutStats::drawn);
  }
  in.expected.input = static_cast<std::uint32_t>(in.particles.size());
  return in;
}

// A thread rewrites random words of the compute slot while 30 frames are
// pulled from it and drawn by `raster`: every record still lands in exactly
// one verdict, nothing fails.
inline void expect_scribbled_slot_draws(RasterPath raster) {
  constexpr std::uint32_t kN = 4096;
  Rig gpu = Rig::make(ParticlePath::kGpu, kN, 128, 128, 2, raster);
  ASSERT_TRUE(gpu.renderer);
  gpu.fill(0, scene(kN - 3, 128, 128, 5));
  std::atomic<bool> stop{false};
  std::thread scribbler([&] {
    auto* words = reinterpret_cast<std::uint32_t*>(gpu.slot_bytes[0].data());
    std::uint64_t s = 88172645463325252ULL;
    while (!stop.load(std::memory_order_relaxed)) {
      s ^= s << 13;
      s ^= s >> 7;
      s ^= s << 17;
      const auto scribble = static_cast<std::uint32_t>(s >> 32);
      // Relaxed: a hostile writer racing the GPU's reads; nothing is published.
      std::atomic_ref<std::uint32_t>(words[s % (kN * 8)]).store(scribble, std::memory_order_relaxed);
    }
  });
  constexpr int kFrames = 30;
  int completed = 0;
  for (int f = 0; f < kFrames; ++f) {
    auto [image, info] = gpu.render(0, kN, static_cast<std::uint64_t>(f));
    const LayoutStats& st = info.stats;
    // Every record lands in one verdict, even while it changes under the GPU.
    if (st.drawn + st.culled + st.nonfinite + st.bad_size + st.bad_shape + st.overflow == kN) ++completed;
  }
  stop.store(true, std::memory_order_relaxed);
  scribbler.join();
  EXPECT_EQ(completed, kFrames);
  EXPECT_TRUE(gpu.renderer->health().ok());
}

}  // namespace triptych::render::test
