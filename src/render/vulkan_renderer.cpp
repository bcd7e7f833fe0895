// SPDX-License-Identifier: Apache-2.0
// The Vulkan render stage (include/triptych/render/vulkan_renderer.hpp).
// The render thread lays out, records and submits; a completion thread waits
// on the `copied` timeline semaphore, finishes each frame (readback copy when
// the result zone is not imported, result header, FrameInfo) and publishes it
// through completed_ and the frame-ready WaitWord. Three timeline semaphores
// order a frame's GPU work: uploaded (staging copy done), rendered (colour
// image done), copied (pixels in the result zone). docs/render-stage.md draws it.
#include "triptych/render/vulkan_renderer.hpp"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <climits>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "render/vk_api.hpp"
#include "triptych/trace/trace.hpp"

namespace triptych::render {

namespace {

constexpr std::uint32_t kQuadVert[] =
#include "triptych/render/quad.vert.spv.inc"
    ;
constexpr std::uint32_t kSdfFrag[] =
#include "triptych/render/sdf.frag.spv.inc"
    ;

constexpr VkFormat kColorFormat = VK_FORMAT_R8G8B8A8_UNORM;
constexpr std::uint32_t kMaxFramesInFlight = 8;
constexpr std::uint64_t kNoTicket = ~std::uint64_t{0};
// Futex waits are sliced so a failure on the completion thread is noticed
// even though it does not change the WaitWord (liveness re-check).
constexpr auto kWaitSlice = std::chrono::milliseconds(20);
constexpr std::uint64_t kGpuWaitSliceNs = 50'000'000;

// A Vulkan struct with its sType (and pNext) set and every other field zero.
template <class T>
T make(VkStructureType type, const void* next = nullptr) {
  T t{};
  t.sType = type;
  t.pNext = const_cast<void*>(next);
  return t;
}

const char* type_name(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "cpu";
    default: return "other";
  }
}

int type_rank(VkPhysicalDeviceType t) {
  switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 0;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 1;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 3;
    default: return 4;
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
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

// The loader, the instance and (with validation) the debug messenger.
struct InstanceContext {
  vk::Library library;
  vk::InstanceFns fns{};
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  ValidationSink sink;  // stable address: the messenger's user data

  InstanceContext() = default;
  InstanceContext(const InstanceContext&) = delete;
  InstanceContext& operator=(const InstanceContext&) = delete;
  ~InstanceContext() {
    if (messenger != VK_NULL_HANDLE) fns.vkDestroyDebugUtilsMessengerEXT(instance, messenger, nullptr);
    if (instance != VK_NULL_HANDLE) fns.vkDestroyInstance(instance, nullptr);
  }

  Result<void> create(const VulkanOptions& options) {
    if (auto r = library.open(); !r) return r;
    const vk::GlobalFns& g = library.global();
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
    if (r != VK_SUCCESS) return vk::call_error("vkCreateInstance", r);
    vk::load_instance(g, instance, fns);
    if (options.validation) {
      if (fns.vkCreateDebugUtilsMessengerEXT == nullptr) {
        return make_error(Errc::kUnsupported, "VK_EXT_debug_utils entry points are missing");
      }
      TRIPTYCH_VK_TRY(fns.vkCreateDebugUtilsMessengerEXT(instance, &dbg, nullptr, &messenger));
    }
    return {};
  }

  static Error no_driver_error(const std::string& what) {
    const char* icd = std::getenv("VK_ICD_FILENAMES");
    const char* drv = std::getenv("VK_DRIVER_FILES");
    std::string env;
    if (icd != nullptr) env += std::string(" VK_ICD_FILENAMES=") + icd + ";";
    if (drv != nullptr) env += std::string(" VK_DRIVER_FILES=") + drv + ";";
    return make_error(Errc::kUnsupported,
                      "no Vulkan driver (ICD) found (" + what + ")." + env +
                          " Install mesa-vulkan-drivers (lavapipe, the CPU device) or your GPU's Vulkan driver");
  }

  Result<std::vector<VkPhysicalDevice>> physical_devices() const {
    std::uint32_t n = 0;
    const VkResult r = fns.vkEnumeratePhysicalDevices(instance, &n, nullptr);
    if (r == VK_ERROR_INITIALIZATION_FAILED || (r == VK_SUCCESS && n == 0)) {
      return no_driver_error("vkEnumeratePhysicalDevices found no device");
    }
    if (r < 0) return vk::call_error("vkEnumeratePhysicalDevices", r);
    std::vector<VkPhysicalDevice> out(n);
    TRIPTYCH_VK_TRY(fns.vkEnumeratePhysicalDevices(instance, &n, out.data()));
    out.resize(n);
    return out;
  }

  DeviceInfo describe(VkPhysicalDevice pd, std::uint32_t index) const {
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
    for (std::uint32_t i = 0; i < n; ++i) {
      if (std::strcmp(ext[i].extensionName, VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME) == 0) d.host_import = true;
    }
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
    return d;
  }
};

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
  VkDeviceSize size = 0;
};

struct Zone {
  std::span<std::byte> bytes;
  Buffer gpu;  // the imported zone, when binding.imported
  ZoneBinding binding;
  std::uint64_t last_ticket = kNoTicket;  // latest submitted ticket that uses it
};

// One frame in flight: its colour target, command buffers and copies.
struct Slot {
  VkImage image = VK_NULL_HANDLE;            // colour attachment, then copy source
  VkDeviceMemory image_memory = VK_NULL_HANDLE;
  VkImageView view = VK_NULL_HANDLE;
  VkFramebuffer framebuffer = VK_NULL_HANDLE;
  VkCommandBuffer upload_cb = VK_NULL_HANDLE;  // staging -> vertices (transfer queue)
  VkCommandBuffer render_cb = VK_NULL_HANDLE;  // the render pass (graphics queue)
  VkCommandBuffer copy_cb = VK_NULL_HANDLE;    // image -> result zone or readback (transfer queue)
  Buffer staging;   // host-visible copy of the instances (staging path)
  Buffer vertices;  // device-local instances (staging path)
  Buffer readback;  // host-visible pixels (result zone not imported)
  FrameInfo pending;  // written by submit before the ticket is published
};

}  // namespace

Result<std::vector<DeviceInfo>> list_devices(const VulkanOptions& options) {
  InstanceContext ctx;
  if (auto r = ctx.create(options); !r) return r.error();
  auto pds = ctx.physical_devices();
  if (!pds) return pds.error();
  std::vector<DeviceInfo> out;
  for (std::uint32_t i = 0; i < pds.value().size(); ++i) out.push_back(ctx.describe(pds.value()[i], i));
  return out;
}

struct VulkanRenderer::Impl {
  VulkanRendererConfig cfg;
  InstanceContext ctx;
  DeviceInfo info;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_props{};
  VkDevice device = VK_NULL_HANDLE;
  vk::DeviceFns fn{};
  std::uint32_t graphics_family = 0;
  std::uint32_t transfer_family = 0;
  VkQueue graphics_queue = VK_NULL_HANDLE;  // render submissions
  VkQueue transfer_queue = VK_NULL_HANDLE;  // upload and readback copies (may equal graphics_queue)
  bool host_import = false;
  VkDeviceSize import_alignment = kPageSize;

  VkRenderPass render_pass = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkCommandPool graphics_pool = VK_NULL_HANDLE;
  VkCommandPool transfer_pool = VK_NULL_HANDLE;
  // Timeline semaphores, value = ticket + 1 once that ticket's step is done.
  VkSemaphore uploaded = VK_NULL_HANDLE;
  VkSemaphore rendered = VK_NULL_HANDLE;
  VkSemaphore copied = VK_NULL_HANDLE;

  std::vector<Zone> layout_zones;
  std::vector<Zone> result_zones;
  std::array<Slot, kMaxFramesInFlight> slots{};
  std::uint32_t fif = 2;
  std::uint32_t max_capacity = 0;
  VkDeviceSize pixel_bytes = 0;
  ParallelFor pool;
  Presenter* presenter = nullptr;

  // Render-thread state.
  std::uint64_t next_ticket = 0;

  // Shared with the completion thread.
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t submitted = 0;  // guarded by mu
  bool stop = false;            // guarded by mu
  std::optional<Error> failure;  // guarded by mu
  std::array<FrameInfo, kFrameHistory> history{};  // guarded by mu
  std::shared_ptr<const FrameReadyCallback> callback;  // guarded by mu
  std::atomic<std::uint64_t> completed{0};
  std::atomic<bool> failed{false};
  WaitWord own_ready;
  WaitWord* ready = &own_ready;
  std::thread completion;

  ~Impl() { shutdown(); }

  void shutdown() {
    if (completion.joinable()) {
      {
        std::lock_guard lk(mu);
        stop = true;
      }
      cv.notify_all();
      completion.join();
    }
    if (device == VK_NULL_HANDLE) return;
    fn.vkDeviceWaitIdle(device);
    auto destroy_buffer = [&](Buffer& b) {
      if (b.buffer != VK_NULL_HANDLE) fn.vkDestroyBuffer(device, b.buffer, nullptr);
      if (b.memory != VK_NULL_HANDLE) fn.vkFreeMemory(device, b.memory, nullptr);
      b = Buffer{};
    };
    for (Slot& s : slots) {
      if (s.framebuffer != VK_NULL_HANDLE) fn.vkDestroyFramebuffer(device, s.framebuffer, nullptr);
      if (s.view != VK_NULL_HANDLE) fn.vkDestroyImageView(device, s.view, nullptr);
      if (s.image != VK_NULL_HANDLE) fn.vkDestroyImage(device, s.image, nullptr);
      if (s.image_memory != VK_NULL_HANDLE) fn.vkFreeMemory(device, s.image_memory, nullptr);
      destroy_buffer(s.staging);
      destroy_buffer(s.vertices);
      destroy_buffer(s.readback);
    }
    for (Zone& z : layout_zones) destroy_buffer(z.gpu);
    for (Zone& z : result_zones) destroy_buffer(z.gpu);
    for (VkSemaphore s : {uploaded, rendered, copied}) {
      if (s != VK_NULL_HANDLE) fn.vkDestroySemaphore(device, s, nullptr);
    }
    if (graphics_pool != VK_NULL_HANDLE) fn.vkDestroyCommandPool(device, graphics_pool, nullptr);
    if (transfer_pool != VK_NULL_HANDLE && transfer_pool != graphics_pool) {
      fn.vkDestroyCommandPool(device, transfer_pool, nullptr);
    }
    if (pipeline != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, pipeline, nullptr);
    if (pipeline_layout != VK_NULL_HANDLE) fn.vkDestroyPipelineLayout(device, pipeline_layout, nullptr);
    if (render_pass != VK_NULL_HANDLE) fn.vkDestroyRenderPass(device, render_pass, nullptr);
    fn.vkDestroyDevice(device, nullptr);
    device = VK_NULL_HANDLE;
  }

  // ---- setup -------------------------------------------------------------

  Result<void> pick_device() {
    auto pds = ctx.physical_devices();
    if (!pds) return pds.error();
    std::vector<DeviceInfo> all;
    for (std::uint32_t i = 0; i < pds.value().size(); ++i) all.push_back(ctx.describe(pds.value()[i], i));
    auto listing = [&] {
      std::string s;
      for (const auto& d : all) {
        s += " [" + std::to_string(d.index) + "] " + d.name + " (" + d.type + (d.usable ? "" : ", unusable") + ")";
      }
      return s;
    };
    const DeviceChoice& want = cfg.vulkan.device;
    const DeviceInfo* chosen = nullptr;
    if (want.index >= 0) {
      if (static_cast<std::size_t>(want.index) >= all.size()) {
        return make_error(Errc::kUnsupported, "no Vulkan device with index " + std::to_string(want.index) +
                                                  "; devices:" + listing());
      }
      chosen = &all[static_cast<std::size_t>(want.index)];
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
    } else {
      for (const auto& d : all) {
        if (!d.usable) continue;
        VkPhysicalDeviceProperties pa{};
        VkPhysicalDeviceProperties pb{};
        ctx.fns.vkGetPhysicalDeviceProperties(pds.value()[d.index], &pa);
        if (chosen != nullptr) ctx.fns.vkGetPhysicalDeviceProperties(pds.value()[chosen->index], &pb);
        if (chosen == nullptr || type_rank(pa.deviceType) < type_rank(pb.deviceType)) chosen = &d;
      }
      if (chosen == nullptr) {
        return make_error(Errc::kUnsupported, "no usable Vulkan device (needs Vulkan 1.2 and a graphics queue); devices:" + listing());
      }
    }
    if (!chosen->usable) {
      return make_error(Errc::kUnsupported, "Vulkan device '" + chosen->name + "' is unusable: it needs Vulkan 1.2 and a graphics queue");
    }
    info = *chosen;
    physical = pds.value()[chosen->index];
    return {};
  }

  Result<void> create_device() {
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
    std::vector<const char*> ext;
    if (host_import) ext.push_back(VK_EXT_EXTERNAL_MEMORY_HOST_EXTENSION_NAME);
    auto f12 = make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
    VkPhysicalDeviceFeatures2 f2{VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, &f12, {}};
    ctx.fns.vkGetPhysicalDeviceFeatures2(physical, &f2);
    if (f12.timelineSemaphore == VK_FALSE) {
      return make_error(Errc::kUnsupported, "Vulkan device '" + info.name + "' lacks timeline semaphores");
    }
    auto want12 = make<VkPhysicalDeviceVulkan12Features>(VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_1_2_FEATURES);
    want12.timelineSemaphore = VK_TRUE;
    auto dci = make<VkDeviceCreateInfo>(VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO);
    dci.pNext = &want12;
    dci.queueCreateInfoCount = transfer_family == graphics_family ? 1U : 2U;
    dci.pQueueCreateInfos = qci.data();
    dci.enabledExtensionCount = static_cast<std::uint32_t>(ext.size());
    dci.ppEnabledExtensionNames = ext.data();
    TRIPTYCH_VK_TRY(ctx.fns.vkCreateDevice(physical, &dci, nullptr, &device));
    if (auto r = vk::load_device(ctx.fns, device, fn); !r) return r;
    if (host_import && fn.vkGetMemoryHostPointerPropertiesEXT == nullptr) host_import = false;
    fn.vkGetDeviceQueue(device, graphics_family, 0, &graphics_queue);
    fn.vkGetDeviceQueue(device, transfer_family, 0, &transfer_queue);
    ctx.fns.vkGetPhysicalDeviceMemoryProperties(physical, &memory_props);
    return {};
  }

  std::optional<std::uint32_t> memory_type(std::uint32_t bits, VkMemoryPropertyFlags want) const {
    for (std::uint32_t i = 0; i < memory_props.memoryTypeCount; ++i) {
      if ((bits & (1U << i)) != 0 && (memory_props.memoryTypes[i].propertyFlags & want) == want) return i;
    }
    return std::nullopt;
  }

  void sharing(VkSharingMode& mode, std::uint32_t& count, const std::uint32_t*& families,
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

  Result<void> create_buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want,
                             VkMemoryPropertyFlags fallback, bool map, Buffer& out) {
    const std::array<std::uint32_t, 2> both{graphics_family, transfer_family};
    auto bci = make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
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
  bool import_zone(std::span<std::byte> bytes, VkBufferUsageFlags usage, Buffer& out, std::string& why) {
    auto fail = [&](std::string reason) {
      why = std::move(reason);
      if (out.buffer != VK_NULL_HANDLE) fn.vkDestroyBuffer(device, out.buffer, nullptr);
      out = Buffer{};
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
    auto hp = make<VkMemoryHostPointerPropertiesEXT>(VK_STRUCTURE_TYPE_MEMORY_HOST_POINTER_PROPERTIES_EXT);
    VkResult r = fn.vkGetMemoryHostPointerPropertiesEXT(
        device, VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT, bytes.data(), &hp);
    if (r != VK_SUCCESS || hp.memoryTypeBits == 0) {
      return fail(std::string("the driver refuses to import these pages (vkGetMemoryHostPointerPropertiesEXT: ") +
                  vk::result_name(r) + ")");
    }
    const std::array<std::uint32_t, 2> both{graphics_family, transfer_family};
    auto ext = make<VkExternalMemoryBufferCreateInfo>(VK_STRUCTURE_TYPE_EXTERNAL_MEMORY_BUFFER_CREATE_INFO);
    ext.handleTypes = VK_EXTERNAL_MEMORY_HANDLE_TYPE_HOST_ALLOCATION_BIT_EXT;
    auto bci = make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
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
    auto imp = make<VkImportMemoryHostPointerInfoEXT>(VK_STRUCTURE_TYPE_IMPORT_MEMORY_HOST_POINTER_INFO_EXT);
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

  Result<void> bind_zones(std::span<const std::span<std::byte>> layout, std::span<const std::span<std::byte>> result) {
    if (layout.empty()) return make_error(Errc::kInvalidArgument, "the renderer needs at least one layout zone");
    if (cfg.readback && result.empty()) return make_error(Errc::kInvalidArgument, "readback needs at least one result zone");
    for (std::size_t i = 0; i < layout.size(); ++i) {
      Zone z;
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
        z.binding.imported = import_zone(z.bytes, VK_BUFFER_USAGE_VERTEX_BUFFER_BIT, z.gpu, z.binding.note);
        if (!z.binding.imported) z.binding.note = "layout zone " + std::to_string(i) + ": staging upload: " + z.binding.note;
      } else {
        z.binding.note = "layout zone " + std::to_string(i) + ": staging upload (selected)";
      }
      layout_zones.push_back(std::move(z));
    }
    for (std::size_t i = 0; i < result.size(); ++i) {
      Zone z;
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

  Result<VkShaderModule> shader(std::span<const std::uint32_t> words) {
    auto ci = make<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    ci.codeSize = words.size_bytes();
    ci.pCode = words.data();
    VkShaderModule m = VK_NULL_HANDLE;
    TRIPTYCH_VK_TRY(fn.vkCreateShaderModule(device, &ci, nullptr, &m));
    return m;
  }

  Result<void> create_pipeline() {
    VkAttachmentDescription color{};
    color.format = kColorFormat;
    color.samples = VK_SAMPLE_COUNT_1_BIT;
    color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
    color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
    color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
    color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
    color.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
    color.finalLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;  // ready for the readback copy or a presenter
    VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
    VkSubpassDescription sub{};
    sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
    sub.colorAttachmentCount = 1;
    sub.pColorAttachments = &ref;
    std::array<VkSubpassDependency, 2> deps{};
    // The previous frame's copy out of this image (another submission) ends before we clear it.
    deps[0] = {VK_SUBPASS_EXTERNAL, 0, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
               0, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, 0};
    // Our writes are done before the copy (or a presenter's blit) reads the image.
    deps[1] = {0, VK_SUBPASS_EXTERNAL, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
               VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT, 0};
    auto rp = make<VkRenderPassCreateInfo>(VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO);
    rp.attachmentCount = 1;
    rp.pAttachments = &color;
    rp.subpassCount = 1;
    rp.pSubpasses = &sub;
    rp.dependencyCount = static_cast<std::uint32_t>(deps.size());
    rp.pDependencies = deps.data();
    TRIPTYCH_VK_TRY(fn.vkCreateRenderPass(device, &rp, nullptr, &render_pass));

    VkPushConstantRange push{VK_SHADER_STAGE_VERTEX_BIT, 0, 2 * sizeof(float)};
    auto pl = make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
    pl.pushConstantRangeCount = 1;
    pl.pPushConstantRanges = &push;
    TRIPTYCH_VK_TRY(fn.vkCreatePipelineLayout(device, &pl, nullptr, &pipeline_layout));

    auto vert = shader(kQuadVert);
    if (!vert) return vert.error();
    auto frag = shader(kSdfFrag);
    if (!frag) {
      fn.vkDestroyShaderModule(device, vert.value(), nullptr);
      return frag.error();
    }
    std::array<VkPipelineShaderStageCreateInfo, 2> stages{};
    stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_VERTEX_BIT, vert.value(), "main", nullptr};
    stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_FRAGMENT_BIT, frag.value(), "main", nullptr};
    VkVertexInputBindingDescription binding{0, sizeof(Instance), VK_VERTEX_INPUT_RATE_INSTANCE};
    const std::array<VkVertexInputAttributeDescription, 5> attrs{{
        {0, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(Instance, ax)},
        {1, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(Instance, bx)},
        {2, 0, VK_FORMAT_R32_SFLOAT, offsetof(Instance, param)},
        {3, 0, VK_FORMAT_R8G8B8A8_UNORM, offsetof(Instance, rgba)},
        {4, 0, VK_FORMAT_R32_UINT, offsetof(Instance, shape)},
    }};
    auto vi = make<VkPipelineVertexInputStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO);
    vi.vertexBindingDescriptionCount = 1;
    vi.pVertexBindingDescriptions = &binding;
    vi.vertexAttributeDescriptionCount = static_cast<std::uint32_t>(attrs.size());
    vi.pVertexAttributeDescriptions = attrs.data();
    auto ia = make<VkPipelineInputAssemblyStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO);
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP;
    const VkViewport viewport{0.0F, 0.0F, static_cast<float>(cfg.layout.width), static_cast<float>(cfg.layout.height), 0.0F, 1.0F};
    const VkRect2D scissor{{0, 0}, {cfg.layout.width, cfg.layout.height}};
    auto vp = make<VkPipelineViewportStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO);
    vp.viewportCount = 1;
    vp.pViewports = &viewport;
    vp.scissorCount = 1;
    vp.pScissors = &scissor;
    auto rs = make<VkPipelineRasterizationStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO);
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
    rs.lineWidth = 1.0F;
    auto ms = make<VkPipelineMultisampleStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO);
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    VkPipelineColorBlendAttachmentState blend{};
    blend.blendEnable = VK_TRUE;  // straight-alpha "over"
    blend.srcColorBlendFactor = VK_BLEND_FACTOR_SRC_ALPHA;
    blend.dstColorBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
    blend.colorBlendOp = VK_BLEND_OP_ADD;
    blend.srcAlphaBlendFactor = VK_BLEND_FACTOR_ONE;
    blend.dstAlphaBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
    blend.alphaBlendOp = VK_BLEND_OP_ADD;
    blend.colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT | VK_COLOR_COMPONENT_A_BIT;
    auto cb = make<VkPipelineColorBlendStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO);
    cb.attachmentCount = 1;
    cb.pAttachments = &blend;
    auto gp = make<VkGraphicsPipelineCreateInfo>(VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO);
    gp.stageCount = static_cast<std::uint32_t>(stages.size());
    gp.pStages = stages.data();
    gp.pVertexInputState = &vi;
    gp.pInputAssemblyState = &ia;
    gp.pViewportState = &vp;
    gp.pRasterizationState = &rs;
    gp.pMultisampleState = &ms;
    gp.pColorBlendState = &cb;
    gp.layout = pipeline_layout;
    gp.renderPass = render_pass;
    const VkResult r = fn.vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &gp, nullptr, &pipeline);
    fn.vkDestroyShaderModule(device, vert.value(), nullptr);
    fn.vkDestroyShaderModule(device, frag.value(), nullptr);
    if (r != VK_SUCCESS) return vk::call_error("vkCreateGraphicsPipelines", r);
    return {};
  }

  Result<void> create_frame_resources() {
    auto pci = make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
    pci.queueFamilyIndex = graphics_family;
    TRIPTYCH_VK_TRY(fn.vkCreateCommandPool(device, &pci, nullptr, &graphics_pool));
    if (transfer_family != graphics_family) {
      pci.queueFamilyIndex = transfer_family;
      TRIPTYCH_VK_TRY(fn.vkCreateCommandPool(device, &pci, nullptr, &transfer_pool));
    } else {
      transfer_pool = graphics_pool;
    }
    auto stc = make<VkSemaphoreTypeCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO);
    stc.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
    stc.initialValue = 0;
    VkSemaphoreCreateInfo sci{VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &stc, 0};
    TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(device, &sci, nullptr, &uploaded));
    TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(device, &sci, nullptr, &rendered));
    TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(device, &sci, nullptr, &copied));

    const bool any_staged_layout = std::any_of(layout_zones.begin(), layout_zones.end(),
                                               [](const Zone& z) { return !z.binding.imported; });
    const bool any_staged_result = cfg.readback && std::any_of(result_zones.begin(), result_zones.end(),
                                                               [](const Zone& z) { return !z.binding.imported; });
    pixel_bytes = VkDeviceSize{cfg.layout.width} * cfg.layout.height * 4;
    const std::array<std::uint32_t, 2> both{graphics_family, transfer_family};
    for (std::uint32_t i = 0; i < fif; ++i) {
      Slot& s = slots[i];
      auto ici = make<VkImageCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO);
      ici.imageType = VK_IMAGE_TYPE_2D;
      ici.format = kColorFormat;
      ici.extent = {cfg.layout.width, cfg.layout.height, 1};
      ici.mipLevels = 1;
      ici.arrayLayers = 1;
      ici.samples = VK_SAMPLE_COUNT_1_BIT;
      ici.tiling = VK_IMAGE_TILING_OPTIMAL;
      ici.usage = VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT | VK_IMAGE_USAGE_TRANSFER_SRC_BIT;
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
      auto vci = make<VkImageViewCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO);
      vci.image = s.image;
      vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
      vci.format = kColorFormat;
      vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
      TRIPTYCH_VK_TRY(fn.vkCreateImageView(device, &vci, nullptr, &s.view));
      auto fci = make<VkFramebufferCreateInfo>(VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO);
      fci.renderPass = render_pass;
      fci.attachmentCount = 1;
      fci.pAttachments = &s.view;
      fci.width = cfg.layout.width;
      fci.height = cfg.layout.height;
      fci.layers = 1;
      TRIPTYCH_VK_TRY(fn.vkCreateFramebuffer(device, &fci, nullptr, &s.framebuffer));

      auto cai = make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
      cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
      cai.commandBufferCount = 1;
      cai.commandPool = graphics_pool;
      TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(device, &cai, &s.render_cb));
      cai.commandPool = transfer_pool;
      TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(device, &cai, &s.upload_cb));
      TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(device, &cai, &s.copy_cb));

      if (any_staged_layout) {
        const VkDeviceSize bytes = VkDeviceSize{max_capacity} * sizeof(Instance);
        constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        if (auto r = create_buffer(bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT, kHost, kHost, true, s.staging); !r) return r;
        if (auto r = create_buffer(bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT | VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                                   VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, false, s.vertices);
            !r) {
          return r;
        }
      }
      if (any_staged_result) {
        // Cached memory makes the CPU's read of the pixels fast; coherent is the fallback.
        constexpr VkMemoryPropertyFlags kCached = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
                                                  VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
                                                  VK_MEMORY_PROPERTY_HOST_CACHED_BIT;
        constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
        if (auto r = create_buffer(pixel_bytes, VK_BUFFER_USAGE_TRANSFER_DST_BIT, kCached, kHost, true, s.readback); !r) return r;
      }
    }
    return {};
  }

  // ---- per frame ----------------------------------------------------------

  Error fail(Error e) {
    {
      std::lock_guard lk(mu);
      if (!failure) failure = e;
    }
    failed.store(true, std::memory_order_release);  // SYNC(failed): publishes `failure` (also under mu)
    return e;
  }

  Result<void> wait_completed(std::uint64_t target, std::chrono::nanoseconds timeout) {
    const auto deadline = timeout == kWaitForever ? std::chrono::steady_clock::time_point::max()
                                                  : std::chrono::steady_clock::now() + timeout;
    for (;;) {
      // Read the futex word before the condition so a completion in between changes it.
      const std::uint32_t seen = ready->value.load(std::memory_order_acquire);
      // SYNC(frame-complete): acquires the FrameInfo, result pixels and header of every ticket < completed.
      if (completed.load(std::memory_order_acquire) >= target) return {};
      if (failed.load(std::memory_order_acquire)) {  // SYNC(failed)
        std::lock_guard lk(mu);
        return *failure;
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) {
        return make_error(Errc::kSystem, "timed out waiting for ticket " + std::to_string(target - 1) +
                                             " (completed " + std::to_string(completed.load(std::memory_order_acquire)) + ")");
      }
      const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
      (void)wait(*ready, seen, std::min<std::chrono::nanoseconds>(left, kWaitSlice));
    }
  }

  Result<void> record_and_submit(std::uint64_t t, Slot& s, Zone& lz, Zone* rz, const LayoutResult& lr) {
    const std::uint64_t signal = t + 1;
    auto begin = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
    begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
    const auto* instances = lz.bytes.data() + kZonePayloadOffset;

    // 1. Staging upload: only the chunks' instance ranges.
    const bool upload = !lz.binding.imported && lr.instance_count > 0;
    if (upload) {
      std::array<VkBufferCopy, kMaxLayoutChunks> regions{};
      std::uint32_t n = 0;
      for (std::uint32_t c = 0; c < lr.chunk_count; ++c) {
        if (lr.chunks[c].count == 0) continue;
        const VkDeviceSize off = VkDeviceSize{lr.chunks[c].first} * sizeof(Instance);
        const VkDeviceSize len = VkDeviceSize{lr.chunks[c].count} * sizeof(Instance);
        std::memcpy(static_cast<std::byte*>(s.staging.mapped) + off, instances + off, len);
        regions[n++] = {off, off, len};
      }
      TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.upload_cb, 0));
      TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.upload_cb, &begin));
      fn.vkCmdCopyBuffer(s.upload_cb, s.staging.buffer, s.vertices.buffer, n, regions.data());
      TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.upload_cb));
      auto ts = make<VkTimelineSemaphoreSubmitInfo>(VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO);
      ts.signalSemaphoreValueCount = 1;
      ts.pSignalSemaphoreValues = &signal;
      auto si = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO, &ts);
      si.commandBufferCount = 1;
      si.pCommandBuffers = &s.upload_cb;
      si.signalSemaphoreCount = 1;
      si.pSignalSemaphores = &uploaded;
      TRIPTYCH_VK_TRY(fn.vkQueueSubmit(transfer_queue, 1, &si, VK_NULL_HANDLE));
    }

    // 2. Render: clear, then one instanced draw per non-empty chunk, in order.
    TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.render_cb, 0));
    TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.render_cb, &begin));
    VkClearValue clear{};
    std::memcpy(clear.color.float32, cfg.clear_color.data(), sizeof clear.color.float32);
    auto rb = make<VkRenderPassBeginInfo>(VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO);
    rb.renderPass = render_pass;
    rb.framebuffer = s.framebuffer;
    rb.renderArea = {{0, 0}, {cfg.layout.width, cfg.layout.height}};
    rb.clearValueCount = 1;
    rb.pClearValues = &clear;
    fn.vkCmdBeginRenderPass(s.render_cb, &rb, VK_SUBPASS_CONTENTS_INLINE);
    if (lr.instance_count > 0) {
      fn.vkCmdBindPipeline(s.render_cb, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
      const std::array<float, 2> viewport{static_cast<float>(cfg.layout.width), static_cast<float>(cfg.layout.height)};
      fn.vkCmdPushConstants(s.render_cb, pipeline_layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof viewport, viewport.data());
      const VkBuffer vb = lz.binding.imported ? lz.gpu.buffer : s.vertices.buffer;
      const VkDeviceSize vb_offset = lz.binding.imported ? kZonePayloadOffset : 0;
      fn.vkCmdBindVertexBuffers(s.render_cb, 0, 1, &vb, &vb_offset);
      for (std::uint32_t c = 0; c < lr.chunk_count; ++c) {
        if (lr.chunks[c].count > 0) fn.vkCmdDraw(s.render_cb, 4, lr.chunks[c].count, 0, lr.chunks[c].first);
      }
    }
    fn.vkCmdEndRenderPass(s.render_cb);
    TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.render_cb));
    {
      auto ts = make<VkTimelineSemaphoreSubmitInfo>(VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO);
      const VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_VERTEX_INPUT_BIT;
      ts.waitSemaphoreValueCount = upload ? 1U : 0U;
      ts.pWaitSemaphoreValues = &signal;
      ts.signalSemaphoreValueCount = 1;
      ts.pSignalSemaphoreValues = &signal;
      auto si = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO, &ts);
      si.waitSemaphoreCount = upload ? 1U : 0U;
      si.pWaitSemaphores = &uploaded;
      si.pWaitDstStageMask = &wait_stage;
      si.commandBufferCount = 1;
      si.pCommandBuffers = &s.render_cb;
      si.signalSemaphoreCount = 1;
      si.pSignalSemaphores = &rendered;
      TRIPTYCH_VK_TRY(fn.vkQueueSubmit(graphics_queue, 1, &si, VK_NULL_HANDLE));
    }

    // 3. Readback: image -> result zone (imported) or the slot's readback buffer.
    const bool copy = cfg.readback && rz != nullptr;
    if (copy) {
      TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.copy_cb, 0));
      TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.copy_cb, &begin));
      VkBufferImageCopy region{};
      region.bufferOffset = rz->binding.imported ? kZonePayloadOffset : 0;
      region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      region.imageExtent = {cfg.layout.width, cfg.layout.height, 1};
      const VkBuffer dst = rz->binding.imported ? rz->gpu.buffer : s.readback.buffer;
      fn.vkCmdCopyImageToBuffer(s.copy_cb, s.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, dst, 1, &region);
      // Make the copy's writes visible to the host that reads the pixels.
      VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT};
      fn.vkCmdPipelineBarrier(s.copy_cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0,
                              nullptr, 0, nullptr);
      TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.copy_cb));
    }
    {
      auto ts = make<VkTimelineSemaphoreSubmitInfo>(VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO);
      const VkPipelineStageFlags wait_stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
      ts.waitSemaphoreValueCount = 1;
      ts.pWaitSemaphoreValues = &signal;
      ts.signalSemaphoreValueCount = 1;
      ts.pSignalSemaphoreValues = &signal;
      auto si = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO, &ts);
      si.waitSemaphoreCount = 1;
      si.pWaitSemaphores = &rendered;
      si.pWaitDstStageMask = &wait_stage;
      si.commandBufferCount = copy ? 1U : 0U;
      si.pCommandBuffers = &s.copy_cb;
      si.signalSemaphoreCount = 1;
      si.pSignalSemaphores = &copied;
      TRIPTYCH_VK_TRY(fn.vkQueueSubmit(transfer_queue, 1, &si, VK_NULL_HANDLE));
    }
    return {};
  }

  Result<std::uint64_t> submit(const FrameInput& in) {
    if (failed.load(std::memory_order_acquire)) {  // SYNC(failed)
      std::lock_guard lk(mu);
      return *failure;
    }
    if (in.layout_zone >= layout_zones.size()) {
      return make_error(Errc::kOutOfRange, "layout zone " + std::to_string(in.layout_zone) + " of " + std::to_string(layout_zones.size()));
    }
    if (cfg.readback && in.result_zone >= result_zones.size()) {
      return make_error(Errc::kOutOfRange, "result zone " + std::to_string(in.result_zone) + " of " + std::to_string(result_zones.size()));
    }
    const std::uint64_t t = next_ticket;
    Slot& s = slots[t % fif];
    Zone& lz = layout_zones[in.layout_zone];
    Zone* rz = cfg.readback ? &result_zones[in.result_zone] : nullptr;
    const std::int64_t start = now_ns();
    if (cfg.trace != nullptr) TRIPTYCH_STAMP(*cfg.trace, in.frame, trace::Stage::kRenderStart);
    // The slot's command buffers and image, and both zones, must be free.
    std::uint64_t need = t >= fif ? t - fif + 1 : 0;
    if (lz.last_ticket != kNoTicket) need = std::max(need, lz.last_ticket + 1);
    if (rz != nullptr && rz->last_ticket != kNoTicket) need = std::max(need, rz->last_ticket + 1);
    if (auto r = wait_completed(need, cfg.gpu_timeout); !r) return r.error();
    if (presenter != nullptr && t >= fif) presenter->retire(t - fif);

    auto lr = layout_pass(cfg.layout, in.frame, in.compute_slot, in.particle_count, lz.bytes, cfg.layout_tasks, pool);
    if (!lr) return lr.error();
    const std::int64_t layout_end = now_ns();
    if (auto r = record_and_submit(t, s, lz, rz, lr.value()); !r) return fail(r.error());

    FrameInfo& p = s.pending;
    p = FrameInfo{};
    p.ticket = t;
    p.frame = in.frame;
    p.layout_zone = in.layout_zone;
    p.result_zone = in.result_zone;
    p.stats = lr->stats;
    p.render_start_ns = start;
    p.layout_end_ns = layout_end;
    p.submitted_ns = now_ns();
    p.layout_imported = lz.binding.imported;
    p.result_imported = rz != nullptr && rz->binding.imported;
    lz.last_ticket = t;
    if (rz != nullptr) rz->last_ticket = t;
    next_ticket = t + 1;
    {
      std::lock_guard lk(mu);  // publishes s.pending to the completion thread
      submitted = t + 1;
    }
    cv.notify_one();
    if (presenter != nullptr) {
      PresentImage img;
      img.image = s.image;
      img.extent = {cfg.layout.width, cfg.layout.height};
      img.rendered = rendered;
      img.rendered_value = t + 1;
      img.ticket = t;
      img.frame = in.frame;
      if (auto r = presenter->present(img); !r) return r.error();
    }
    return t;
  }

  void completion_loop() {
    for (std::uint64_t t = 0;; ++t) {
      {
        std::unique_lock lk(mu);
        cv.wait(lk, [&] { return stop || submitted > t; });
        if (submitted <= t) return;
      }
      const Slot& s = slots[t % fif];
      FrameInfo done = s.pending;
      const std::uint64_t value = t + 1;
      auto wi = make<VkSemaphoreWaitInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO);
      wi.semaphoreCount = 1;
      wi.pSemaphores = &copied;
      wi.pValues = &value;
      const std::int64_t give_up = now_ns() + cfg.gpu_timeout.count();
      for (;;) {
        const VkResult r = fn.vkWaitSemaphores(device, &wi, kGpuWaitSliceNs);
        if (r == VK_SUCCESS) break;
        if (r != VK_TIMEOUT) {
          (void)fail(vk::call_error("vkWaitSemaphores", r));
          fetch_add_and_wake(*ready, 0, INT_MAX);
          return;
        }
        if (now_ns() > give_up) {
          (void)fail(make_error(Errc::kSystem, "the GPU did not finish ticket " + std::to_string(t) + " within " +
                                                   std::to_string(cfg.gpu_timeout.count() / 1'000'000) + " ms (hang?)"));
          return;
        }
      }
      if (cfg.readback) {
        Zone& rz = result_zones[done.result_zone];
        if (!rz.binding.imported) {
          std::memcpy(rz.bytes.data() + kZonePayloadOffset, s.readback.mapped, pixel_bytes);
        }
        auto* header = reinterpret_cast<ResultZoneHeader*>(rz.bytes.data());
        // SYNC(result-frame): publishes the pixels of frame `done.frame` in this zone.
        header->frame.store(done.frame + 1, std::memory_order_release);
      }
      done.render_end_ns = now_ns();
      if (cfg.trace != nullptr) TRIPTYCH_STAMP(*cfg.trace, done.frame, trace::Stage::kRenderEnd);
      std::shared_ptr<const FrameReadyCallback> cb;
      {
        std::lock_guard lk(mu);
        history[t % kFrameHistory] = done;
        cb = callback;
      }
      // SYNC(frame-complete): publishes the FrameInfo, result pixels and header of ticket t.
      completed.store(t + 1, std::memory_order_release);
      store_and_wake(*ready, static_cast<std::uint32_t>(t + 1), INT_MAX);
      if (cb && *cb) (*cb)(done);
    }
  }
};

VulkanRenderer::VulkanRenderer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
VulkanRenderer::~VulkanRenderer() = default;

Result<std::unique_ptr<VulkanRenderer>> VulkanRenderer::create(VulkanRendererConfig config,
                                                               std::span<const std::span<std::byte>> layout_zones,
                                                               std::span<const std::span<std::byte>> result_zones) {
  if (auto v = validate(config.layout); !v) return v.error();
  if (config.frames_in_flight < 1 || config.frames_in_flight > kMaxFramesInFlight) {
    return make_error(Errc::kInvalidArgument, "frames_in_flight must be in [1, 8]");
  }
  if (config.gpu_timeout.count() <= 0) return make_error(Errc::kInvalidArgument, "gpu_timeout must be > 0");
  auto impl = std::make_unique<Impl>();
  impl->cfg = std::move(config);
  impl->fif = impl->cfg.frames_in_flight;
  impl->pool = impl->cfg.pool ? impl->cfg.pool : thread_split_parallel_for();
  if (impl->cfg.frame_ready_word != nullptr) impl->ready = impl->cfg.frame_ready_word;
  if (auto r = impl->ctx.create(impl->cfg.vulkan); !r) return r.error();
  if (auto r = impl->pick_device(); !r) return r.error();
  if (auto r = impl->create_device(); !r) return r.error();
  if (auto r = impl->bind_zones(layout_zones, result_zones); !r) return r.error();
  if (auto r = impl->create_pipeline(); !r) return r.error();
  if (auto r = impl->create_frame_resources(); !r) return r.error();
  Impl* raw = impl.get();
  impl->completion = std::thread([raw] { raw->completion_loop(); });
  return std::unique_ptr<VulkanRenderer>(new VulkanRenderer(std::move(impl)));
}

Result<std::uint64_t> VulkanRenderer::submit(const FrameInput& input) { return impl_->submit(input); }

Result<FrameInfo> VulkanRenderer::wait_frame(std::uint64_t ticket, std::chrono::nanoseconds timeout) {
  if (ticket >= impl_->next_ticket) {
    return make_error(Errc::kOutOfRange, "ticket " + std::to_string(ticket) + " was never submitted");
  }
  if (auto r = impl_->wait_completed(ticket + 1, timeout); !r) return r.error();
  std::lock_guard lk(impl_->mu);
  const FrameInfo& f = impl_->history[ticket % kFrameHistory];
  if (f.ticket != ticket) {
    return make_error(Errc::kStale, "ticket " + std::to_string(ticket) + "'s record was recycled (history keeps " +
                                        std::to_string(kFrameHistory) + ")");
  }
  return f;
}

WaitWord& VulkanRenderer::frame_ready() noexcept { return *impl_->ready; }
std::uint64_t VulkanRenderer::completed() const noexcept {
  return impl_->completed.load(std::memory_order_acquire);  // SYNC(frame-complete)
}
void VulkanRenderer::set_frame_ready_callback(FrameReadyCallback callback) {
  auto p = std::make_shared<const FrameReadyCallback>(std::move(callback));
  std::lock_guard lk(impl_->mu);
  impl_->callback = std::move(p);
}
Result<void> VulkanRenderer::wait_idle(std::chrono::nanoseconds timeout) {
  return impl_->wait_completed(impl_->next_ticket, timeout);
}
void VulkanRenderer::set_presenter(Presenter* presenter) noexcept { impl_->presenter = presenter; }
VulkanHandles VulkanRenderer::handles() const noexcept {
  return {impl_->ctx.instance, impl_->physical, impl_->device, impl_->graphics_queue, impl_->graphics_family,
          impl_->ctx.library.global().vkGetInstanceProcAddr};
}
const DeviceInfo& VulkanRenderer::device() const noexcept { return impl_->info; }
const ZoneBinding& VulkanRenderer::layout_binding(std::uint32_t zone) const { return impl_->layout_zones.at(zone).binding; }
const ZoneBinding& VulkanRenderer::result_binding(std::uint32_t zone) const { return impl_->result_zones.at(zone).binding; }
const VulkanRendererConfig& VulkanRenderer::config() const noexcept { return impl_->cfg; }

}  // namespace triptych::render
