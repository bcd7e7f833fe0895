// SPDX-License-Identifier: Apache-2.0
// The Vulkan entry points the render stage uses, loaded at run time from the
// loader library (libvulkan.so.1) so that libtriptych has no link-time
// dependency on it: a machine without the loader gets a typed error naming
// the package to install instead of a binary that cannot start. Tables are
// filled once per renderer and then read-only (any thread). The
// TRIPTYCH_VK_TRY wrapper turns a failing call into an Error naming the call;
// make<T> gives a Vulkan struct with its sType set. See docs/render-stage.md.
#pragma once

#include <vulkan/vulkan.h>

#include <string>

#include "triptych/core/result.hpp"

namespace triptych::render::vk {

#define TRIPTYCH_VK_GLOBAL_FNS(X)           \
  X(vkCreateInstance)                       \
  X(vkEnumerateInstanceLayerProperties)     \
  X(vkEnumerateInstanceExtensionProperties) \
  X(vkEnumerateInstanceVersion)

#define TRIPTYCH_VK_INSTANCE_FNS(X)               \
  X(vkDestroyInstance)                            \
  X(vkEnumeratePhysicalDevices)                   \
  X(vkGetPhysicalDeviceProperties)                \
  X(vkGetPhysicalDeviceProperties2)               \
  X(vkGetPhysicalDeviceFeatures2)                 \
  X(vkGetPhysicalDeviceQueueFamilyProperties)     \
  X(vkGetPhysicalDeviceFormatProperties)          \
  X(vkGetPhysicalDeviceMemoryProperties)          \
  X(vkGetPhysicalDeviceExternalBufferProperties)  \
  X(vkEnumerateDeviceExtensionProperties)         \
  X(vkCreateDevice)                               \
  X(vkGetDeviceProcAddr)

#define TRIPTYCH_VK_DEBUG_FNS(X)       \
  X(vkCreateDebugUtilsMessengerEXT)    \
  X(vkDestroyDebugUtilsMessengerEXT)

#define TRIPTYCH_VK_DEVICE_FNS(X)      \
  X(vkDestroyDevice)                   \
  X(vkGetDeviceQueue)                  \
  X(vkDeviceWaitIdle)                  \
  X(vkCreateBuffer)                    \
  X(vkDestroyBuffer)                   \
  X(vkGetBufferMemoryRequirements)     \
  X(vkAllocateMemory)                  \
  X(vkFreeMemory)                      \
  X(vkBindBufferMemory)                \
  X(vkMapMemory)                       \
  X(vkUnmapMemory)                     \
  X(vkCreateImage)                     \
  X(vkDestroyImage)                    \
  X(vkGetImageMemoryRequirements)      \
  X(vkBindImageMemory)                 \
  X(vkCreateImageView)                 \
  X(vkDestroyImageView)                \
  X(vkCreateRenderPass)                \
  X(vkDestroyRenderPass)               \
  X(vkCreateFramebuffer)               \
  X(vkDestroyFramebuffer)              \
  X(vkCreateShaderModule)              \
  X(vkDestroyShaderModule)             \
  X(vkCreatePipelineLayout)            \
  X(vkDestroyPipelineLayout)           \
  X(vkCreateGraphicsPipelines)         \
  X(vkDestroyPipeline)                 \
  X(vkCreateCommandPool)               \
  X(vkDestroyCommandPool)              \
  X(vkAllocateCommandBuffers)          \
  X(vkResetCommandBuffer)              \
  X(vkBeginCommandBuffer)              \
  X(vkEndCommandBuffer)                \
  X(vkCmdBeginRenderPass)              \
  X(vkCmdEndRenderPass)                \
  X(vkCmdBindPipeline)                 \
  X(vkCmdBindVertexBuffers)            \
  X(vkCmdPushConstants)                \
  X(vkCmdDraw)                         \
  X(vkCmdDispatch)                     \
  X(vkCmdFillBuffer)                   \
  X(vkCmdBindDescriptorSets)           \
  X(vkCreateComputePipelines)          \
  X(vkCreateDescriptorSetLayout)       \
  X(vkDestroyDescriptorSetLayout)      \
  X(vkCreateDescriptorPool)            \
  X(vkDestroyDescriptorPool)           \
  X(vkAllocateDescriptorSets)          \
  X(vkUpdateDescriptorSets)            \
  X(vkCmdCopyBuffer)                   \
  X(vkCmdCopyImageToBuffer)            \
  X(vkCmdPipelineBarrier)              \
  X(vkCmdBlitImage)                    \
  X(vkCreateSemaphore)                 \
  X(vkDestroySemaphore)                \
  X(vkWaitSemaphores)                  \
  X(vkQueueSubmit)                     \
  X(vkCreateQueryPool)                 \
  X(vkDestroyQueryPool)                \
  X(vkCmdResetQueryPool)               \
  X(vkCmdWriteTimestamp)               \
  X(vkGetQueryPoolResults)

#define TRIPTYCH_VK_HOST_IMPORT_FNS(X) X(vkGetMemoryHostPointerPropertiesEXT)
// Optional: only with VK_EXT_calibrated_timestamps enabled (null otherwise).
#define TRIPTYCH_VK_CALIBRATION_FNS(X) X(vkGetCalibratedTimestampsEXT)

#define TRIPTYCH_VK_DECLARE(name) PFN_##name name = nullptr;

struct GlobalFns {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr = nullptr;
  TRIPTYCH_VK_GLOBAL_FNS(TRIPTYCH_VK_DECLARE)
};
struct InstanceFns {
  TRIPTYCH_VK_INSTANCE_FNS(TRIPTYCH_VK_DECLARE)
  TRIPTYCH_VK_DEBUG_FNS(TRIPTYCH_VK_DECLARE)
};
struct DeviceFns {
  TRIPTYCH_VK_DEVICE_FNS(TRIPTYCH_VK_DECLARE)
  TRIPTYCH_VK_HOST_IMPORT_FNS(TRIPTYCH_VK_DECLARE)
  TRIPTYCH_VK_CALIBRATION_FNS(TRIPTYCH_VK_DECLARE)
};

// A Vulkan struct with its sType (and pNext) set and every other field zero.
template <class T>
T make(VkStructureType type, const void* next = nullptr) {
  T t{};
  t.sType = type;
  t.pNext = const_cast<void*>(next);
  return t;
}

// "VK_ERROR_DEVICE_LOST" etc.
[[nodiscard]] const char* result_name(VkResult r) noexcept;

// Error{kSystem (or kUnsupported for missing drivers/features), "<call> failed: <VkResult>"}.
[[nodiscard]] Error call_error(const char* call, VkResult r);

// An opened loader library (never closed: see Library::~Library).
class Library {
 public:
  Library() = default;
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library();
  // Opens $TRIPTYCH_VULKAN_LIBRARY, else libvulkan.so.1, and loads the global
  // functions. kUnsupported names the package to install when it is missing.
  [[nodiscard]] Result<void> open();
  [[nodiscard]] const GlobalFns& global() const noexcept { return global_; }

 private:
  void* handle_ = nullptr;
  GlobalFns global_;
};

// Loads the instance-level table (debug-utils entries stay null without the extension).
void load_instance(const GlobalFns& g, VkInstance instance, InstanceFns& out) noexcept;
// Loads the device-level table; kUnsupported names the first missing entry point.
[[nodiscard]] Result<void> load_device(const InstanceFns& i, VkDevice device, DeviceFns& out);

// A layout transition of a whole single-level colour image, no queue transfer.
[[nodiscard]] VkImageMemoryBarrier image_barrier(VkImage image, VkAccessFlags from_access, VkAccessFlags to_access,
                                                 VkImageLayout from, VkImageLayout to) noexcept;

// The one external dependency of every render pass on a swapchain image (the
// renderer's direct pass, the presenter's HUD pass): render passes must have
// the same dependencies to share the presenter's framebuffers. Writes before
// the pass, by a blit (transfer) or a render behind the acquire semaphore
// (waited at colour output), end before the pass loads, clears or draws.
inline VkSubpassDependency swapchain_pass_dependency() noexcept {
  VkSubpassDependency d{};
  d.srcSubpass = VK_SUBPASS_EXTERNAL;
  d.dstSubpass = 0;
  d.srcStageMask = VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  d.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  d.dstStageMask = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  d.dstAccessMask = VK_ACCESS_COLOR_ATTACHMENT_READ_BIT | VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
  return d;
}

}  // namespace triptych::render::vk

// Evaluates a VkResult-returning call; on failure returns an Error naming it.
#define TRIPTYCH_VK_TRY(call)                                          \
  do {                                                                 \
    if (const VkResult triptych_vk_r_ = (call); triptych_vk_r_ < 0) {  \
      return ::triptych::render::vk::call_error(#call, triptych_vk_r_); \
    }                                                                  \
  } while (0)
