// SPDX-License-Identifier: Apache-2.0
// The device extensions a presenter asked for (VulkanOptions::device_extensions,
// VK_KHR_swapchain for the window presenter), checked against what the chosen
// device offers before the device is created, so a missing one is a clear
// kUnsupported naming it rather than VK_ERROR_EXTENSION_NOT_PRESENT. Blocking;
// called once by create_device on the creating thread. docs/presenter.md.
#include <algorithm>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

Result<void> VulkanRenderer::Impl::add_presenter_extensions(std::vector<const char*>& extensions) const {
  if (cfg.vulkan.device_extensions.empty()) return {};
  std::uint32_t n = 0;
  TRIPTYCH_VK_TRY(ctx.fns.vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, nullptr));
  std::vector<VkExtensionProperties> offered(n);
  TRIPTYCH_VK_TRY(ctx.fns.vkEnumerateDeviceExtensionProperties(physical, nullptr, &n, offered.data()));
  offered.resize(n);
  for (const std::string& want : cfg.vulkan.device_extensions) {
    const bool found = std::any_of(offered.begin(), offered.end(), [&](const VkExtensionProperties& p) {
      return want == p.extensionName;
    });
    if (!found) {
      return make_error(Errc::kUnsupported, "Vulkan device '" + info.name + "' lacks " + want +
                                                ", which the window presenter needs");
    }
    extensions.push_back(want.c_str());
  }
  return {};
}

}  // namespace triptych::render
