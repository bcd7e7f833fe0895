// SPDX-License-Identifier: Apache-2.0
// The render process's renderer: see backend.hpp.
#include "backend.hpp"

#include <chrono>
#include <cstdio>

namespace triptych::render_process {
namespace {

using namespace std::chrono_literals;

constexpr auto kFrameTimeout = 10s;

// The renderer's settings for a render process: synchronous (one frame in
// flight), the CPU layout pass (H's compute slots are read-only here, so
// they are not imported for the GPU pull), the rest as in-process.
render::VulkanRendererConfig vulkan_config(const render::LayoutParams& layout, const std::array<float, 4>& clear) {
  render::VulkanRendererConfig vc;
  vc.layout = layout;
  vc.frames_in_flight = 1;
  vc.particle_path = render::ParticlePath::kCpu;
  vc.pool = render::serial_parallel_for();
  vc.clear_color = clear;
  return vc;
}

}  // namespace

std::unique_ptr<VulkanWarmup> VulkanWarmup::start() {
  std::unique_ptr<VulkanWarmup> w(new VulkanWarmup());
  render::LayoutParams layout;
  layout.width = 16;
  layout.height = 16;
  std::array<std::span<std::byte>, 1> layout_zone{std::span<std::byte>(w->zones_[0])};
  std::array<std::span<std::byte>, 1> result_zone{std::span<std::byte>(w->zones_[1])};
  auto r = render::VulkanRenderer::create(vulkan_config(layout, {0, 0, 0, 1}), layout_zone, result_zone);
  if (r) w->renderer_ = std::move(r).value();
  return w;
}

Result<std::unique_ptr<Backend>> Backend::create(const isolate::RenderSetup& setup,
                                                 std::span<const std::span<std::byte>> layout_zones,
                                                 std::span<const std::span<std::byte>> result_zones,
                                                 std::unique_ptr<VulkanWarmup> warm) {
  std::unique_ptr<Backend> b(new Backend());
  render::LayoutParams layout;
  isolate::copy_layout(layout, setup);
  if (setup.renderer == isolate::kRendererVulkan) {
    auto r = render::VulkanRenderer::create(vulkan_config(layout, setup.clear), layout_zones, result_zones);
    warm.reset();  // the real renderer holds the driver now
    if (r) {
      b->vulkan_ = std::move(r).value();
      return b;
    }
    std::fprintf(stderr, "triptych-render: Vulkan failed (%s): rendering with the CPU reference\n",
                 r.error().what().c_str());
  }
  auto cpu = render::CpuRenderStage::create(layout, setup.clear, layout_zones, result_zones);
  if (!cpu) return cpu.error();
  b->cpu_ = std::move(cpu).value();
  return b;
}

Result<void> Backend::render(const render::FrameInput& in) {
  if (vulkan_) {
    auto ticket = vulkan_->submit(in);
    if (!ticket) return ticket.error();
    auto done = vulkan_->wait_frame(ticket.value(), kFrameTimeout);
    if (!done) return done.error();
    return {};
  }
  auto ticket = cpu_->submit(in);
  if (!ticket) return ticket.error();
  auto done = cpu_->wait_frame(ticket.value(), kFrameTimeout);
  if (!done) return done.error();
  return {};
}

}  // namespace triptych::render_process
