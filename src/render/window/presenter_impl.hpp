// SPDX-License-Identifier: Apache-2.0
// The window presenter's private state, shared by window_presenter.cpp (the
// frame: pace, acquire, blit, present, retire) and swapchain.cpp (surface
// queries, swapchain creation and recreation, teardown). Everything belongs to
// the presenter's one thread (the render thread). The Vulkan entry points are
// loaded through the renderer's instance. docs/presenter.md.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "render/vulkan/vk_api.hpp"
#include "render/window/glfw_api.hpp"
#include "render/window/present_pacer.hpp"
#include "triptych/render/presenter.hpp"

namespace triptych::render {

namespace window {

// The renderer's own tables (vk_api.hpp) serve the presenter's buffers,
// semaphores and command buffers; these are what only a presenter calls.
#define TRIPTYCH_PRESENT_INSTANCE_FNS(X)        \
  X(vkGetPhysicalDeviceSurfaceSupportKHR)       \
  X(vkGetPhysicalDeviceSurfaceCapabilitiesKHR)  \
  X(vkGetPhysicalDeviceSurfaceFormatsKHR)       \
  X(vkGetPhysicalDeviceSurfacePresentModesKHR)  \
  X(vkDestroySurfaceKHR)

#define TRIPTYCH_PRESENT_DEVICE_FNS(X) \
  X(vkCreateSwapchainKHR)              \
  X(vkDestroySwapchainKHR)             \
  X(vkGetSwapchainImagesKHR)           \
  X(vkAcquireNextImageKHR)             \
  X(vkQueuePresentKHR)                 \
  X(vkQueueWaitIdle)                   \
  X(vkCreateSampler)                   \
  X(vkDestroySampler)                  \
  X(vkCmdBindIndexBuffer)              \
  X(vkCmdDrawIndexed)                  \
  X(vkCmdSetViewport)                  \
  X(vkCmdSetScissor)                   \
  X(vkCmdCopyBufferToImage)

// Optional: only on a device with VK_KHR_present_wait (VulkanHandles::present_wait).
#define TRIPTYCH_PRESENT_WAIT_FNS(X) X(vkWaitForPresentKHR)

struct Fns : vk::InstanceFns, vk::DeviceFns {
  TRIPTYCH_PRESENT_INSTANCE_FNS(TRIPTYCH_VK_DECLARE)
  TRIPTYCH_PRESENT_DEVICE_FNS(TRIPTYCH_VK_DECLARE)
  TRIPTYCH_PRESENT_WAIT_FNS(TRIPTYCH_VK_DECLARE)
};

// The first memory type in `bits` with every `want` flag, or ~0U.
[[nodiscard]] std::uint32_t memory_type(const Fns& fn, VkPhysicalDevice physical, std::uint32_t bits,
                                        VkMemoryPropertyFlags want);

class Hud;  // hud.hpp

// A host-visible, coherent, mapped buffer that only grows.
struct HostBuffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
  VkDeviceSize capacity = 0;
};
// Makes `b` hold at least `bytes` (a new buffer of `bytes` when it is smaller;
// its old contents are gone). kUnsupported without host-visible memory.
[[nodiscard]] Result<void> grow(const Fns& fn, const VulkanHandles& vk, HostBuffer& b, VkDeviceSize bytes,
                                VkBufferUsageFlags usage);
void release(const Fns& fn, VkDevice device, HostBuffer& b) noexcept;

using vk::image_barrier;

inline constexpr std::uint64_t kNoTicket = ~std::uint64_t{0};
// Frames the presenter may have in flight: each has its acquire semaphore,
// command buffer and (capture mode) host copy.
inline constexpr std::uint32_t kPresentSlots = 3;

struct PresentSlot {
  VkSemaphore acquired = VK_NULL_HANDLE;  // binary: the swapchain image is ours
  VkCommandBuffer cb = VK_NULL_HANDLE;    // the blit (and capture copy)
  HostBuffer capture;                     // capture mode: host copy of the presented image
  PresentExtent capture_extent{};
  std::uint64_t ticket = kNoTicket;  // the last ticket blitted through this slot
  bool captured = false;             // that ticket's image was copied into `capture`
};

}  // namespace window

struct WindowPresenter::Impl {
  WindowPresenterConfig cfg;
  VulkanHandles vk{};
  window::Fns fn{};
  GLFWwindow* window = nullptr;
  VkSurfaceKHR surface = VK_NULL_HANDLE;
  VkSwapchainKHR swapchain = VK_NULL_HANDLE;
  VkSurfaceFormatKHR format{};
  PresentMode chosen_mode = PresentMode::kFifo;
  std::string mode_why;
  std::vector<PresentMode> offered;
  PresentExtent extent{};  // the swapchain's
  std::vector<VkImage> images;
  std::vector<VkSemaphore> ready;  // binary, one per swapchain image: its blit is done, present it
  VkCommandPool pool = VK_NULL_HANDLE;
  // Timeline: ticket + 1 once that ticket's blit (or its empty stand-in) is done.
  VkSemaphore blitted = VK_NULL_HANDLE;
  std::array<window::PresentSlot, window::kPresentSlots> slots{};
  std::uint64_t presents = 0;  // present() calls, picks the slot
  std::uint64_t first_ticket = window::kNoTicket;  // the tickets given to present(), the ones
  std::uint64_t last_ticket = window::kNoTicket;   // whose `blitted` value will come
  bool out_of_date = false;    // recreate before the next acquire
  bool close = false;
  WindowInput input;  // keys since the last take_input
  // The last frames' present returns, by PresentImage::frame (presented_at).
  static constexpr std::size_t kPresentedRing = 8;
  std::array<std::uint64_t, kPresentedRing> presented_frame{};
  std::array<std::int64_t, kPresentedRing> presented_ns{};
  std::array<std::int64_t, kPresentedRing> completed_ns{};  // present-complete, 0: not seen
  // The ring entry of `frame`'s present, or kPresentedRing when it is not there.
  [[nodiscard]] std::size_t presented_entry(std::uint64_t frame) const noexcept;
  bool present_wait = false;       // vkWaitForPresentKHR loaded: presents carry ids
  std::uint64_t present_id = 0;    // the last id given (ids only grow, across swapchains too)
  std::unique_ptr<window::Hud> hud;  // made at create; drawn while hud_on
  bool hud_on = false;
  HudStats hud_stats{};
  PresentPacer pacer;
  PresentStats stats;
  // The frame between acquire() (or present()'s own start) and its present:
  // its slot, the acquired image (frame_skip: none, the frame is not shown)
  // and when the presenter's work on it began (the pacer's measure).
  bool frame_begun = false;
  bool frame_skip = false;
  bool readable = false;  // the swapchain images are transfer sources (capture, a direct frame's readback)
  bool acquire_asked = false;  // the renderer called acquire() for this frame
  bool target_given = false;   // and it let the renderer draw into the image
  std::uint32_t frame_slot = 0;
  std::uint32_t frame_index = 0;
  std::int64_t work_start = 0;
  // How the last shown frame reached its image: nullptr drawn directly, else
  // why it was blitted (a static string); mode_why() reports it.
  const char* blit_why = nullptr;
  std::string mode_why_shown;  // mode_why + the path, rebuilt by mode_why()

  explicit Impl(WindowPresenterConfig config)
      : cfg(std::move(config)), pacer(cfg.hz, static_cast<std::int64_t>(cfg.margin.count())) {}
  Impl(const Impl&) = delete;
  Impl& operator=(const Impl&) = delete;
  ~Impl();

  // swapchain.cpp
  [[nodiscard]] Result<void> load_functions();
  [[nodiscard]] Result<void> create_surface();
  [[nodiscard]] Result<void> choose_mode();
  // (Re)builds the swapchain at the window's size; a 0x0 window leaves none (minimised).
  [[nodiscard]] Result<void> create_swapchain();
  [[nodiscard]] Result<void> create_frame_resources();
  [[nodiscard]] Result<void> create_capture(window::PresentSlot& slot, PresentExtent size);

  // window_presenter.cpp
  [[nodiscard]] Result<void> present(const PresentImage& image);
  // Picks the slot, paces, handles events, (re)builds the swapchain and acquires.
  [[nodiscard]] Result<void> begin_frame();
  [[nodiscard]] Result<std::optional<DrawTarget>> acquire(PresentExtent frame, bool copied_out);
  [[nodiscard]] Result<void> wait_blitted(std::uint64_t ticket);
  [[nodiscard]] Result<void> signal_skipped(const PresentImage& image);
  // Waits (bounded) for present `id` to complete; its time, or 0 when it did not.
  [[nodiscard]] std::int64_t wait_present_complete(std::uint64_t id, std::int64_t returned_ns);
  // One graphics-queue submission of `cb` (or none) waiting on `waits` and
  // signalling `signals`, each with its timeline value (binary ones ignore theirs).
  struct SemaphoreValue {
    VkSemaphore semaphore;
    std::uint64_t value;
  };
  [[nodiscard]] Result<void> submit(const VkCommandBuffer* cb, std::span<const SemaphoreValue> waits,
                                    std::span<const SemaphoreValue> signals);
  [[nodiscard]] Result<void> record_blit(window::PresentSlot& slot, std::uint32_t slot_index, const PresentImage& image,
                                         std::uint32_t index);
};

}  // namespace triptych::render
