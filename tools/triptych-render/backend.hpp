// SPDX-License-Identifier: Apache-2.0
// The render process's renderer: the Vulkan renderer when the host's engine
// renders with Vulkan (RenderSetup::renderer), reading the layout pass's
// zones in C and reading back into the result zones in C, or the CPU
// reference; a Vulkan renderer that cannot be built falls back to the CPU
// reference with a message on stderr. Vulkan is initialised before the
// render process enters its sandbox (the driver opens its files and devices
// first), and a warm standby warms it before it waits for its ATTACH
// (VulkanWarmup): the driver is loaded and a device made, held until the
// real renderer, whose images need the setup's sizes, is built at attach.
// One thread (the render process's main thread). Design: docs/isolation.md,
// "The render process".
#pragma once

#include <array>
#include <memory>
#include <span>
#include <string>

#include "triptych/core/result.hpp"
#include "triptych/isolate/render_session.hpp"
#include "triptych/render/cpu_stage.hpp"
#include "triptych/render/vulkan_renderer.hpp"

namespace triptych::render_process {

// A Vulkan renderer over a small private target, built ahead so that the
// loader, the driver and its device are up before the ATTACH; holding it
// keeps them loaded (the loader unloads a driver with its last instance).
class VulkanWarmup {
 public:
  // Never fails: a Vulkan that cannot start is reported by the real build.
  [[nodiscard]] static std::unique_ptr<VulkanWarmup> start();
  [[nodiscard]] bool ready() const noexcept { return renderer_ != nullptr; }

 private:
  // One layout and one result zone, page-aligned as the renderer imports them.
  alignas(4096) std::array<std::array<std::byte, 1 << 16>, 2> zones_{};
  std::unique_ptr<render::VulkanRenderer> renderer_;
};

class Backend {
 public:
  // Builds the renderer the setup names over C's zones; `warm` (may be
  // null) is released once the real renderer stands.
  [[nodiscard]] static Result<std::unique_ptr<Backend>> create(
      const isolate::RenderSetup& setup, std::span<const std::span<std::byte>> layout_zones,
      std::span<const std::span<std::byte>> result_zones, std::unique_ptr<VulkanWarmup> warm);
  // Renders one frame into its result zone in C and returns when the pixels
  // are there (after the GPU fence and the readback, for Vulkan).
  [[nodiscard]] Result<void> render(const render::FrameInput& in);
  [[nodiscard]] bool vulkan() const noexcept { return vulkan_ != nullptr; }

 private:
  std::unique_ptr<render::CpuRenderStage> cpu_;
  std::unique_ptr<render::VulkanRenderer> vulkan_;
};

}  // namespace triptych::render_process
