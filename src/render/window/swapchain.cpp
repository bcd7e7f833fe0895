// SPDX-License-Identifier: Apache-2.0
// The window presenter's Vulkan objects: its entry points (through the
// renderer's instance), the window surface, the present mode (MAILBOX, else
// FIFO, else IMMEDIATE; the CPU pacer runs under each), the swapchain and its
// per-image semaphores, built again on resize / OUT_OF_DATE / SUBOPTIMAL, the
// per-slot command buffers and capture buffers, and teardown. Blocking; the
// presenter's thread. docs/presenter.md ("Swapchain", "Failures").
#include <algorithm>
#include <cstdio>

#include "render/window/hud.hpp"
#include "render/window/presenter_impl.hpp"

namespace triptych::render {

using vk::make;

namespace {

// Blitted into, and drawn on by the HUD.
constexpr VkImageUsageFlags kBaseUsage = VK_IMAGE_USAGE_TRANSFER_DST_BIT | VK_IMAGE_USAGE_COLOR_ATTACHMENT_BIT;

}  // namespace

Result<void> WindowPresenter::Impl::load_functions() {
  vk::GlobalFns global{};
  global.vkGetInstanceProcAddr = reinterpret_cast<PFN_vkGetInstanceProcAddr>(vk.get_instance_proc_addr);
  if (global.vkGetInstanceProcAddr == nullptr || vk.instance == nullptr || vk.device == nullptr) {
    return make_error(Errc::kInvalidArgument, "the window presenter needs a created renderer's Vulkan handles");
  }
  vk::load_instance(global, vk.instance, fn);
  if (auto r = vk::load_device(fn, vk.device, fn); !r) return r;
#define TRIPTYCH_PRESENT_LOAD_INSTANCE(name)                                                  \
  fn.name = reinterpret_cast<PFN_##name>(global.vkGetInstanceProcAddr(vk.instance, #name));   \
  if (fn.name == nullptr) {                                                                   \
    return make_error(Errc::kUnsupported, "the Vulkan instance has no " #name                 \
                                          ": the renderer was not created with the window "     \
                                          "system's extensions");                               \
  }
  TRIPTYCH_PRESENT_INSTANCE_FNS(TRIPTYCH_PRESENT_LOAD_INSTANCE)
#undef TRIPTYCH_PRESENT_LOAD_INSTANCE
#define TRIPTYCH_PRESENT_LOAD_DEVICE(name)                                                  \
  fn.name = reinterpret_cast<PFN_##name>(fn.vkGetDeviceProcAddr(vk.device, #name));        \
  if (fn.name == nullptr) {                                                                 \
    return make_error(Errc::kUnsupported, "the Vulkan device has no " #name                 \
                                          ": the renderer was not created with the window " \
                                          "system's extensions (VK_KHR_swapchain)");        \
  }
  TRIPTYCH_PRESENT_DEVICE_FNS(TRIPTYCH_PRESENT_LOAD_DEVICE)
#undef TRIPTYCH_PRESENT_LOAD_DEVICE
  if (vk.present_wait) {
    fn.vkWaitForPresentKHR = reinterpret_cast<PFN_vkWaitForPresentKHR>(fn.vkGetDeviceProcAddr(vk.device, "vkWaitForPresentKHR"));
  }
  present_wait = fn.vkWaitForPresentKHR != nullptr;
  return {};
}

Result<void> WindowPresenter::Impl::create_surface() {
  window::glfw().glfwWindowHint(GLFW_CLIENT_API, GLFW_NO_API);
  window::glfw().glfwWindowHint(GLFW_RESIZABLE, GLFW_TRUE);
  window::glfw().glfwWindowHint(GLFW_VISIBLE, cfg.visible ? GLFW_TRUE : GLFW_FALSE);
  window = window::glfw().glfwCreateWindow(static_cast<int>(cfg.size.width), static_cast<int>(cfg.size.height), cfg.title.c_str(),
                            nullptr, nullptr);
  if (window == nullptr) {
    return make_error(Errc::kUnsupported, "cannot create a window (is the window system open? open_window_system)");
  }
  if (const VkResult r = window::glfw().glfwCreateWindowSurface(vk.instance, window, nullptr, &surface); r != VK_SUCCESS) {
    if (r == VK_ERROR_EXTENSION_NOT_PRESENT) {
      return make_error(Errc::kUnsupported, "no window surface: the renderer was not created with the window "
                                            "system's extensions");
    }
    return vk::call_error("glfwCreateWindowSurface", r);
  }
  VkBool32 supported = VK_FALSE;
  TRIPTYCH_VK_TRY(fn.vkGetPhysicalDeviceSurfaceSupportKHR(vk.physical_device, vk.graphics_family, surface, &supported));
  if (supported != VK_TRUE) {
    return make_error(Errc::kUnsupported, "the renderer's graphics queue cannot present to this window's surface");
  }
  std::uint32_t n = 0;
  TRIPTYCH_VK_TRY(fn.vkGetPhysicalDeviceSurfaceFormatsKHR(vk.physical_device, surface, &n, nullptr));
  std::vector<VkSurfaceFormatKHR> formats(n);
  TRIPTYCH_VK_TRY(fn.vkGetPhysicalDeviceSurfaceFormatsKHR(vk.physical_device, surface, &n, formats.data()));
  formats.resize(n);
  // UNORM both ways keeps the rendered bytes as they are (no sRGB encode), so
  // the window shows exactly what the offscreen path reads back.
  for (const VkFormat want : {VK_FORMAT_B8G8R8A8_UNORM, VK_FORMAT_R8G8B8A8_UNORM}) {
    const auto it = std::find_if(formats.begin(), formats.end(), [&](const VkSurfaceFormatKHR& f) {
      return f.format == want && f.colorSpace == VK_COLOR_SPACE_SRGB_NONLINEAR_KHR;
    });
    if (it == formats.end()) continue;
    VkFormatProperties props{};
    fn.vkGetPhysicalDeviceFormatProperties(vk.physical_device, want, &props);
    if ((props.optimalTilingFeatures & VK_FORMAT_FEATURE_BLIT_DST_BIT) == 0) continue;
    format = *it;
    return {};
  }
  return make_error(Errc::kUnsupported, "the surface offers no 8-bit UNORM BGRA/RGBA format the GPU can blit into");
}

Result<void> WindowPresenter::Impl::choose_mode() {
  std::uint32_t n = 0;
  TRIPTYCH_VK_TRY(fn.vkGetPhysicalDeviceSurfacePresentModesKHR(vk.physical_device, surface, &n, nullptr));
  std::vector<VkPresentModeKHR> modes(n);
  TRIPTYCH_VK_TRY(fn.vkGetPhysicalDeviceSurfacePresentModesKHR(vk.physical_device, surface, &n, modes.data()));
  modes.resize(n);
  for (const VkPresentModeKHR m : modes) {
    if (m == VK_PRESENT_MODE_MAILBOX_KHR) offered.push_back(PresentMode::kMailbox);
    if (m == VK_PRESENT_MODE_FIFO_KHR) offered.push_back(PresentMode::kFifo);
    if (m == VK_PRESENT_MODE_IMMEDIATE_KHR) offered.push_back(PresentMode::kImmediate);
  }
  const auto has = [&](PresentMode m) { return std::find(offered.begin(), offered.end(), m) != offered.end(); };
  char hz[32];
  std::snprintf(hz, sizeof hz, "%g", cfg.hz);
  const std::string pacing = cfg.hz > 0 ? std::string(" with the CPU pacer at ") + hz + " Hz" : " without its own pacer";
  // Each present is waited for right after it returns, so at most one frame
  // is ever queued to the display: FIFO's "one frame in flight".
  const std::string stamps =
      present_wait ? "; VK_KHR_present_wait used: presents stamped at return and at present-complete (waited up to " +
                         std::to_string(cfg.present_wait_timeout.count() / 1'000'000) + " ms)"
                   : "; VK_KHR_present_wait not offered: presents stamped at return only";
  if (cfg.mode) {
    if (!has(*cfg.mode)) {
      return make_error(Errc::kUnsupported, "present mode " + std::string(present_mode_name(*cfg.mode)) +
                                                " was asked for and the surface does not offer it");
    }
    chosen_mode = *cfg.mode;
    mode_why = std::string(present_mode_name(chosen_mode)) + ", as asked," + pacing + stamps;
    return {};
  }
  // MAILBOX never blocks and always shows the newest frame; FIFO (always
  // offered) may block in acquire, so where present_wait exists it keeps at
  // most one frame in flight; IMMEDIATE may tear.
  for (const PresentMode m : {PresentMode::kMailbox, PresentMode::kFifo, PresentMode::kImmediate}) {
    if (!has(m)) continue;
    chosen_mode = m;
    const char* why = m == PresentMode::kMailbox ? " (first choice)"
                      : m == PresentMode::kFifo  ? (present_wait ? " (no mailbox; at most 1 frame in flight)" : " (no mailbox)")
                                                 : " (no mailbox, no fifo)";
    mode_why = std::string(present_mode_name(m)) + why + pacing + stamps;
    return {};
  }
  return make_error(Errc::kUnsupported, "the surface offers none of mailbox, fifo, immediate");
}

Result<void> WindowPresenter::Impl::create_swapchain() {
  VkSurfaceCapabilitiesKHR caps{};
  TRIPTYCH_VK_TRY(fn.vkGetPhysicalDeviceSurfaceCapabilitiesKHR(vk.physical_device, surface, &caps));
  VkExtent2D size = caps.currentExtent;
  if (size.width == 0xFFFFFFFFu) {
    int w = 0;
    int h = 0;
    window::glfw().glfwGetFramebufferSize(window, &w, &h);
    size.width = std::clamp(static_cast<std::uint32_t>(std::max(w, 0)), caps.minImageExtent.width, caps.maxImageExtent.width);
    size.height = std::clamp(static_cast<std::uint32_t>(std::max(h, 0)), caps.minImageExtent.height, caps.maxImageExtent.height);
  }
  // Direct draw with the readback on copies out of the swapchain image: a
  // transfer source where the surface allows it (else those frames blit).
  readable = (caps.supportedUsageFlags & VK_IMAGE_USAGE_TRANSFER_SRC_BIT) != 0 && (cfg.capture || cfg.direct);
  const VkImageUsageFlags usage =
      kBaseUsage | (readable ? VkImageUsageFlags{VK_IMAGE_USAGE_TRANSFER_SRC_BIT} : VkImageUsageFlags{0});
  if (cfg.capture && !readable) {
    return make_error(Errc::kUnsupported, "the swapchain images cannot be copied from (capture needs it)");
  }
  if ((caps.supportedUsageFlags & usage) != usage) {
    return make_error(Errc::kUnsupported,
                      "the swapchain images cannot be blitted into and drawn on (or, capturing, copied from)");
  }
  if (swapchain != VK_NULL_HANDLE) {
    // Nothing of ours may still use the old images or semaphores.
    TRIPTYCH_VK_TRY(fn.vkQueueWaitIdle(vk.graphics_queue));
  }
  if (hud) hud->destroy_targets();
  for (VkSemaphore s : ready) fn.vkDestroySemaphore(vk.device, s, nullptr);
  ready.clear();
  images.clear();
  VkSwapchainKHR old = swapchain;
  swapchain = VK_NULL_HANDLE;
  extent = {size.width, size.height};
  out_of_date = false;
  if (size.width == 0 || size.height == 0) {  // minimised: frames are skipped until it has a size again
    if (old != VK_NULL_HANDLE) fn.vkDestroySwapchainKHR(vk.device, old, nullptr);
    return {};
  }
  std::uint32_t count = std::max<std::uint32_t>(caps.minImageCount + 1, 3);
  if (caps.maxImageCount != 0) count = std::min(count, caps.maxImageCount);
  auto ci = make<VkSwapchainCreateInfoKHR>(VK_STRUCTURE_TYPE_SWAPCHAIN_CREATE_INFO_KHR);
  ci.surface = surface;
  ci.minImageCount = count;
  ci.imageFormat = format.format;
  ci.imageColorSpace = format.colorSpace;
  ci.imageExtent = size;
  ci.imageArrayLayers = 1;
  ci.imageUsage = usage;
  ci.imageSharingMode = VK_SHARING_MODE_EXCLUSIVE;
  ci.preTransform = caps.currentTransform;
  ci.compositeAlpha = (caps.supportedCompositeAlpha & VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR) != 0
                          ? VK_COMPOSITE_ALPHA_OPAQUE_BIT_KHR
                          : static_cast<VkCompositeAlphaFlagBitsKHR>(caps.supportedCompositeAlpha &
                                                                     (~caps.supportedCompositeAlpha + 1));
  ci.presentMode = static_cast<VkPresentModeKHR>(chosen_mode);
  ci.clipped = VK_TRUE;
  ci.oldSwapchain = old;
  const VkResult r = fn.vkCreateSwapchainKHR(vk.device, &ci, nullptr, &swapchain);
  if (old != VK_NULL_HANDLE) fn.vkDestroySwapchainKHR(vk.device, old, nullptr);
  if (r != VK_SUCCESS) {
    swapchain = VK_NULL_HANDLE;
    return vk::call_error("vkCreateSwapchainKHR", r);
  }
  std::uint32_t n = 0;
  TRIPTYCH_VK_TRY(fn.vkGetSwapchainImagesKHR(vk.device, swapchain, &n, nullptr));
  images.resize(n);
  TRIPTYCH_VK_TRY(fn.vkGetSwapchainImagesKHR(vk.device, swapchain, &n, images.data()));
  images.resize(n);
  const auto sci = make<VkSemaphoreCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO);
  ready.assign(n, VK_NULL_HANDLE);
  for (VkSemaphore& s : ready) TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(vk.device, &sci, nullptr, &s));
  stats.swapchain_extent = extent;
  stats.swapchain_images = n;
  if (hud) return hud->set_targets(images, extent, format.format);
  return {};
}

std::uint32_t window::memory_type(const Fns& fn, VkPhysicalDevice physical, std::uint32_t bits,
                                  VkMemoryPropertyFlags want) {
  VkPhysicalDeviceMemoryProperties props{};
  fn.vkGetPhysicalDeviceMemoryProperties(physical, &props);
  for (std::uint32_t i = 0; i < props.memoryTypeCount; ++i) {
    if ((bits & (1U << i)) != 0 && (props.memoryTypes[i].propertyFlags & want) == want) return i;
  }
  return ~0U;
}

Result<void> window::grow(const Fns& fn, const VulkanHandles& vk, HostBuffer& b, VkDeviceSize bytes,
                          VkBufferUsageFlags usage) {
  if (bytes <= b.capacity) return {};
  release(fn, vk.device, b);
  auto bci = make<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  bci.size = bytes;
  bci.usage = usage;
  bci.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  TRIPTYCH_VK_TRY(fn.vkCreateBuffer(vk.device, &bci, nullptr, &b.buffer));
  VkMemoryRequirements req{};
  fn.vkGetBufferMemoryRequirements(vk.device, b.buffer, &req);
  const std::uint32_t type = memory_type(fn, vk.physical_device, req.memoryTypeBits,
                                         VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
  if (type == ~0U) return make_error(Errc::kUnsupported, "no host-visible coherent memory for the presenter's buffers");
  auto mai = make<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  TRIPTYCH_VK_TRY(fn.vkAllocateMemory(vk.device, &mai, nullptr, &b.memory));
  TRIPTYCH_VK_TRY(fn.vkBindBufferMemory(vk.device, b.buffer, b.memory, 0));
  TRIPTYCH_VK_TRY(fn.vkMapMemory(vk.device, b.memory, 0, VK_WHOLE_SIZE, 0, &b.mapped));
  b.capacity = bytes;
  return {};
}

void window::release(const Fns& fn, VkDevice device, HostBuffer& b) noexcept {
  if (b.buffer != VK_NULL_HANDLE) fn.vkDestroyBuffer(device, b.buffer, nullptr);
  if (b.memory != VK_NULL_HANDLE) fn.vkFreeMemory(device, b.memory, nullptr);  // unmaps it
  b = {};
}

Result<void> WindowPresenter::Impl::create_capture(window::PresentSlot& slot, PresentExtent size) {
  slot.capture_extent = size;
  return window::grow(fn, vk, slot.capture, VkDeviceSize{size.width} * size.height * 4, VK_BUFFER_USAGE_TRANSFER_DST_BIT);
}

Result<void> WindowPresenter::Impl::create_frame_resources() {
  auto pci = make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
  pci.flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT;
  pci.queueFamilyIndex = vk.graphics_family;
  TRIPTYCH_VK_TRY(fn.vkCreateCommandPool(vk.device, &pci, nullptr, &pool));
  auto tci = make<VkSemaphoreTypeCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_TYPE_CREATE_INFO);
  tci.semaphoreType = VK_SEMAPHORE_TYPE_TIMELINE;
  const auto timeline = make<VkSemaphoreCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO, &tci);
  TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(vk.device, &timeline, nullptr, &blitted));
  const auto binary = make<VkSemaphoreCreateInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_CREATE_INFO);
  for (window::PresentSlot& s : slots) {
    TRIPTYCH_VK_TRY(fn.vkCreateSemaphore(vk.device, &binary, nullptr, &s.acquired));
    auto cai = make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    cai.commandPool = pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    TRIPTYCH_VK_TRY(fn.vkAllocateCommandBuffers(vk.device, &cai, &s.cb));
  }
  return {};
}

WindowPresenter::Impl::~Impl() {
  if (vk.device != nullptr && fn.vkQueueWaitIdle != nullptr) {
    // Our blits and presents (and the renderer's work before them) finish before anything goes.
    static_cast<void>(fn.vkQueueWaitIdle(vk.graphics_queue));
    hud.reset();  // its views of the swapchain's images go before the swapchain
    for (window::PresentSlot& s : slots) {
      window::release(fn, vk.device, s.capture);
      if (s.acquired != VK_NULL_HANDLE) fn.vkDestroySemaphore(vk.device, s.acquired, nullptr);
    }
    for (VkSemaphore s : ready) fn.vkDestroySemaphore(vk.device, s, nullptr);
    if (blitted != VK_NULL_HANDLE) fn.vkDestroySemaphore(vk.device, blitted, nullptr);
    if (pool != VK_NULL_HANDLE) fn.vkDestroyCommandPool(vk.device, pool, nullptr);
    if (swapchain != VK_NULL_HANDLE) fn.vkDestroySwapchainKHR(vk.device, swapchain, nullptr);
  }
  if (surface != VK_NULL_HANDLE && fn.vkDestroySurfaceKHR != nullptr) {
    fn.vkDestroySurfaceKHR(vk.instance, surface, nullptr);
  }
  // GLFW stays open for the process (see open_window_system).
  if (window != nullptr) window::glfw().glfwDestroyWindow(window);
}

}  // namespace triptych::render
