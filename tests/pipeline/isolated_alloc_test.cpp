// SPDX-License-Identifier: Apache-2.0
// The isolated render stage's per-frame path on the host allocates nothing
// in steady state: the compute output is copied into H, RENDER is sent, DONE
// is received into the stage's own buffers, and the result is copied out of
// C and validated. Counted by a global operator new hook, for the calling
// (render) thread only: the supervisor and spawn threads are not the frame's
// path. Design: docs/isolation.md, "The isolated render stage".
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

#include "pipeline/isolated_stage.hpp"
#include "triptych/render/scene.hpp"

namespace {

thread_local bool g_counting = false;
thread_local std::uint64_t g_allocations = 0;

}  // namespace

// Out of line, so the compiler never pairs an inlined malloc with a free.
[[gnu::noinline]] void* operator new(std::size_t bytes) {
  if (g_counting) ++g_allocations;
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace triptych::pipeline {
namespace {

constexpr std::uint32_t kWidth = 64, kHeight = 48, kParticles = 500;

TEST(IsolatedStage, ASteadyStateFrameAllocatesNothingOnTheHost) {
  auto path = render_process_path();
  ASSERT_TRUE(path) << path.error().what();
  const std::size_t result_bytes = render::result_zone_bytes(kWidth, kHeight);
  std::vector<std::vector<std::uint64_t>> result_store(3, std::vector<std::uint64_t>(result_bytes / 8 + 1));
  std::array<std::span<std::byte>, 3> result_zones{};
  for (std::size_t i = 0; i < 3; ++i) {
    result_zones[i] = std::as_writable_bytes(std::span(result_store[i])).first(result_bytes);
    ASSERT_TRUE(render::init_result_zone(result_zones[i], kWidth, kHeight));
  }
  std::vector<render::Particle> particles(kParticles);
  for (std::uint32_t i = 0; i < kParticles; ++i) {
    particles[i] = render::Particle{static_cast<float>(i % kWidth), static_cast<float>(i % kHeight), 1, 0, 2,
                                    0xFF00FF00u | i, 0, 0};
  }
  IsolatedStageConfig c;
  c.executable = path.value();
  c.layout.width = kWidth;
  c.layout.height = kHeight;
  c.clear = {0, 0, 0, 1};
  c.compute_bytes = particles.size() * sizeof(render::Particle);
  c.layout_bytes = render::layout_zone_bytes(kParticles);
  c.test_mode = true;
  auto stage = IsolatedRenderStage::create(c, result_zones);
  ASSERT_TRUE(stage) << stage.error().what();
  auto frame = [&](std::uint64_t n) {
    render::FrameInput in;
    in.frame = n;
    in.compute_slot = std::as_bytes(std::span(particles));
    in.particle_count = kParticles;
    in.layout_zone = static_cast<std::uint32_t>(n % 3);
    in.result_zone = static_cast<std::uint32_t>(n % 3);
    return stage.value()->submit(in);
  };
  constexpr std::uint64_t kWarmup = 10, kCounted = 200;
  for (std::uint64_t n = 0; n < kWarmup; ++n) ASSERT_TRUE(frame(n)) << "warm-up frame " << n;
  std::uint64_t failed = 0;
  g_allocations = 0;
  g_counting = true;
  for (std::uint64_t n = kWarmup; n < kWarmup + kCounted; ++n) failed += frame(n) ? 0U : 1U;
  g_counting = false;
  EXPECT_EQ(failed, 0u);
  EXPECT_EQ(g_allocations, 0u) << "allocations on the host over " << kCounted << " frames";
  EXPECT_EQ(stage.value()->counters().frames_rendered, kWarmup + kCounted);
  EXPECT_EQ(stage.value()->counters().results_refused, 0u);
}

}  // namespace
}  // namespace triptych::pipeline
