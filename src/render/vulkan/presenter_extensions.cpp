// SPDX-License-Identifier: Apache-2.0
// The device extensions a presenter asked for (VulkanOptions::device_extensions,
// VK_KHR_swapchain for the window presenter), checked against what the chosen
// device offers before the device is created, so a missing one is a clear
// kUnsupported naming it rather than VK_ERROR_EXTENSION_NOT_PRESENT; and,
// with a swapchain, VK_KHR_present_id + VK_KHR_present_wait where the device
// offers both with their features (optional: never required). Blocking;
// called once by create_device on the creating thread. docs/presenter.md.
#include <algorithm>
#include <cstring>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

Result<std::vector<VkExtensionProperties>> VulkanRenderer::Impl::offered_device_extensions() const {
  std::uint32_t n = 0;
  TRIPTYCH_VK_TRY(ctx.fns.vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr));
  std::vector<VkExtensionProperties> offered(n);
  TRIPTYCH_VK_TRY(ctx.fns.vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, offered.data()));
  offered.resize(n);
  return offered;
}

bool vk::offers(std::span<const VkExtensionProperties> offered, const char* name) noexcept {
  return std::any_of(offered.begin(), offered.end(),
                     [&](const VkExtensionProperties& p) { return std::strcmp(p.extensionName, name) == 0; });
}

Result<void> VulkanRenderer::Impl::add_presenter_extensions(std::span<const VkExtensionProperties> offered,
                                                            std::vector<const char*>& extensions) {
  bool swapchain = false;
  for (const std::string& want : cfg.vulkan.device_extensions) {
    if (!vk::offers(offered, want.c_str())) {
      return make_error(Errc::kUnsupported, "Vulkan device '" + info.name + "' lacks " + want +
                                                ", which the window presenter needs");
    }
    extensions.push_back(want.c_str());
    swapchain = swapchain || want == VK_KHR_SWAPCHAIN_EXTENSION_NAME;
  }
  // Present ids and waiting on them let the presenter stamp present-complete;
  // both extensions and both features, or neither (present_wait needs present_id).
  if (!swapchain || !vk::offers(offered, VK_KHR_PRESENT_ID_EXTENSION_NAME) ||
      !vk::offers(offered, VK_KHR_PRESENT_WAIT_EXTENSION_NAME)) {
    return {};
  }
  auto wait = vk::make<VkPhysicalDevicePresentWaitFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_WAIT_FEATURES_KHR);
  auto id = vk::make<VkPhysicalDevicePresentIdFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_ID_FEATURES_KHR, &wait);
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &id, {}};
  ctx.fns.vkGetPhysicalDeviceFeatures2(physical, &f2);
  if (id.presentId != VK_TRUE || wait.presentWait != VK_TRUE) return {};
  extensions.push_back(VK_KHR_PRESENT_ID_EXTENSION_NAME);
  extensions.push_back(VK_KHR_PRESENT_WAIT_EXTENSION_NAME);
  present_wait = true;
  return {};
}

}  // namespace triptych::render
