// SPDX-License-Identifier: Apache-2.0
// Run-time loading of the Vulkan loader and its entry points (vk_api.hpp).
// Called on the thread that creates a renderer; the tables are read-only
// afterwards. See docs/render-stage.md ("Errors").
#include "render/vulkan/vk_api.hpp"

#include <dlfcn.h>

#include <cstdlib>

namespace triptych::render::vk {

const char* result_name(VkResult r) noexcept {
  switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_INCOMPLETE: return "VK_INCOMPLETE";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_FORMAT_NOT_SUPPORTED: return "VK_ERROR_FORMAT_NOT_SUPPORTED";
    case VK_ERROR_INVALID_EXTERNAL_HANDLE: return "VK_ERROR_INVALID_EXTERNAL_HANDLE";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    case VK_ERROR_UNKNOWN: return "VK_ERROR_UNKNOWN";
    default: return "VkResult(other)";
  }
}

Error call_error(const char* call, VkResult r) {
  const bool missing = r == VK_ERROR_INCOMPATIBLE_DRIVER || r == VK_ERROR_LAYER_NOT_PRESENT ||
                       r == VK_ERROR_EXTENSION_NOT_PRESENT || r == VK_ERROR_FEATURE_NOT_PRESENT;
  return make_error(missing ? Errc::kUnsupported : Errc::kSystem,
                    std::string(call) + " failed: " + result_name(r) + " (" +
                        std::to_string(static_cast<int>(r)) + ")");
}

// The loader stays loaded for the life of the process: drivers it pulled in
// (NVIDIA's registers exit handlers, llvmpipe keeps JIT state) are not safe
// to unload, and a second renderer reuses the same mapping anyway.
Library::~Library() = default;

Result<void> Library::open() {
  const char* env = std::getenv("TRIPTYCH_VULKAN_LIBRARY");
  const std::string name = env != nullptr && *env != '\0' ? env : "libvulkan.so.1";
  handle_ = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle_ == nullptr) {
    const char* why = dlerror();
    return make_error(Errc::kUnsupported,
                      "cannot load the Vulkan loader '" + name + "' (" +
                          (why != nullptr ? why : "dlopen failed") +
                          "): install the Debian package libvulkan1, plus a Vulkan driver "
                          "(mesa-vulkan-drivers for the lavapipe CPU device)");
  }
  auto* sym = dlsym(handle_, "vkGetInstanceProcAddr");
  if (sym == nullptr) {
    return make_error(Errc::kUnsupported, "'" + name + "' has no vkGetInstanceProcAddr: not a Vulkan loader");
  }
  global_.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(sym);
#define TRIPTYCH_VK_LOAD_GLOBAL(fn) \
  global_.fn = reinterpret_cast<PFN_##fn>(global_.vkGetInstanceProcAddr(VK_NULL_HANDLE, #fn));
  TRIPTYCH_VK_GLOBAL_FNS(TRIPTYCH_VK_LOAD_GLOBAL)
#undef TRIPTYCH_VK_LOAD_GLOBAL
  if (global_.vkCreateInstance == nullptr || global_.vkEnumerateInstanceVersion == nullptr) {
    return make_error(Errc::kUnsupported,
                      "the Vulkan loader '" + name + "' is older than Vulkan 1.1: install libvulkan1 >= 1.2");
  }
  return {};
}

void load_instance(const GlobalFns& g, VkInstance instance, InstanceFns& out) noexcept {
#define TRIPTYCH_VK_LOAD_INSTANCE(fn) \
  out.fn = reinterpret_cast<PFN_##fn>(g.vkGetInstanceProcAddr(instance, #fn));
  TRIPTYCH_VK_INSTANCE_FNS(TRIPTYCH_VK_LOAD_INSTANCE)
  TRIPTYCH_VK_DEBUG_FNS(TRIPTYCH_VK_LOAD_INSTANCE)
#undef TRIPTYCH_VK_LOAD_INSTANCE
}

Result<void> load_device(const InstanceFns& i, VkDevice device, DeviceFns& out) {
#define TRIPTYCH_VK_LOAD_DEVICE(fn)                                                \
  out.fn = reinterpret_cast<PFN_##fn>(i.vkGetDeviceProcAddr(device, #fn));         \
  if (out.fn == nullptr) {                                                         \
    return make_error(Errc::kUnsupported, "the Vulkan device has no entry point " #fn); \
  }
  TRIPTYCH_VK_DEVICE_FNS(TRIPTYCH_VK_LOAD_DEVICE)
#undef TRIPTYCH_VK_LOAD_DEVICE
  // Optional: only with VK_EXT_external_memory_host enabled.
  out.vkGetMemoryHostPointerPropertiesEXT = reinterpret_cast<PFN_vkGetMemoryHostPointerPropertiesEXT>(
      i.vkGetDeviceProcAddr(device, "vkGetMemoryHostPointerPropertiesEXT"));
  // Optional: only with VK_EXT_calibrated_timestamps enabled.
  out.vkGetCalibratedTimestampsEXT = reinterpret_cast<PFN_vkGetCalibratedTimestampsEXT>(
      i.vkGetDeviceProcAddr(device, "vkGetCalibratedTimestampsEXT"));
  return {};
}

VkImageMemoryBarrier image_barrier(VkImage image, VkAccessFlags from_access, VkAccessFlags to_access,
                                   VkImageLayout from, VkImageLayout to) noexcept {
  auto b = make<VkImageMemoryBarrier>(VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER);
  b.srcAccessMask = from_access;
  b.dstAccessMask = to_access;
  b.oldLayout = from;
  b.newLayout = to;
  b.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  b.image = image;
  b.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  return b;
}

}  // namespace triptych::render::vk
