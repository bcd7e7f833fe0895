// SPDX-License-Identifier: Apache-2.0
// kernelBenchNative (declared in kernel_bench.hpp): runs the native particle
// kernel over two heap slots, frame after frame, and times it with
// steady_clock. Single-threaded; blocks its caller for the whole run (main
// thread is fine: bench.mjs runs nothing else meanwhile). Design:
// docs/node.md ("The testing addon").
#include "kernel_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

#include "args.hpp"
#include "triptych_kernel.h"

namespace triptych::node::testing {

Napi::Value KernelBenchNative(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = get_object(env, info[0], "options");
  const auto particles = static_cast<std::uint32_t>(opt_uint(o, "particles", 1'000'000, 1, 1u << 24));
  const auto frames = static_cast<std::uint32_t>(opt_uint(o, "frames", 10, 1, 1'000'000));
  const auto chunk = static_cast<std::uint32_t>(opt_uint(o, "chunk", particles, 1, 1u << 24));
  std::vector<tp_particle> a(particles), b(particles);
  tp_kernel_ctx ctx{};
  ctx.abi_version = TP_KERNEL_ABI_VERSION;
  ctx.item_count = particles;
  ctx.item_bytes = sizeof(tp_particle);
  ctx.dt = 1.0F / 120.0F;
  ctx.seed = 1;
  ctx.flags = TP_CTX_FIRST_FRAME;
  ctx.output_offset = reinterpret_cast<std::uintptr_t>(a.data());
  ctx.input_offset = ctx.output_offset;
  (void)tp_kernel_step(&ctx, 0, particles);
  ctx.flags = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint32_t f = 0; f < frames; ++f) {
    ctx.frame_id = f + 2;
    ctx.time = static_cast<float>(f) * ctx.dt;
    ctx.input_offset = reinterpret_cast<std::uintptr_t>(f % 2 == 0 ? a.data() : b.data());
    ctx.output_offset = reinterpret_cast<std::uintptr_t>(f % 2 == 0 ? b.data() : a.data());
    for (std::uint32_t begin = 0; begin < particles; begin += chunk) {
      (void)tp_kernel_step(&ctx, begin, std::min(particles, begin + chunk));
    }
  }
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  return Napi::Number::New(env, dt.count());
}

}  // namespace triptych::node::testing
