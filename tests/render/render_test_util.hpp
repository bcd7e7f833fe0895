// SPDX-License-Identifier: Apache-2.0
// Shared helpers for the render tests: zones, scene builders, a validation
// sink that counts every Khronos validation message (any message fails the
// test), and golden-image comparison that writes the actual and diff images
// on failure. Test-thread only except the sink (any thread). See docs/render-stage.md.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

#include "triptych/render/cpu_stage.hpp"
#include "triptych/render/image.hpp"
#include "triptych/render/scene.hpp"
#include "triptych/render/vulkan_renderer.hpp"
#include "support/host_zone.hpp"

namespace triptych::render {
// The render tests' stand-in for arena zones.
using triptych::test::HostZone;
}  // namespace triptych::render

namespace triptych::render::test {

// Counts validation messages process-wide; tests assert it stays 0.
struct ValidationLog {
  std::atomic<std::uint64_t> count{0};
  std::mutex mu;
  std::vector<std::string> messages;
  static ValidationLog& get() {
    static ValidationLog log;
    return log;
  }
};

inline VulkanOptions validated_options() {
  VulkanOptions o;
  o.validation = true;
  o.on_validation_message = [](const std::string& m) {
    auto& log = ValidationLog::get();
    log.count.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard lk(log.mu);
    log.messages.push_back(m);
    std::fprintf(stderr, "VALIDATION %s\n", m.c_str());
  };
  return o;
}

// Fails the current test if any validation message arrived since `before`.
inline void expect_no_validation_messages(std::uint64_t before) {
  auto& log = ValidationLog::get();
  EXPECT_EQ(log.count.load(std::memory_order_relaxed), before) << "Vulkan validation reported messages";
}

inline Particle circle(float x, float y, float r, std::uint32_t c) {
  return {x, y, 0.0F, 0.0F, r, c, static_cast<std::uint32_t>(Shape::kCircle), 0};
}
inline Particle rounded_rect(float x, float y, float half, std::uint32_t c) {
  return {x, y, 0.0F, 0.0F, half, c, static_cast<std::uint32_t>(Shape::kRoundedRect), 0};
}
inline Particle line(float x, float y, float dx, float dy, float half_thickness, std::uint32_t c) {
  return {x, y, dx, dy, half_thickness, c, static_cast<std::uint32_t>(Shape::kLine), 0};
}

// Deterministic pseudo-random particles of every shape (no std::rand state).
inline std::vector<Particle> random_particles(std::uint32_t n, float w, float h, std::uint32_t seed) {
  std::vector<Particle> v;
  v.reserve(n);
  std::uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  auto next = [&s] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<float>(s >> 40) / static_cast<float>(1 << 24);
  };
  for (std::uint32_t i = 0; i < n; ++i) {
    const float x = next() * w;
    const float y = next() * h;
    const auto shape = static_cast<std::uint32_t>(next() * 3.0F) % 3;
    const auto color = rgba(static_cast<std::uint8_t>(next() * 255), static_cast<std::uint8_t>(next() * 255),
                            static_cast<std::uint8_t>(next() * 255), static_cast<std::uint8_t>(128 + next() * 127));
    v.push_back({x, y, (next() - 0.5F) * 8.0F, (next() - 0.5F) * 8.0F, 0.5F + next() * 2.5F, color, shape, 0});
  }
  return v;
}

inline std::span<const std::byte> bytes_of(const std::vector<Particle>& v) {
  return std::as_bytes(std::span<const Particle>(v));
}

// Three layout and three result zones, the arena's triple buffers.
struct Zones {
  std::vector<HostZone> owned;
  std::vector<std::span<std::byte>> layout;
  std::vector<std::span<std::byte>> result;

  static Zones make(std::uint32_t capacity, std::uint32_t width, std::uint32_t height, std::uint32_t count = 3,
                    HostZone::Backing backing = HostZone::Backing::kAnonymous) {
    Zones z;
    for (std::uint32_t i = 0; i < count; ++i) {
      z.owned.push_back(HostZone::create(layout_zone_bytes(capacity), backing).value());
      z.layout.push_back(z.owned.back().bytes());
    }
    for (std::uint32_t i = 0; i < count; ++i) {
      z.owned.push_back(HostZone::create(result_zone_bytes(width, height), backing).value());
      z.result.push_back(z.owned.back().bytes());
    }
    return z;
  }
};

inline std::string golden_dir() { return TRIPTYCH_RENDER_GOLDEN_DIR; }
inline std::string out_dir() {
  std::filesystem::create_directories(TRIPTYCH_RENDER_OUT_DIR);
  return TRIPTYCH_RENDER_OUT_DIR;
}

// Per-channel tolerance for golden images: lavapipe is deterministic, other
// drivers may round blends and edge coverage differently by a step or two.
inline constexpr std::uint32_t kGoldenTolerance = 2;

// Compares `actual` with tests/render/golden/<name>.png. With
// TRIPTYCH_UPDATE_GOLDEN=1 in the environment it rewrites the golden instead.
// On failure writes <out>/<name>.actual.png and <name>.diff.png.
inline void expect_golden(const std::string& name, const Image& actual) {
  const std::string golden = golden_dir() + "/" + name + ".png";
  const char* update = std::getenv("TRIPTYCH_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    ASSERT_TRUE(write_png(golden, actual).ok());
    return;
  }
  auto expected = read_png(golden);
  ASSERT_TRUE(expected.ok()) << expected.error().what();
  auto diff = compare_images(actual, expected.value(), kGoldenTolerance);
  ASSERT_TRUE(diff.ok()) << diff.error().what();
  if (diff.value().pixels_over != 0) {
    const std::string base = out_dir() + "/" + name;
    (void)write_png(base + ".actual.png", actual);
    (void)write_png(base + ".diff.png", diff.value().diff);
    ADD_FAILURE() << name << ": " << diff.value().pixels_over << " pixels differ by more than "
                  << kGoldenTolerance << " (max " << diff.value().max_delta << "); wrote " << base
                  << ".actual.png and .diff.png";
  }
}

}  // namespace triptych::render::test
