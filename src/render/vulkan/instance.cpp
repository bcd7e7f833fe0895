// SPDX-License-Identifier: Apache-2.0
// The Vulkan instance: opening the loader, creating the instance (with the
// validation layer and a debug messenger when asked), enumerating and
// describing physical devices, and list_devices() for the `info` command.
// Blocking; called on the thread that creates a renderer or lists devices,
// except the messenger callback, which the driver may call on any thread.
// Errors for a missing loader, driver or layer: docs/render-stage.md ("Errors").
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

namespace vk {

namespace {

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

VKAPI_ATTR VkBool32 VKAPI_CALL on_debug_message(VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                                                VkDebugUtilsMessageTypeFlagsEXT /*types*/,
                                                const VkDebugUtilsMessengerCallbackDataEXT* data,
                                                void* user) {
  const auto* sink = static_cast<const ValidationSink*>(user);
  std::string msg = (severity & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) != 0 ? "error: " : "warning: ";
  msg += data != nullptr && data->pMessage != nullptr ? data->pMessage : "(no text)";
  if (sink != nullptr && *sink) {
    (*sink)(msg);
  } else {
    std::fprintf(stderr, "triptych: Vulkan validation %s\n", msg.c_str());
  }
  return VK_FALSE;
}

}  // namespace

InstanceContext::~InstanceContext() {
  if (messenger != VK_NULL_HANDLE) fns.vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
  if (instance != VK_NULL_HANDLE) fns.vkDestroyInstance(instance, nullptr);
}

Result<void> InstanceContext::create(const VulkanOptions& options) {
  if (auto r = library.open(); !r) return r;
  const GlobalFns& g = library.global();
  sink = options.on_validation_message;
  std::uint32_t loader_version = 0;
  TRIPTYCH_VK_TRY(g.vkEnumerateInstanceVersion(&loader_version));
  if (loader_version < VK_API_VERSION_1_2) {
    return make_error(Errc::kUnsupported, "the Vulkan loader speaks " +
                                              std::to_string(VK_API_VERSION_MAJOR(loader_version)) + "." +
                                              std::to_string(VK_API_VERSION_MINOR(loader_version)) +
                                              "; the render stage needs 1.2 (install libvulkan1 >= 1.2)");
  }
  std::vector<const char*> layers;
  std::vector<const char*> extensions;
  if (options.validation) {
    std::uint32_t n = 0;
    TRIPTYCH_VK_TRY(g.vkEnumerateInstanceLayerProperties(&n, nullptr));
    std::vector<VkLayerProperties> props(n);
    TRIPTYCH_VK_TRY(g.vkEnumerateInstanceLayerProperties(&n, props.data()));
    const bool found = std::any_of(props.begin(), props.end(), [](const VkLayerProperties& p) {
      return std::strcmp(p.layerName, "VK_LAYER_KHRONOS_validation") == 0;
    });
    if (!found) {
      return make_error(Errc::kUnsupported,
                        "validation was asked for but VK_LAYER_KHRONOS_validation is not installed: "
                        "install the Debian package vulkan-validationlayers");
    }
    layers.push_back("VK_LAYER_KHRONOS_validation");
    extensions.push_back(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  }
  for (const std::string& e : options.instance_extensions) extensions.push_back(e.c_str());
  auto app = make<VkApplicationInfo>(VK_STRUCTURE_TYPE_APPLICATION_INFO);
  app.pApplicationName = "triptych";
  app.pEngineName = "triptych render stage";
  app.apiVersion = VK_API_VERSION_1_2;
  auto dbg = make<VkDebugUtilsMessengerCreateInfoEXT>(VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT);
  dbg.messageSeverity =
      VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT | VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT;
  dbg.messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                    VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT;
  dbg.pfnUserCallback = on_debug_message;
  dbg.pUserData = &sink;
  auto ci = make<VkInstanceCreateInfo>(VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO);
  ci.pNext = options.validation ? &dbg : nullptr;
  ci.pApplicationInfo = &app;
  ci.enabledLayerCount = static_cast<std::uint32_t>(layers.size());
  ci.ppEnabledLayerNames = layers.data();
  ci.enabledExtensionCount = static_cast<std::uint32_t>(extensions.size());
  ci.ppEnabledExtensionNames = extensions.data();
  const VkResult r = g.vkCreateInstance(&ci, nullptr, &instance);
  if (r == VK_ERROR_INCOMPATIBLE_DRIVER) return no_driver_error("vkCreateInstance returned VK_ERROR_INCOMPATIBLE_DRIVER");
  if (r == VK_ERROR_EXTENSION_NOT_PRESENT && !options.instance_extensions.empty()) {
    std::string asked;
    for (const std::string& e : options.instance_extensions) asked += " " + e;
    return make_error(Errc::kUnsupported, "the Vulkan loader lacks an instance extension the window presenter "
                                          "needs (asked:" + asked + ")");
  }
  if (r != VK_SUCCESS) return call_error("vkCreateInstance", r);
  load_instance(g, instance, fns);
  if (options.validation) {
    if (fns.vkCreateDebugUtilsMessengerEXT == nullptr) {
      return make_error(Errc::kUnsupported, "VK_EXT_debug_utils entry points are missing");
    }
    TRIPTYCH_VK_TRY(fns.vkCreateDebugUtilsMessengerEXT(instance, &dbg, nullptr, &messenger));
  }
  return {};
}

Error InstanceContext::no_driver_error(const std::string& what) {
  const char* icd = std::getenv("VK_ICD_FILENAMES");
  const char* drv = std::getenv("VK_DRIVER_FILES");
  std::string env;
  if (icd != nullptr) env += std::string(" VK_ICD_FILENAMES=") + icd + ";";
  if (drv != nullptr) env += std::string(" VK_DRIVER_FILES=") + drv + ";";
  return make_error(Errc::kUnsupported,
                    "no Vulkan driver (ICD) found (" + what + ")." + env +
                        " Install mesa-vulkan-drivers (lavapipe, the CPU device) or your GPU's Vulkan driver");
}

Result<std::vector<VkPhysicalDevice>> InstanceContext::physical_devices() const {
  std::uint32_t n = 0;
  const VkResult r = fns.vkEnumeratePhysicalDevices(instance, &n, nullptr);
  if (r == VK_ERROR_INITIALIZATION_FAILED || (r == VK_SUCCESS && n == 0)) {
    return no_driver_error("vkEnumeratePhysicalDevices found no device");
  }
  if (r < 0) return call_error("vkEnumeratePhysicalDevices", r);
  std::vector<VkPhysicalDevice> out(n);
  TRIPTYCH_VK_TRY(fns.vkEnumeratePhysicalDevices(instance, &n, out.data()));
  out.resize(n);
  return out;
}

DeviceInfo InstanceContext::describe(VkPhysicalDevice pd, std::uint32_t index) const {
  DeviceInfo d;
  d.index = index;
  VkPhysicalDeviceProperties p{};
  fns.vkGetPhysicalDeviceProperties(pd, &p);
  d.name = p.deviceName;
  d.type = type_name(p.deviceType);
  d.api_version = p.apiVersion;
  d.vendor_id = p.vendorID;
  d.device_id = p.deviceID;
  std::uint32_t n = 0;
  fns.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, nullptr);
  std::vector<VkExtensionProperties> ext(n);
  fns.vkEnumerateDeviceExtensionProperties(pd, nullptr, &n, ext.data());
  ext.resize(n);
  d.host_import = offers(ext, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
  if (offers(ext, VK_KHR_PRESENT_ID_EXTENSION_NAME) && offers(ext, VK_KHR_PRESENT_WAIT_EXTENSION_NAME)) {
    auto wait = make<VkPhysicalDevicePresentWaitFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_WAIT_FEATURES_KHR);
    auto id = make<VkPhysicalDevicePresentIdFeaturesKHR>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PRESENT_ID_FEATURES_KHR, &wait);
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &id, {}};
    fns.vkGetPhysicalDeviceFeatures2(pd, &f2);
    d.present_wait = id.presentId == VK_TRUE && wait.presentWait == VK_TRUE;
  }
  d.calibrated_timestamps = offers(ext, VK_EXT_CALIBRATED_TIMESTAMPS_EXTENSION_NAME);
  if (d.host_import && p.apiVersion >= VK_API_VERSION_1_1) {
    auto hp = make<VkPhysicalDeviceExternalMemoryHostPropertiesEXT>(
        VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_EXTERNAL_MEMORY_HOST_PROPERTIES_EXT);
    VkPhysicalDeviceProperties2 p2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, &hp, {}};
    fns.vkGetPhysicalDeviceProperties2(pd, &p2);
    d.import_alignment = hp.minImportedHostPointerAlignment;
  }
  std::uint32_t qn = 0;
  fns.vkGetPhysicalDeviceQueueFamilyProperties(pd, &qn, nullptr);
  std::vector<VkQueueFamilyProperties> q(qn);
  fns.vkGetPhysicalDeviceQueueFamilyProperties(pd, &qn, q.data());
  bool graphics = false;
  for (const auto& f : q) {
    if ((f.queueFlags & VK_QUEUE_GRAPHICS_BIT) != 0) graphics = true;
    if ((f.queueFlags & VK_QUEUE_TRANSFER_BIT) != 0 && (f.queueFlags & VK_QUEUE_GRAPHICS_BIT) == 0) {
      d.dedicated_transfer_queue = true;
    }
  }
  d.usable = graphics && p.apiVersion >= VK_API_VERSION_1_2;
  VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, nullptr, {}};
  fns.vkGetPhysicalDeviceFeatures2(pd, &f2);
  d.robust_buffer_access = f2.features.robustBufferAccess == VK_TRUE;
  return d;
}

}  // namespace vk

Result<std::vector<DeviceInfo>> list_devices(const VulkanOptions& options) {
  vk::InstanceContext ctx;
  if (auto r = ctx.create(options); !r) return r.error();
  auto pds = ctx.physical_devices();
  if (!pds) return pds.error();
  std::vector<DeviceInfo> out;
  for (std::uint32_t i = 0; i < pds.value().size(); ++i) out.push_back(ctx.describe(pds.value()[i], i));
  return out;
}

}  // namespace triptych::render
