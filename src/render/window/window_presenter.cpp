// SPDX-License-Identifier: Apache-2.0
// One frame through the window presenter, on the render thread: wait for the
// pacer's wake-up, handle window events, acquire a swapchain image (building
// the swapchain again when it is out of date) — in acquire(), ahead of the
// render, when the renderer draws the frame straight into that image — record
// and submit the blit from the renderer's colour image (after its `rendered`
// timeline value) into it, or for a drawn frame only the HUD, capture and
// layout change, present, and note when present returned (presented_at) and, with
// VK_KHR_present_wait, when it completed (waited for at once, bounded:
// present_completed_at). retire() waits on the
// presenter's own `blitted` timeline. No allocation on this path. Blocking;
// the presenter's thread only. docs/presenter.md ("A frame", "Pacing").
#include <time.h>

#include <algorithm>
#include <cstring>

#include "render/window/hud.hpp"
#include "render/window/presenter_impl.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/trace/trace.hpp"

namespace triptych::render {

using vk::make;

namespace {

// The trace clock (CLOCK_MONOTONIC), signed for deadline arithmetic.
std::int64_t monotonic_ns() noexcept { return static_cast<std::int64_t>(trace::now_ns()); }

void sleep_until_ns(std::int64_t when) noexcept {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(when / 1'000'000'000);
  ts.tv_nsec = static_cast<long>(when % 1'000'000'000);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
}

// A new window size: build the swapchain again before the next frame, even
// where the driver would still call the old one optimal.
void on_framebuffer_size(GLFWwindow* window, int /*width*/, int /*height*/) {
  auto* impl = static_cast<WindowPresenter::Impl*>(window::glfw().glfwGetWindowUserPointer(window));
  if (impl != nullptr) impl->out_of_date = true;
}

void on_key(GLFWwindow* window, int key, int /*scancode*/, int action, int /*mods*/) {
  if (action != GLFW_PRESS) return;
  if (key == GLFW_KEY_ESCAPE || key == GLFW_KEY_Q) window::glfw().glfwSetWindowShouldClose(window, GLFW_TRUE);
  auto* impl = static_cast<WindowPresenter::Impl*>(window::glfw().glfwGetWindowUserPointer(window));
  if (impl == nullptr) return;
  if (key == GLFW_KEY_H) impl->hud_on = !impl->hud_on;
  if (key == GLFW_KEY_P || key == GLFW_KEY_SPACE) ++impl->input.pause_toggles;
  if (key == GLFW_KEY_N || key == GLFW_KEY_RIGHT) ++impl->input.steps;
  if (key == GLFW_KEY_EQUAL || key == GLFW_KEY_KP_ADD) ++impl->input.particle_doublings;  // '+' is shift '='
  if (key == GLFW_KEY_MINUS || key == GLFW_KEY_KP_SUBTRACT) --impl->input.particle_doublings;
}

}  // namespace

Result<void> WindowPresenter::Impl::wait_blitted(std::uint64_t ticket) {
  const std::uint64_t value = ticket + 1;
  auto wi = make<VkSemaphoreWaitInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO);
  wi.semaphoreCount = 1;
  wi.pSemaphores = &blitted;
  wi.pValues = &value;
  const VkResult r = fn.vkWaitSemaphores(vk.device, &wi, static_cast<std::uint64_t>(cfg.gpu_timeout.count()));
  if (r == VK_TIMEOUT) {
    return make_error(Errc::kSystem, "the presenter's blit of ticket " + std::to_string(ticket) + " did not finish within " +
                                         std::to_string(cfg.gpu_timeout.count() / 1'000'000) + " ms");
  }
  if (r != VK_SUCCESS) return vk::call_error("vkWaitSemaphores", r);
  return {};
}

Result<void> WindowPresenter::Impl::submit(const VkCommandBuffer* cb, std::span<const SemaphoreValue> waits,
                                          std::span<const SemaphoreValue> signals) {
  constexpr std::size_t kMax = 2;
  std::array<VkSemaphore, kMax> wait_semaphores{};
  std::array<std::uint64_t, kMax> wait_values{};
  std::array<VkPipelineStageFlags, kMax> stages{};
  std::array<VkSemaphore, kMax> signal_semaphores{};
  std::array<std::uint64_t, kMax> signal_values{};
  for (std::size_t i = 0; i < waits.size() && i < kMax; ++i) {
    wait_semaphores[i] = waits[i].semaphore;
    wait_values[i] = waits[i].value;
    stages[i] = VK_PIPELINE_STAGE_TRANSFER_BIT;  // only the blit reads what they guard
  }
  for (std::size_t i = 0; i < signals.size() && i < kMax; ++i) {
    signal_semaphores[i] = signals[i].semaphore;
    signal_values[i] = signals[i].value;
  }
  auto tsi = make<VkTimelineSemaphoreSubmitInfo>(VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO);
  tsi.waitSemaphoreValueCount = static_cast<std::uint32_t>(std::min(waits.size(), kMax));
  tsi.pWaitSemaphoreValues = wait_values.data();
  tsi.signalSemaphoreValueCount = static_cast<std::uint32_t>(std::min(signals.size(), kMax));
  tsi.pSignalSemaphoreValues = signal_values.data();
  auto si = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO, &tsi);
  si.waitSemaphoreCount = tsi.waitSemaphoreValueCount;
  si.pWaitSemaphores = wait_semaphores.data();
  si.pWaitDstStageMask = stages.data();
  si.commandBufferCount = cb != nullptr ? 1U : 0U;
  si.pCommandBuffers = cb;
  si.signalSemaphoreCount = tsi.signalSemaphoreValueCount;
  si.pSignalSemaphores = signal_semaphores.data();
  TRIPTYCH_VK_TRY(fn.vkQueueSubmit(vk.graphics_queue, 1, &si, VK_NULL_HANDLE));
  return {};
}

// A frame that is not shown still signals `blitted`, after the render, so
// retire() and the timeline's order hold.
Result<void> WindowPresenter::Impl::signal_skipped(const PresentImage& image) {
  const std::array<SemaphoreValue, 1> waits{{{image.rendered, image.rendered_value}}};
  const std::array<SemaphoreValue, 1> signals{{{blitted, image.ticket + 1}}};
  if (auto r = submit(nullptr, waits, signals); !r) return r;
  ++stats.skipped;
  return {};
}

Result<void> WindowPresenter::Impl::record_blit(window::PresentSlot& slot, std::uint32_t slot_index,
                                               const PresentImage& image, std::uint32_t index) {
  const VkCommandBuffer cb = slot.cb;
  const VkImage target = images[index];
  auto begin = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(cb, 0));
  TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(cb, &begin));
  VkImageLayout layout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  VkAccessFlags access = VK_ACCESS_TRANSFER_WRITE_BIT;
  VkPipelineStageFlags stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
  if (image.drawn) {
    // The renderer drew the scene into `target` already; its submission is
    // ordered before this one by `rendered` (waited at the transfer stage).
    layout = static_cast<VkImageLayout>(image.layout);
    access = 0;
    if (hud_on) {  // the HUD's pass starts from TRANSFER_DST_OPTIMAL and keeps the scene
      const auto to_hud = window::image_barrier(target, 0, VK_ACCESS_TRANSFER_WRITE_BIT, layout,
                                                VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL);
      fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                              nullptr, 1, &to_hud);
    }
  } else {
    const auto to_dst = window::image_barrier(target, 0, VK_ACCESS_TRANSFER_WRITE_BIT, VK_IMAGE_LAYOUT_UNDEFINED,
                                              VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL);
    fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                            nullptr, 1, &to_dst);
    VkImageBlit region{};
    region.srcSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.srcOffsets[1] = {static_cast<std::int32_t>(image.extent.width), static_cast<std::int32_t>(image.extent.height), 1};
    region.dstSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.dstOffsets[1] = {static_cast<std::int32_t>(extent.width), static_cast<std::int32_t>(extent.height), 1};
    const bool same_size = image.extent.width == extent.width && image.extent.height == extent.height;
    fn.vkCmdBlitImage(cb, image.image, static_cast<VkImageLayout>(image.layout), target,
                      VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region, same_size ? VK_FILTER_NEAREST : VK_FILTER_LINEAR);
  }
  if (hud_on) {  // composed into the same image, after the scene
    if (auto r = hud->record(cb, slot_index, index, hud_stats); !r) return r;
    layout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
    access = VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT;
    stage = VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT;
  }
  slot.captured = false;
  if (cfg.capture) {
    if (auto r = create_capture(slot, extent); !r) return r;
    if (layout != VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL) {
      const auto to_src = window::image_barrier(target, access, VK_ACCESS_TRANSFER_READ_BIT, layout,
                                                VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
      fn.vkCmdPipelineBarrier(cb, stage, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr, 1, &to_src);
    }
    VkBufferImageCopy copy{};
    copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    copy.imageExtent = {extent.width, extent.height, 1};
    fn.vkCmdCopyImageToBuffer(cb, target, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, slot.capture.buffer, 1, &copy);
    auto host = make<VkBufferMemoryBarrier>(VK_STRUCTURE_TYPE_BUFFER_MEMORY_BARRIER);
    host.srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT;
    host.dstAccessMask = VK_ACCESS_HOST_READ_BIT;
    host.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    host.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
    host.buffer = slot.capture.buffer;
    host.size = VK_WHOLE_SIZE;
    fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 0, nullptr, 1, &host,
                            0, nullptr);
    layout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
    access = VK_ACCESS_TRANSFER_READ_BIT;
    stage = VK_PIPELINE_STAGE_TRANSFER_BIT;
    slot.captured = true;
  }
  // The present engine's reads need no access mask (the semaphore orders them).
  const auto to_present = window::image_barrier(target, access, 0, layout, VK_IMAGE_LAYOUT_PRESENT_SRC_KHR);
  fn.vkCmdPipelineBarrier(cb, stage, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, 0, 0, nullptr, 0, nullptr, 1, &to_present);
  TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(cb));
  return {};
}

Result<void> WindowPresenter::Impl::begin_frame() {
  frame_slot = static_cast<std::uint32_t>(presents % window::kPresentSlots);
  window::PresentSlot& slot = slots[frame_slot];
  ++presents;
  frame_begun = true;
  frame_skip = true;
  target_given = false;
  acquire_asked = false;
  // The slot's semaphore and command buffer are free once its last frame is done.
  if (slot.ticket != window::kNoTicket) {
    if (auto r = wait_blitted(slot.ticket); !r) return r;
  }
  slot.captured = false;

  sleep_until_ns(pacer.wake_ns(monotonic_ns()));
  work_start = monotonic_ns();
  window::glfw().glfwPollEvents();
  if (window::glfw().glfwWindowShouldClose(window) == GLFW_TRUE) close = true;
  if (out_of_date || swapchain == VK_NULL_HANDLE) {
    if (auto r = create_swapchain(); !r) return r;
    if (swapchain != VK_NULL_HANDLE && stats.presented + stats.skipped > 0) ++stats.recreated;
  }
  if (swapchain == VK_NULL_HANDLE) return {};  // minimised: skipped

  VkResult r = fn.vkAcquireNextImageKHR(vk.device, swapchain, static_cast<std::uint64_t>(cfg.gpu_timeout.count()),
                                        slot.acquired, VK_NULL_HANDLE, &frame_index);
  if (r == VK_ERROR_OUT_OF_DATE_KHR) {
    // The window changed under us: build again and show the frame on the new swapchain.
    if (auto c = create_swapchain(); !c) return c;
    ++stats.recreated;
    if (swapchain == VK_NULL_HANDLE) return {};
    r = fn.vkAcquireNextImageKHR(vk.device, swapchain, static_cast<std::uint64_t>(cfg.gpu_timeout.count()),
                                 slot.acquired, VK_NULL_HANDLE, &frame_index);
  }
  if (r == VK_ERROR_OUT_OF_DATE_KHR) {
    out_of_date = true;
    return {};
  }
  if (r == VK_TIMEOUT || r == VK_NOT_READY) {
    return make_error(Errc::kSystem, "vkAcquireNextImageKHR gave no image within " +
                                         std::to_string(cfg.gpu_timeout.count() / 1'000'000) + " ms");
  }
  if (r < 0) return vk::call_error("vkAcquireNextImageKHR", r);
  if (r == VK_SUBOPTIMAL_KHR) out_of_date = true;  // still presentable: show it, rebuild after
  frame_skip = false;
  return {};
}

Result<std::optional<DrawTarget>> WindowPresenter::Impl::acquire(PresentExtent frame, bool copied_out) {
  if (!frame_begun) {
    if (auto r = begin_frame(); !r) return r.error();
  }
  acquire_asked = true;
  if (frame_skip || !cfg.direct) return std::optional<DrawTarget>{};
  if (frame.width != extent.width || frame.height != extent.height) {
    blit_why = "the window's size differs from the frame's: the blit scales it";
    return std::optional<DrawTarget>{};
  }
  if (copied_out && !readable) {
    blit_why = "the swapchain images cannot be copied from, and the readback needs the frame";
    return std::optional<DrawTarget>{};
  }
  target_given = true;
  DrawTarget target;
  target.image = images[frame_index];
  target.framebuffer = hud->framebuffer(frame_index);
  target.acquired = slots[frame_slot].acquired;
  target.extent = extent;
  return std::optional<DrawTarget>{target};
}

Result<void> WindowPresenter::Impl::present(const PresentImage& image) {
  if (!frame_begun) {
    if (auto r = begin_frame(); !r) return r;
  }
  frame_begun = false;
  if (image.drawn && !target_given) {
    return make_error(Errc::kInvalidArgument, "a frame marked drawn into the swapchain image was given no image "
                                              "(acquire gave no target)");
  }
  const std::uint32_t slot_index = frame_slot;
  window::PresentSlot& slot = slots[slot_index];
  slot.ticket = image.ticket;
  if (first_ticket == window::kNoTicket) first_ticket = image.ticket;
  last_ticket = image.ticket;
  if (frame_skip) return signal_skipped(image);
  const std::uint32_t index = frame_index;
  if (image.drawn) {
    blit_why = nullptr;
  } else if (!cfg.direct) {
    blit_why = "direct drawing is off (WindowPresenterConfig::direct)";
  } else if (image.blit_why != nullptr) {
    blit_why = image.blit_why;
  } else if (!acquire_asked) {
    blit_why = "the renderer did not ask for the image";
  }  // else acquire() said why it gave none

  if (auto rec = record_blit(slot, slot_index, image, index); !rec) return rec;
  // A drawn frame's render already waited for the acquire; the blit waits here.
  const std::array<SemaphoreValue, 2> blit_waits{{{slot.acquired, 0}, {image.rendered, image.rendered_value}}};
  const std::span<const SemaphoreValue> waits =
      image.drawn ? std::span<const SemaphoreValue>(blit_waits).subspan(1) : std::span<const SemaphoreValue>(blit_waits);
  const std::array<SemaphoreValue, 2> signals{{{ready[index], 0}, {blitted, image.ticket + 1}}};
  if (auto sr = submit(&slot.cb, waits, signals); !sr) return sr;

  const std::uint64_t id = present_id + 1;
  auto ids = make<VkPresentIdKHR>(VK_STRUCTURE_TYPE_PRESENT_ID_KHR);
  ids.swapchainCount = 1;
  ids.pPresentIds = &id;
  auto pi = make<VkPresentInfoKHR>(VK_STRUCTURE_TYPE_PRESENT_INFO_KHR, present_wait ? &ids : nullptr);
  pi.waitSemaphoreCount = 1;
  pi.pWaitSemaphores = &ready[index];
  pi.swapchainCount = 1;
  pi.pSwapchains = &swapchain;
  pi.pImageIndices = &index;
  const VkResult pr = fn.vkQueuePresentKHR(vk.graphics_queue, &pi);
  const std::int64_t presented = monotonic_ns();
  if (pr == VK_ERROR_OUT_OF_DATE_KHR || pr == VK_SUBOPTIMAL_KHR) {
    out_of_date = true;
  } else if (pr < 0) {
    return vk::call_error("vkQueuePresentKHR", pr);
  }
  if (present_wait) present_id = id;  // used: the next one must be larger
  if (pacer.presented(work_start, presented)) ++stats.misses;
  // After the pacer took the work: the wait is the display's time, not ours.
  const std::int64_t complete = present_wait && pr != VK_ERROR_OUT_OF_DATE_KHR ? wait_present_complete(id, presented) : 0;
  presented_frame[stats.presented % kPresentedRing] = image.frame;
  presented_ns[stats.presented % kPresentedRing] = presented;
  completed_ns[stats.presented % kPresentedRing] = complete;
  ++stats.presented;
  stats.last_presented_ns = presented;
  return {};
}

std::int64_t WindowPresenter::Impl::wait_present_complete(std::uint64_t id, std::int64_t returned_ns) {
  const VkResult r =
      fn.vkWaitForPresentKHR(vk.device, swapchain, id, static_cast<std::uint64_t>(cfg.present_wait_timeout.count()));
  const std::int64_t complete = monotonic_ns();
  if (r == VK_ERROR_OUT_OF_DATE_KHR || r == VK_SUBOPTIMAL_KHR) out_of_date = true;
  if (r != VK_SUCCESS && r != VK_SUBOPTIMAL_KHR) {  // late, or not shown: no stamp, the frame keeps its present-return one
    if (r == VK_TIMEOUT) ++stats.present_wait_timeouts;
    return 0;
  }
  ++stats.present_completes;
  stats.last_present_complete_ns = complete;
  stats.last_return_to_complete_ns = complete - returned_ns;
  stats.max_return_to_complete_ns = std::max(stats.max_return_to_complete_ns, complete - returned_ns);
#if TRIPTYCH_TRACE
  static constexpr trace::SourceLocation kPresentToComplete{"present return -> complete", __func__, __FILE__, __LINE__};
  if (trace::enabled()) {
    (void)trace::this_thread_trace().push(trace::SpanEvent{&kPresentToComplete, static_cast<std::uint64_t>(returned_ns),
                                                           static_cast<std::uint64_t>(complete), 0, 0});
  }
#endif
  return complete;
}

// ---- the public face ----

WindowPresenter::WindowPresenter(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
WindowPresenter::~WindowPresenter() = default;

Result<std::unique_ptr<WindowPresenter>> WindowPresenter::create(const VulkanHandles& vulkan,
                                                                 WindowPresenterConfig config) {
  if (config.hz < 0 || config.margin.count() < 0) {
    return make_error(Errc::kInvalidArgument, "the window presenter's hz and margin must not be negative");
  }
  if (config.present_wait_timeout.count() < 0) {
    return make_error(Errc::kInvalidArgument, "the window presenter's present_wait_timeout must not be negative");
  }
  if (config.size.width == 0 || config.size.height == 0) {
    return make_error(Errc::kInvalidArgument, "the window presenter needs the window's first size");
  }
  auto impl = std::make_unique<Impl>(std::move(config));
  impl->vk = vulkan;
  if (auto r = impl->load_functions(); !r) return r.error();
  if (auto r = impl->create_surface(); !r) return r.error();
  window::glfw().glfwSetWindowUserPointer(impl->window, impl.get());
  window::glfw().glfwSetKeyCallback(impl->window, on_key);
  window::glfw().glfwSetFramebufferSizeCallback(impl->window, on_framebuffer_size);
  if (auto r = impl->choose_mode(); !r) return r.error();
  if (auto r = impl->create_frame_resources(); !r) return r.error();
  auto hud = window::Hud::create(impl->fn, impl->vk, impl->format.format);
  if (!hud) return hud.error();
  impl->hud = std::move(hud).value();
  impl->hud_on = impl->cfg.hud;
  if (auto r = impl->create_swapchain(); !r) return r.error();
  return std::unique_ptr<WindowPresenter>(new WindowPresenter(std::move(impl)));
}

Result<void> WindowPresenter::present(const PresentImage& image) { return impl_->present(image); }

void WindowPresenter::retire(std::uint64_t ticket) {
  // Only tickets this presenter was given signal its timeline (a renderer may
  // have had another presenter, or none, before).
  if (impl_->first_ticket == window::kNoTicket || ticket < impl_->first_ticket || ticket > impl_->last_ticket) return;
  // A failed wait means the GPU hung or was lost: the renderer's own wait reports it.
  static_cast<void>(impl_->wait_blitted(ticket));
}

PresentMode WindowPresenter::mode() const noexcept { return impl_->chosen_mode; }
const std::string& WindowPresenter::mode_why() const noexcept {
  Impl& m = *impl_;
  if (m.stats.presented == 0) {  // what a run will do, said before its first frame (the engine's header)
    m.mode_why_shown = m.mode_why + (m.cfg.direct ? "; frames drawn into the swapchain image where the renderer can, else blitted"
                                                  : "; frames blitted (direct drawing is off (WindowPresenterConfig::direct))");
  } else {
    m.mode_why_shown = m.mode_why + "; frames " +
                       (m.blit_why == nullptr ? std::string("drawn into the swapchain image")
                                              : "blitted (" + std::string(m.blit_why) + ")");
  }
  return m.mode_why_shown;
}

std::uint32_t WindowPresenter::direct_format() const noexcept {
  return impl_->cfg.direct ? static_cast<std::uint32_t>(impl_->format.format) : 0;
}

Result<std::optional<DrawTarget>> WindowPresenter::acquire(PresentExtent extent, bool copied_out) {
  return impl_->acquire(extent, copied_out);
}
PresentStats WindowPresenter::stats() const noexcept { return impl_->stats; }
const std::vector<PresentMode>& WindowPresenter::offered_modes() const noexcept { return impl_->offered; }
bool WindowPresenter::close_requested() const noexcept { return impl_->close; }

WindowInput WindowPresenter::take_input() noexcept {
  const WindowInput in = impl_->input;
  impl_->input = {};
  return in;
}

void WindowPresenter::set_hud(bool on) noexcept { impl_->hud_on = on; }
bool WindowPresenter::hud() const noexcept { return impl_->hud_on; }
void WindowPresenter::set_hud_stats(const HudStats& stats) noexcept { impl_->hud_stats = stats; }

std::size_t WindowPresenter::Impl::presented_entry(std::uint64_t frame) const noexcept {
  for (std::size_t i = 0; i < kPresentedRing; ++i) {
    if (presented_ns[i] != 0 && presented_frame[i] == frame) return i;
  }
  return kPresentedRing;
}

std::int64_t WindowPresenter::presented_at(std::uint64_t frame) const noexcept {
  const std::size_t i = impl_->presented_entry(frame);
  return i < Impl::kPresentedRing ? impl_->presented_ns[i] : 0;
}

std::int64_t WindowPresenter::present_completed_at(std::uint64_t frame) const noexcept {
  const std::size_t i = impl_->presented_entry(frame);
  return i < Impl::kPresentedRing ? impl_->completed_ns[i] : 0;
}

bool WindowPresenter::uses_present_wait() const noexcept { return impl_->present_wait; }

void WindowPresenter::poll_events() noexcept {
  window::glfw().glfwPollEvents();
  if (window::glfw().glfwWindowShouldClose(impl_->window) == GLFW_TRUE) impl_->close = true;
}

Result<CapturedImage> WindowPresenter::captured(std::uint64_t ticket) {
  if (!impl_->cfg.capture) return make_error(Errc::kInvalidArgument, "the presenter was not created with capture");
  for (const window::PresentSlot& s : impl_->slots) {
    if (s.ticket != ticket) continue;
    if (!s.captured) return make_error(Errc::kOutOfRange, "ticket " + std::to_string(ticket) + " was not shown");
    if (auto r = impl_->wait_blitted(ticket); !r) return r.error();
    CapturedImage out;
    out.ticket = ticket;
    out.extent = s.capture_extent;
    const std::size_t bytes = std::size_t{out.extent.width} * out.extent.height * 4;
    out.rgba.resize(bytes);
    std::memcpy(out.rgba.data(), s.capture.mapped, bytes);
    if (impl_->format.format == VK_FORMAT_B8G8R8A8_UNORM) {
      for (std::size_t i = 0; i < bytes; i += 4) std::swap(out.rgba[i], out.rgba[i + 2]);
    }
    return out;
  }
  return make_error(Errc::kOutOfRange, "ticket " + std::to_string(ticket) + " is not among the last " +
                                           std::to_string(window::kPresentSlots) + " presented");
}

}  // namespace triptych::render
