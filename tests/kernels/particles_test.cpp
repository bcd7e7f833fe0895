// SPDX-License-Identifier: Apache-2.0
// The default particle kernel, native build (the reference the WASM build is
// compared against in tests/node/kernel_equivalence.test.mjs): deterministic,
// chunking-invariant, bounded, and strict about its context.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "triptych_kernel.h"

namespace {

struct Frames {
  std::vector<tp_particle> a, b;
  tp_kernel_ctx ctx{};

  explicit Frames(std::uint32_t n) : a(n), b(n) {
    ctx.abi_version = TP_KERNEL_ABI_VERSION;
    ctx.item_count = n;
    ctx.kernel_base = 0;
    ctx.item_bytes = sizeof(tp_particle);
    ctx.dt = 1.0f / 120.0f;
    ctx.seed = 1234;
  }

  // Runs `frames` frames, chunked into `chunk`-item steps; returns the last output.
  const std::vector<tp_particle>& run(std::uint32_t frames, std::uint32_t chunk) {
    std::vector<tp_particle>* in = &a;
    std::vector<tp_particle>* out = &b;
    for (std::uint32_t f = 1; f <= frames; ++f) {
      ctx.frame_id = f;
      ctx.time = static_cast<float>(f) * ctx.dt;
      ctx.flags = f == 1 ? TP_CTX_FIRST_FRAME : 0u;
      ctx.input_offset = reinterpret_cast<std::uintptr_t>(in->data());
      ctx.output_offset = reinterpret_cast<std::uintptr_t>(out->data());
      for (std::uint32_t begin = 0; begin < ctx.item_count; begin += chunk) {
        const std::uint32_t end = std::min(ctx.item_count, begin + chunk);
        EXPECT_EQ(tp_kernel_step(&ctx, begin, end), 0);
      }
      std::swap(in, out);
    }
    return *in;
  }
};

TEST(Kernels, Particles_AbiVersionAndInit) {
  EXPECT_EQ(tp_kernel_abi_version(), TP_KERNEL_ABI_VERSION);
  tp_kernel_ctx ctx{};
  ctx.abi_version = TP_KERNEL_ABI_VERSION;
  EXPECT_EQ(tp_kernel_init(&ctx), 0);
  ctx.abi_version = 99;
  EXPECT_NE(tp_kernel_init(&ctx), 0);
}

TEST(Kernels, Particles_ResultDoesNotDependOnChunking) {
  Frames whole(1003), chunked(1003), odd(1003);
  const auto& r1 = whole.run(30, 1003);
  const auto& r2 = chunked.run(30, 64);
  const auto& r3 = odd.run(30, 7);
  ASSERT_EQ(std::memcmp(r1.data(), r2.data(), r1.size() * sizeof(tp_particle)), 0);
  ASSERT_EQ(std::memcmp(r1.data(), r3.data(), r1.size() * sizeof(tp_particle)), 0);
}

TEST(Kernels, Particles_StayFiniteAndInsideTheSquare) {
  Frames f(4096);
  f.ctx.dt = 0.25f;  // far beyond a frame: the walls must still hold
  const auto& r = f.run(200, 256);
  std::size_t moved = 0;
  for (const tp_particle& p : r) {
    ASSERT_TRUE(std::isfinite(p.x) && std::isfinite(p.y) && std::isfinite(p.vx) && std::isfinite(p.vy));
    ASSERT_LE(std::fabs(p.x), 1.0f);
    ASSERT_LE(std::fabs(p.y), 1.0f);
    moved += (p.vx != 0.0f || p.vy != 0.0f) ? 1 : 0;
    // What the render stage will be told to draw: a known shape, a sane size, opaque-ish.
    ASSERT_TRUE(p.shape == TP_SHAPE_CIRCLE || p.shape == TP_SHAPE_ROUNDED_RECT);
    ASSERT_GT(p.size, 0.0f);
    ASSERT_LT(p.size, 0.01f);
    ASSERT_EQ(p.rgba >> 24, 200u);
    ASSERT_EQ(p.reserved, 0u);
  }
  EXPECT_GT(moved, r.size() / 2);  // the field actually moves particles
}

TEST(Kernels, Particles_RejectsBadRangesAndItemSizes) {
  Frames f(64);
  f.run(1, 64);
  EXPECT_EQ(tp_kernel_step(&f.ctx, 10, 5), 3);   // begin > end
  EXPECT_EQ(tp_kernel_step(&f.ctx, 0, 65), 3);   // past item_count
  f.ctx.item_bytes = 8;
  EXPECT_EQ(tp_kernel_step(&f.ctx, 0, 64), 2);
}

}  // namespace
