// SPDX-License-Identifier: Apache-2.0
// The Vulkan device: choosing the physical device (choose_device: by index,
// by name, or the best usable type; the one ranking, which hosts show too),
// then creating the logical device with timeline
// semaphores, VK_EXT_external_memory_host, VK_EXT_calibrated_timestamps and
// (for a presenter) VK_KHR_present_id + VK_KHR_present_wait where offered, a graphics queue and
// (where the hardware has one) a dedicated transfer queue. Blocking; runs once,
// inside VulkanRenderer::create, on the creating thread. Device selection and
// queues: docs/render-stage.md ("Frame lifecycle and synchronisation").
#include <array>
#include <cctype>
#include <string_view>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

namespace {

// DeviceInfo::type, best first.
int type_rank(const std::string& type) {
  static constexpr std::array<std::string_view, 4> kBestFirst{"discrete", "integrated", "virtual", "cpu"};
  for (std::size_t i = 0; i < kBestFirst.size(); ++i) {
    if (type == kBestFirst[i]) return static_cast<int>(i);
  }
  return static_cast<int>(kBestFirst.size());
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

Result<DevicePick> choose_device(const std::vector<DeviceInfo>& all, const DeviceChoice& want) {
  auto listing = [&] {
    std::string s;
    for (const auto& d : all) {
      s += " [" + std::to_string(d.index) + "] " + d.name + " (" + d.type + (d.usable ? "" : ", unusable") + ")";
    }
    return s;
  };
  const DeviceInfo* chosen = nullptr;
  std::string why;
  if (want.index >= 0) {
    if (static_cast<std::size_t>(want.index) >= all.size()) {
      return make_error(Errc::kUnsupported, "no Vulkan device with index " + std::to_string(want.index) +
                                                "; devices:" + listing());
    }
    chosen = &all[static_cast<std::size_t>(want.index)];
    why = "asked for by index " + std::to_string(want.index);
  } else if (!want.name.empty()) {
    for (const auto& d : all) {
      if (lower(d.name).find(lower(want.name)) != std::string::npos) {
        chosen = &d;
        break;
      }
    }
    if (chosen == nullptr) {
      return make_error(Errc::kUnsupported, "no Vulkan device named like '" + want.name + "'; devices:" + listing());
    }
    why = "the first device named like '" + want.name + "'";
  } else {
    for (const auto& d : all) {
      if (d.usable && (chosen == nullptr || type_rank(d.type) < type_rank(chosen->type))) chosen = &d;
    }
    if (chosen == nullptr) {
      return make_error(Errc::kUnsupported, "no usable Vulkan device (needs Vulkan 1.2 and a graphics queue); devices:" + listing());
    }
    why = "the first usable device of the best type (discrete > integrated > virtual > cpu > other)";
  }
  if (!chosen->usable) {
    return make_error(Errc::kUnsupported, "Vulkan device '" + chosen->name + "' is unusable: it needs Vulkan 1.2 and a graphics queue");
  }
  return DevicePick{chosen->index, why};
}

Result<void> VulkanRenderer::Impl::pick_device() {
  auto pds = ctx.physical_devices();
  if (!pds) return pds.error();
  std::vector<DeviceInfo> all;
  for (std::uint32_t i = 0; i < pds.value().size(); ++i) all.push_back(ctx.describe(pds.value()[i], i));
  auto pick = choose_device(all, cfg.vulkan.device);
  if (!pick) return pick.error();
  info = all[pick->index];
  physical = pds.value()[pick->index];
  return {};
}

Result<void> VulkanRenderer::Impl::create_device() {
  std::uint32_t qn = 0;
  ctx.fns.vkGetPhysicalDeviceQueueFamilyProperties(physical, &qn, nullptr);
  std::vector<VkQueueFamilyProperties> q(qn);
  ctx.fns.vkGetPhysicalDeviceQueueFamilyProperties(physical, &qn, q.data());
  bool have_graphics = false;
  for (std::uint32_t i = 0; i < qn; ++i) {
    if ((q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) != 0) {
      graphics_family = i;
      have_graphics = true;
      break;
    }
  }
  if (!have_graphics) return make_error(Errc::kUnsupported, "device has no graphics queue");
  transfer_family = graphics_family;
  for (std::uint32_t i = 0; i < qn; ++i) {
    if ((q[i].queueFlags & VK_QUEUE_TRANSFER_BIT) != 0 && (q[i].queueFlags & VK_QUEUE_GRAPHICS_BIT) == 0) {
      transfer_family = i;
      if ((q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) == 0) break;  // a pure copy engine is best
    }
  }
  host_import = info.host_import;
  import_alignment = info.import_alignment != 0 ? info.import_alignment : kPageSize;

  const float priority = 1.0F;
  std::array<VkDeviceQueueCreateInfo, 2> qci{};
  qci[0] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, graphics_family, 1, &priority};
  qci[1] = {VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO, nullptr, 0, transfer_family, 1, &priority};
  auto offered = offered_device_extensions();
  if (!offered) return offered.error();
  std::vector<const char*> ext;
  if (host_import) ext.push_back(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
  if (auto r = add_presenter_extensions(offered.value(), ext); !r) return r;
  // GPU timestamps on the CPU's clock (gpu_clock.cpp); optional.
  calibration_enabled = vk::offers(offered.value(), VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  if (calibration_enabled) ext.push_back(VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  auto f12 = vk::make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12, {}};
  ctx.fns.vkGetPhysicalDeviceFeatures2(physical, &f2);
  if (f12.timelineSemaphore == VK_FALSE) {
    return make_error(Errc::kUnsupported, "Vulkan device '" + info.name + "' lacks timeline semaphores");
  }
  // present_wait is set only when the device has both features (presenter_extensions.cpp).
  auto want_wait = vk::make<VkPhysicalDevicePresentWaitFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_WAIT_FEATURES_KHR);
  want_wait.presentWait = VK_TRUE;
  auto want_id = vk::make<VkPhysicalDevicePresentIdFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_ID_FEATURES_KHR, &want_wait);
  want_id.presentId = VK_TRUE;
  auto want12 = vk::make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES,
                                                           present_wait ? &want_id : nullptr);
  want12.timelineSemaphore = VK_TRUE;
  // A shader reading an imported compute slot reads untrusted bytes at
  // CPU-checked indices; robustBufferAccess keeps even a wrong index inside
  // the buffer (the GPU particle pull needs it).
  robust_buffer_access = f2.features.robustBufferAccess == VK_TRUE;
  graphics_compute = (q[graphics_family].queueFlags & VK_QUEUE_COMPUTE_BIT) != 0;
  VkPhysicalDeviceFeatures2 want{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &want12, {}};
  want.features.robustBufferAccess = robust_buffer_access ? VK_TRUE : VK_FALSE;
  auto dci = vk::make<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
  dci.pNext = &want;
  dci.queueCreateInfoCount = transfer_family == graphics_family ? 1U : 2U;
  dci.pQueueCreateInfos = qci.data();
  dci.enabledExtensionCount = static_cast<std::uint32_t>(ext.size());
  dci.ppEnabledExtensionNames = ext.data();
  TRIPTYCH_VK_TRY(ctx.fns.vkCreateDevice(physical, &dci, nullptr, &device));
  if (auto r = vk::load_device(ctx.fns, device, fn); !r) return r;
  if (host_import && fn.vkGetMemoryHostPointerPropertiesEXT == nullptr) host_import = false;
  if (calibration_enabled && fn.vkGetCalibratedTimestampsEXT == nullptr) calibration_enabled = false;
  fn.vkGetDeviceQueue(device, graphics_family, 0, &graphics_queue);
  fn.vkGetDeviceQueue(device, transfer_family, 0, &transfer_queue);
  ctx.fns.vkGetPhysicalDeviceMemoryProperties(physical, &memory_props);
  VkPhysicalDeviceProperties props{};
  ctx.fns.vkGetPhysicalDeviceProperties(physical, &props);
  max_storage_range = props.limits.maxStorageBufferRange;
  return {};
}

}  // namespace triptych::render
