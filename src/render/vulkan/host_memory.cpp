// SPDX-License-Identifier: Apache-2.0
// GPU buffers over host memory: choosing memory types, creating buffers
// shared by the graphics and transfer queues, importing layout and result
// zones in place with VK_EXT_external_memory_host, and recording why a zone
// falls back to the staging upload or the readback copy. Blocking; runs once,
// inside VulkanRenderer::create, on the creating thread.
// docs/render-stage.md ("Zero copy and fallbacks").
#include <algorithm>
#include <cstdio>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

std::optional<std::uint32_t> VulkanRenderer::Impl::memory_type(std::uint32_t bits, VkMemoryPropertyFlags want) const {
  for (std::uint32_t i = 0; i < memory_props.memoryTypeCount; ++i) {
    if ((bits & (1U << i)) != 0 && (memory_props.memoryTypes[i].propertyFlags & want) == want) return i;
  }
  return std::nullopt;
}

void VulkanRenderer::Impl::sharing(VkSharingMode& mode, std::uint32_t& count, const std::uint32_t*& families,
                                   const std::array<std::uint32_t, 2>& both) const {
  if (transfer_family != graphics_family) {
    mode = VK_SHARING_MODE_CONCURRENT;
    count = 2;
    families = both.data();
  } else {
    mode = VK_SHARING_MODE_EXCLUSIVE;
    count = 0;
    families = nullptr;
  }
}

Result<void> VulkanRenderer::Impl::create_buffer(VkDeviceSize size, VkBufferUsageFlags usage,
                                                 VkMemoryPropertyFlags want, VkMemoryPropertyFlags fallback, bool map,
                                                 vk::Buffer& out) {
  const std::array<std::uint32_t, 2> both{graphics_family, transfer_family};
  auto bci = vk::make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bci.size = size;
  bci.usage = usage;
  sharing(bci.sharingMode, bci.queueFamilyIndexCount, bci.pQueueFamilyIndices, both);
  TRIPTYCH_VK_TRY(fn.vkCreateBuffer(device, &bci, nullptr, &out.buffer));
  VkMemoryRequirements req{};
  fn.vkGetBufferMemoryRequirements(device, out.buffer, &req);
  auto type = memory_type(req.memoryTypeBits, want);
  if (!type) type = memory_type(req.memoryTypeBits, fallback);
  if (!type) return make_error(Errc::kUnsupported, "no Vulkan memory type fits a buffer of usage " + std::to_string(usage));
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, nullptr, req.size, *type};
  TRIPTYCH_VK_TRY(fn.vkAllocateMemory(device, &ai, nullptr, &out.memory));
  TRIPTYCH_VK_TRY(fn.vkBindBufferMemory(device, out.buffer, out.memory, 0));
  if (map) TRIPTYCH_VK_TRY(fn.vkMapMemory(device, out.memory, 0, VK_WHOLE_SIZE, 0, &out.mapped));
  out.size = size;
  return {};
}

// Imports `bytes` as a buffer with VK_EXT_external_memory_host, or says why not.
bool VulkanRenderer::Impl::import_zone(std::span<std::byte> bytes, VkBufferUsageFlags usage, vk::Buffer& out,
                                       std::string& why) {
  auto fail = [&](std::string reason) {
    why = std::move(reason);
    if (out.buffer != VK_NULL_HANDLE) fn.vkDestroyBuffer(device, out.buffer, nullptr);
    out = vk::Buffer{};
    return false;
  };
  if (!host_import) return fail("device '" + info.name + "' lacks VK_EXT_external_memory_host");
  const auto addr = reinterpret_cast<std::uintptr_t>(bytes.data());
  if (addr % import_alignment != 0) {
    char hex[32];
    std::snprintf(hex, sizeof hex, "%#zx", static_cast<std::size_t>(addr));
    return fail(std::string("zone at ") + hex + " is not aligned to minImportedHostPointerAlignment (" +
                std::to_string(import_alignment) + ")");
  }
  if (bytes.size() % import_alignment != 0) {
    return fail("zone size " + std::to_string(bytes.size()) + " is not a multiple of " +
                std::to_string(import_alignment));
  }
  auto hp = vk::make<VkMemoryHostPointerPropertiesEXT>(VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT);
  VkResult r = fn.vkGetMemoryHostPointerPropertiesEXT(
      device, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, bytes.data(), &hp);
  if (r != VK_SUCCESS || hp.memoryTypeBits == 0) {
    return fail(std::string("the driver refuses to import these pages (vkGetMemoryHostPointerPropertiesEXT: ") +
                vk::result_name(r) + ")");
  }
  const std::array<std::uint32_t, 2> both{graphics_family, transfer_family};
  auto ext = vk::make<VkExternalMemoryBufferCreateInfo>(VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO);
  ext.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;
  auto bci = vk::make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bci.pNext = &ext;
  bci.size = bytes.size();
  bci.usage = usage;
  sharing(bci.sharingMode, bci.queueFamilyIndexCount, bci.pQueueFamilyIndices, both);
  r = fn.vkCreateBuffer(device, &bci, nullptr, &out.buffer);
  if (r != VK_SUCCESS) return fail(std::string("vkCreateBuffer (external host memory) failed: ") + vk::result_name(r));
  VkMemoryRequirements req{};
  fn.vkGetBufferMemoryRequirements(device, out.buffer, &req);
  const auto type = memory_type(req.memoryTypeBits & hp.memoryTypeBits, 0);
  if (!type || req.size > bytes.size()) return fail("no memory type can hold an imported buffer of this size");
  auto imp = vk::make<VkImportMemoryHostPointerInfoEXT>(VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT);
  imp.handleType = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;
  imp.pHostPointer = bytes.data();
  VkMemoryAllocateInfo ai{VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, &imp, bytes.size(), *type};
  r = fn.vkAllocateMemory(device, &ai, nullptr, &out.memory);
  if (r != VK_SUCCESS) {
    out.memory = VK_NULL_HANDLE;
    return fail(std::string("the driver refuses to import these pages (vkAllocateMemory: ") + vk::result_name(r) + ")");
  }
  r = fn.vkBindBufferMemory(device, out.buffer, out.memory, 0);
  if (r != VK_SUCCESS) {
    fn.vkFreeMemory(device, out.memory, nullptr);
    out.memory = VK_NULL_HANDLE;
    return fail(std::string("vkBindBufferMemory (imported) failed: ") + vk::result_name(r));
  }
  out.size = bytes.size();
  why.clear();
  return true;
}

Result<void> VulkanRenderer::Impl::bind_zones(std::span<const std::span<std::byte>> layout,
                                              std::span<const std::span<std::byte>> result) {
  if (layout.empty()) return make_error(Errc::kInvalidArgument, "the renderer needs at least one layout zone");
  if (cfg.readback && result.empty()) return make_error(Errc::kInvalidArgument, "readback needs at least one result zone");
  for (std::size_t i = 0; i < layout.size(); ++i) {
    vk::Zone z;
    z.bytes = layout[i];
    const std::uint32_t cap = layout_zone_capacity(z.bytes.size());
    if (cap == 0) {
      return make_error(Errc::kTooSmall, "layout zone " + std::to_string(i) + " (" + std::to_string(z.bytes.size()) +
                                             " bytes) cannot hold its header and one instance");
    }
    if (reinterpret_cast<std::uintptr_t>(z.bytes.data()) % alignof(LayoutZoneHeader) != 0) {
      return make_error(Errc::kMisaligned, "layout zone " + std::to_string(i) + " is not 8-byte aligned");
    }
    max_capacity = std::max(max_capacity, cap);
    if (cfg.layout_path == HostMemoryPath::kImport) {
      // Vertices for the quads; a copy source for the splat path.
      z.binding.imported = import_zone(z.bytes, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT,
                                       z.gpu, z.binding.note);
      if (!z.binding.imported) z.binding.note = "layout zone " + std::to_string(i) + ": staging upload: " + z.binding.note;
    } else {
      z.binding.note = "layout zone " + std::to_string(i) + ": staging upload (selected)";
    }
    layout_zones.push_back(std::move(z));
  }
  for (std::size_t i = 0; i < result.size(); ++i) {
    vk::Zone z;
    z.bytes = result[i];
    if (auto r = init_result_zone(z.bytes, cfg.layout.width, cfg.layout.height); !r) {
      return make_error(r.error().code, "result zone " + std::to_string(i) + ": " + r.error().message);
    }
    if (cfg.readback && cfg.result_path == HostMemoryPath::kImport) {
      z.binding.imported = import_zone(z.bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT, z.gpu, z.binding.note);
      if (!z.binding.imported) z.binding.note = "result zone " + std::to_string(i) + ": readback buffer + copy: " + z.binding.note;
    } else {
      z.binding.note = "result zone " + std::to_string(i) + ": readback buffer + copy (selected)";
    }
    result_zones.push_back(std::move(z));
  }
  return {};
}

}  // namespace triptych::render
