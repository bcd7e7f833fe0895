// SPDX-License-Identifier: Apache-2.0
// The per-frame GPU resources: command pools for the graphics and transfer
// queues, the three timeline semaphores (uploaded, rendered, copied), and for
// each frame-in-flight slot its colour image, view, framebuffer, command
// buffers and, where a zone is not imported, its staging, vertex and readback
// buffers. Blocking; runs once, inside VulkanRenderer::create, on the creating
// thread. docs/render-stage.md ("Frame lifecycle and synchronisation").
#include <algorithm>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

Result<void> VulkanRenderer::Impl::create_frame_resources() {
  auto pci = vk::make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = graphics_family;
  TRIPTYCH_VK_TRY(fn.vkCreateCommandPool(device, &pci, nullptr, &graphics_pool));
  if (transfer_family != graphics_family) {
    pci.queueFamilyIndex = transfer_family;
    TRIPTYCH_VK_TRY(fn.vkCreateCommandPool(device, &pci, nullptr, &transfer_pool));
  } else {
    transfer_pool = graphics_pool;
  }
  auto stc = vk::make<VkSemaphoreTypeCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO);
  stc.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  stc.initialValue = 0;
  VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &stc, 0};
  TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(device, &sci, nullptr, &uploaded));
  TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(device, &sci, nullptr, &rendered));
  TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(device, &sci, nullptr, &copied));

  const bool any_staged_layout = std::any_of(layout_zones.begin(), layout_zones.end(),
                                             [](const vk::Zone& z) { return !z.binding.imported; });
  const bool any_staged_result = cfg.readback && std::any_of(result_zones.begin(), result_zones.end(),
                                                             [](const vk::Zone& z) { return !z.binding.imported; });
  pixel_bytes = VkDeviceSize{cfg.layout.width} * cfg.layout.height * 4;
  for (std::uint32_t i = 0; i < fif; ++i) {
    if (auto r = create_slot(slots[i], any_staged_layout, any_staged_result); !r) return r;
  }
  return {};
}

Result<void> VulkanRenderer::Impl::create_slot(vk::Slot& s, bool staged_layout, bool staged_result) {
  const std::array<std::uint32_t, 2> both{graphics_family, transfer_family};
  auto ici = vk::make<VkImageCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO);
  ici.imageType = VK_IMAGE_TYPE_2D;
  ici.format = vk::kColorFormat;
  ici.extent = {cfg.layout.width, cfg.layout.height, 1};
  ici.mipLevels = 1;
  ici.arrayLayers = 1;
  ici.samples = VK_SAMPLE_COUNT_1_BIT;
  ici.tiling = VK_IMAGE_TILING_OPTIMAL;
  ici.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT |
              VK_IMAGE_USAGE_TRANSFER_DST_BIT |  // the direct path copies a swapchain image in for the readback
              (splat_target() ? VkImageUsageFlags{VK_IMAGE_USAGE_STORAGE_BIT} : VkImageUsageFlags{0});  // the splat path writes it from compute
  sharing(ici.sharingMode, ici.queueFamilyIndexCount, ici.pQueueFamilyIndices, both);
  ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  TRIPTYCH_VK_TRY(fn.vkCreateImage(device, &ici, nullptr, &s.image));
  VkMemoryRequirements req{};
  fn.vkGetImageMemoryRequirements(device, s.image, &req);
  auto type = memory_type(req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (!type) type = memory_type(req.memoryTypeBits, 0);
  if (!type) return make_error(Errc::kUnsupported, "no memory type for the colour image");
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size, *type};
  TRIPTYCH_VK_TRY(fn.vkAllocateMemory(device, &ai, nullptr, &s.image_memory));
  TRIPTYCH_VK_TRY(fn.vkBindImageMemory(device, s.image, s.image_memory, 0));
  auto vci = vk::make<VkImageViewCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO);
  vci.image = s.image;
  vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
  vci.format = vk::kColorFormat;
  vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  TRIPTYCH_VK_TRY(fn.vkCreateImageView(device, &vci, nullptr, &s.view));
  auto fci = vk::make<VkFramebufferCreateInfo>(VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO);
  fci.renderPass = render_pass;
  fci.attachmentCount = 1;
  fci.pAttachments = &s.view;
  fci.width = cfg.layout.width;
  fci.height = cfg.layout.height;
  fci.layers = 1;
  TRIPTYCH_VK_TRY(fn.vkCreateFramebuffer(device, &fci, nullptr, &s.framebuffer));

  auto cai = vk::make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
  cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
  cai.commandBufferCount = 1;
  cai.commandPool = graphics_pool;
  TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(device, &cai, &s.render_cb));
  cai.commandPool = transfer_pool;
  TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(device, &cai, &s.upload_cb));
  TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(device, &cai, &s.copy_cb));

  if (staged_layout) {
    const VkDeviceSize bytes = VkDeviceSize{max_capacity} * sizeof(Instance);
    constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (auto r = create_buffer(bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, kHost, kHost, true, s.staging); !r) return r;
    // Transfer source too: the splat path copies the instances on.
    if (auto r = create_buffer(bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_VERTEX_BUFFER_BIT |
                                          VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                               VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, false, s.vertices);
        !r) {
      return r;
    }
  }
  if (particle_choice.gpu) {
    constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (auto r = create_buffer(vk::kVerdictCounters * sizeof(std::uint32_t),
                               VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT, kHost, kHost, true,
                               s.counts);
        !r) {
      return r;
    }
  }
  if (staged_result) {
    // Cached memory makes the CPU's read of the pixels fast; coherent is the fallback.
    constexpr VkMemoryPropertyFlags kCached = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                              VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                              VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
    constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    if (auto r = create_buffer(pixel_bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT, kCached, kHost, true, s.readback); !r) return r;
  }
  return {};
}

}  // namespace triptych::render
