// SPDX-License-Identifier: Apache-2.0
// --renderer auto where the only Vulkan device is a software rasteriser:
// before the first frame is issued, render a synthetic scene of the run's
// particle count with both stages, alternating, and keep the faster. The
// measurement is part of start-up, so every frame of the run goes to one
// renderer and is held against its deadline. Runs once, on the thread that
// creates the engine, before any engine thread exists. Design:
// docs/pipeline.md, "Renderer choice".
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "engine_impl.hpp"
#include "triptych/render/scene.hpp"
#include "triptych/trace/clock.hpp"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

// A frame of the probe that takes longer than this is a hang: creation fails.
constexpr auto kProbeTimeout = 20s;

// The probe's scene: what the bundled kernel draws (kernels/particles.c),
// so its cost is the default scene's. Positions spread over the view,
// radii 0.0035 to 0.007 world units, one rounded square in 64.
void fill_probe_scene(std::span<std::byte> slot, std::uint32_t count) {
  std::mt19937 random(0x5eedU);  // the same scene every run
  std::uniform_real_distribution<float> spread(-0.9F, 0.9F), speed(-0.5F, 0.5F), grow(0.0F, 1.0F);
  for (std::uint32_t i = 0; i < count; ++i) {
    render::Particle p{};
    p.x = spread(random);
    p.y = spread(random);
    p.vx = speed(random);
    p.vy = speed(random);
    p.size = 0.0035F * (1.0F + grow(random));
    p.rgba = 0xC8FFB4A0U;
    p.shape = (i & 63U) == 0U ? static_cast<std::uint32_t>(render::Shape::kRoundedRect)
                              : static_cast<std::uint32_t>(render::Shape::kCircle);
    std::memcpy(slot.data() + std::size_t{i} * sizeof p, &p, sizeof p);
  }
}

std::uint64_t median(std::array<std::uint64_t, kRendererWarmupFrames> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

// One probe frame on one stage, submitted and waited for; its wall time.
Result<std::uint64_t> Engine::Impl::probe_frame(bool on_cpu, std::uint32_t index, std::span<const std::byte> slot) {
  render::FrameInput in;
  in.frame = index;
  in.compute_slot = slot;
  in.particle_count = cfg.particles;
  in.layout_zone = index % 3;
  in.result_zone = 0;
  const std::uint64_t start = trace::now_ns();
  const Result<std::uint64_t> ticket = on_cpu ? cpu->submit(in) : vulkan->submit(in);
  if (!ticket) return ticket.error();
  const Result<render::FrameInfo> info =
      on_cpu ? cpu->wait_frame(ticket.value(), kProbeTimeout) : vulkan->wait_frame(ticket.value(), kProbeTimeout);
  if (!info) return info.error();
  if (cfg.test_render_stall) {
    const std::uint64_t ns = cfg.test_render_stall(index, on_cpu ? RendererKind::kCpu : RendererKind::kVulkan, 1.0);
    if (ns != 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
  }
  return trace::now_ns() - start;
}

Result<void> Engine::Impl::probe_renderers(const std::string& device_name) {
  // Compute slot A is the kernel's, but no kernel has run yet: borrow it and
  // put its bytes back, so the GPU particle pull reads an imported slot.
  const std::span<std::byte> slot = zone(ZoneId::kComputeA);
  const std::size_t bytes = std::size_t{cfg.particles} * sizeof(render::Particle);
  if (slot.size() < bytes) {
    return make_error(Errc::kOutOfRange, "compute slot of " + std::to_string(slot.size()) + " bytes cannot hold " +
                                             std::to_string(cfg.particles) + " particles for the renderer probe");
  }
  const std::vector<std::byte> saved(slot.begin(), slot.begin() + static_cast<std::ptrdiff_t>(bytes));
  fill_probe_scene(slot, cfg.particles);
  std::array<std::uint64_t, kRendererWarmupFrames> vulkan_ns{}, cpu_ns{};
  Result<void> outcome;
  // Frame 0 of each stage is untimed: it pays for first use.
  for (std::uint32_t i = 0; outcome && i <= kRendererWarmupFrames; ++i) {
    for (const bool on_cpu : {false, true}) {
      const Result<std::uint64_t> ns = probe_frame(on_cpu, 2 * i + (on_cpu ? 1U : 0U), slot.first(bytes));
      if (!ns) {
        outcome = make_error(ns.error().code, std::string("renderer probe, ") +
                                                    (on_cpu ? "CPU reference" : "Vulkan") + ": " + ns.error().what());
        break;
      }
      if (i > 0) (on_cpu ? cpu_ns : vulkan_ns)[i - 1] = ns.value();
    }
  }
  std::memcpy(slot.data(), saved.data(), bytes);
  if (!outcome) return outcome;
  const std::uint64_t vk = median(vulkan_ns);
  const std::uint64_t cp = median(cpu_ns);
  use_cpu = cp < vk;
  if (use_cpu) vulkan.reset();  // its device memory and lavapipe's threads go back
  char why[320];
  std::snprintf(why, sizeof why,
                "auto picked %s: %s is a software rasteriser; at start-up, median render %.1f ms against %.1f ms for "
                "%s over %u frames each of a %u-particle scene",
                use_cpu ? "the CPU reference" : "Vulkan", device_name.c_str(),
                static_cast<double>(use_cpu ? cp : vk) * 1e-6, static_cast<double>(use_cpu ? vk : cp) * 1e-6,
                use_cpu ? "Vulkan" : "the CPU reference", kRendererWarmupFrames, cfg.particles);
  std::lock_guard<std::mutex> lock(message_mu);
  renderer_choice = why;
  return {};
}

}  // namespace triptych::pipeline
