// SPDX-License-Identifier: Apache-2.0
// The HUD: Dear ImGui's core lays out fps, a 240-frame frame-time strip with
// 8.33 / 16.67 ms guides, per-stage bars, misses, drops and the governor's
// state; a small Vulkan pipeline of ours draws ImGui's draw lists into the
// swapchain image after the scene's blit (a render pass that loads it). The
// prebuilt ImGui Vulkan backend is not used: it calls vk* prototypes, which
// would link the Vulkan loader into every binary (docs/presenter.md, "The
// HUD"). One ImGui context per HUD. The presenter's thread only; blocking
// at create and on swapchain changes, no allocation per frame once its
// buffers have grown to the HUD's size.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "render/window/presenter_impl.hpp"

struct ImGuiContext;

namespace triptych::render::window {

class Hud {
 public:
  // Builds the font atlas (uploaded through `queue`), the pipeline for
  // swapchain images of `format`, and one vertex/index buffer pair per present slot.
  [[nodiscard]] static Result<std::unique_ptr<Hud>> create(const Fns& fn, const VulkanHandles& vk, VkFormat format);
  Hud(const Hud&) = delete;
  Hud& operator=(const Hud&) = delete;
  ~Hud();

  // Views and framebuffers for the swapchain's images (after each recreation).
  [[nodiscard]] Result<void> set_targets(const std::vector<VkImage>& images, PresentExtent extent, VkFormat format);
  // The framebuffer of swapchain image `index` (set_targets): one attachment
  // of the swapchain's format, which the renderer's direct pass also fits.
  [[nodiscard]] VkFramebuffer framebuffer(std::uint32_t index) const noexcept { return framebuffers_[index]; }
  // Drops the views of the swapchain's images (before it is destroyed).
  void destroy_targets();
  // Lays out `stats` and records its draw into `cb`: the image `index` goes
  // from TRANSFER_DST_OPTIMAL to COLOR_ATTACHMENT_OPTIMAL. `slot` picks the
  // vertex buffers (free: the slot's last frame is done).
  [[nodiscard]] Result<void> record(VkCommandBuffer cb, std::uint32_t slot, std::uint32_t index, const HudStats& stats);

 private:
  Hud(const Fns& fn, const VulkanHandles& vk) : fn_(fn), vk_(vk) {}
  [[nodiscard]] Result<void> create_font(VkFormat format);
  [[nodiscard]] Result<void> create_pipeline(VkFormat format);
  [[nodiscard]] Result<void> fit(std::uint32_t slot, std::size_t vertex_bytes, std::size_t index_bytes);
  void layout(const HudStats& stats);

  struct Geometry {
    HostBuffer vertices;
    HostBuffer indices;
  };

  const Fns& fn_;
  VulkanHandles vk_;
  ImGuiContext* imgui_ = nullptr;
  VkImage font_ = VK_NULL_HANDLE;
  VkDeviceMemory font_memory_ = VK_NULL_HANDLE;
  VkImageView font_view_ = VK_NULL_HANDLE;
  VkSampler sampler_ = VK_NULL_HANDLE;
  VkDescriptorSetLayout set_layout_ = VK_NULL_HANDLE;
  VkDescriptorPool descriptor_pool_ = VK_NULL_HANDLE;
  VkDescriptorSet set_ = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout_ = VK_NULL_HANDLE;
  VkRenderPass render_pass_ = VK_NULL_HANDLE;
  VkPipeline pipeline_ = VK_NULL_HANDLE;
  std::vector<VkImageView> views_;
  std::vector<VkFramebuffer> framebuffers_;
  PresentExtent extent_{};
  bool laid_out_ = false;
  std::array<Geometry, kPresentSlots> geometry_{};
};

}  // namespace triptych::render::window
