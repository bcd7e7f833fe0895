// SPDX-License-Identifier: Apache-2.0
// The CPU reference renderer: the same layout pass and the same SDF coverage
// and "over" blending as the Vulkan shaders, rasterised on the calling thread.
// It is the independent oracle the golden tests check the GPU against and the
// second RenderStage implementation (synchronous: submit completes the
// frame). Blocking; one render thread calls submit/wait_frame; frame_ready()
// may be waited on by any thread. See docs/render-stage.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/render/layout_pass.hpp"
#include "triptych/render/render_stage.hpp"

namespace triptych::render {

// Draws the chunks of a laid-out zone over a cleared width x height RGBA8
// image (pixels: width * height * 4 bytes), exactly as the GPU pipeline does.
void rasterise(std::span<const std::byte> layout_zone, const LayoutResult& layout, std::uint32_t width,
               std::uint32_t height, const std::array<float, 4>& clear, std::span<std::uint8_t> pixels);

class CpuRenderStage {
 public:
  // Zones as for VulkanRenderer::create; result zones get their header written.
  [[nodiscard]] static Result<std::unique_ptr<CpuRenderStage>> create(
      const LayoutParams& layout, const std::array<float, 4>& clear,
      std::span<const std::span<std::byte>> layout_zones, std::span<const std::span<std::byte>> result_zones);

  [[nodiscard]] Result<std::uint64_t> submit(const FrameInput& input);
  [[nodiscard]] Result<FrameInfo> wait_frame(std::uint64_t ticket, std::chrono::nanoseconds timeout);
  [[nodiscard]] WaitWord& frame_ready() noexcept { return ready_; }
  [[nodiscard]] std::uint64_t completed() const noexcept { return next_ticket_; }
  void set_frame_ready_callback(FrameReadyCallback callback) { callback_ = std::move(callback); }

 private:
  CpuRenderStage() = default;
  LayoutParams layout_;
  std::array<float, 4> clear_{};
  std::vector<std::span<std::byte>> layout_zones_;
  std::vector<std::span<std::byte>> result_zones_;
  std::vector<std::uint8_t> scratch_;
  std::array<FrameInfo, kFrameHistory> history_{};
  std::uint64_t next_ticket_ = 0;
  WaitWord ready_;
  FrameReadyCallback callback_;
};

static_assert(RenderStage<CpuRenderStage>, "the CPU reference renderer is a RenderStage");

}  // namespace triptych::render
