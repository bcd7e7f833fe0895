// SPDX-License-Identifier: Apache-2.0
// VulkanRenderer itself (include/triptych/render/vulkan_renderer.hpp): create()
// checks the config and builds the Impl in order (instance, device, zones,
// particle path, raster path, pipelines, frame resources, the GPU clock, the GPU pull's and
// the splat's pipelines, completion thread); the destructor tears it down
// in reverse; the public methods forward to the Impl. Blocking; create,
// submit, wait_frame, wait_idle and set_presenter belong to one render thread,
// frame_ready and completed may be read from any thread. The other files of
// src/render/vulkan/ hold each step. docs/render-stage.md.
#include <type_traits>

#include "render/vulkan/renderer_impl.hpp"
#include "render/vulkan/splat_pipeline.hpp"

namespace triptych::render {

// The public header declares Vulkan's handles and values without Vulkan headers.
static_assert(std::is_same_v<VkInstance, VkInstance_T*> && std::is_same_v<VkPhysicalDevice, VkPhysicalDevice_T*> &&
                  std::is_same_v<VkDevice, VkDevice_T*> && std::is_same_v<VkQueue, VkQueue_T*> &&
                  std::is_same_v<VkImage, VkImage_T*> && std::is_same_v<VkSemaphore, VkSemaphore_T*>,
              "vulkan_renderer.hpp's handle declarations match the Vulkan headers (64-bit handles)");
static_assert(std::is_same_v<VulkanGetInstanceProcAddr, PFN_vkGetInstanceProcAddr>,
              "VulkanGetInstanceProcAddr is PFN_vkGetInstanceProcAddr");
static_assert(kPresentFormat == vk::kColorFormat, "kPresentFormat is the colour image's VkFormat");
static_assert(kPresentLayout == VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL,
              "kPresentLayout is the render pass's final layout");

VulkanRenderer::Impl::~Impl() { shutdown(); }

void VulkanRenderer::Impl::shutdown() {
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
  destroy_splat();
  auto destroy_buffer = [&](vk::Buffer& b) {
    if (b.buffer != VK_NULL_HANDLE) fn.vkDestroyBuffer(device, b.buffer, nullptr);
    if (b.memory != VK_NULL_HANDLE) fn.vkFreeMemory(device, b.memory, nullptr);
    b = vk::Buffer{};
  };
  for (vk::Slot& s : slots) {
    if (s.framebuffer != VK_NULL_HANDLE) fn.vkDestroyFramebuffer(device, s.framebuffer, nullptr);
    if (s.view != VK_NULL_HANDLE) fn.vkDestroyImageView(device, s.view, nullptr);
    if (s.image != VK_NULL_HANDLE) fn.vkDestroyImage(device, s.image, nullptr);
    if (s.image_memory != VK_NULL_HANDLE) fn.vkFreeMemory(device, s.image_memory, nullptr);
    destroy_buffer(s.staging);
    destroy_buffer(s.vertices);
    destroy_buffer(s.readback);
    destroy_buffer(s.counts);
  }
  for (vk::Zone& z : compute_zones) destroy_buffer(z.gpu);
  if (particle_pipeline != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, particle_pipeline, nullptr);
  if (count_pipeline != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, count_pipeline, nullptr);
  if (particle_layout != VK_NULL_HANDLE) fn.vkDestroyPipelineLayout(device, particle_layout, nullptr);
  if (descriptor_pool != VK_NULL_HANDLE) fn.vkDestroyDescriptorPool(device, descriptor_pool, nullptr);
  if (particle_set_layout != VK_NULL_HANDLE) fn.vkDestroyDescriptorSetLayout(device, particle_set_layout, nullptr);
  for (vk::Zone& z : layout_zones) destroy_buffer(z.gpu);
  for (vk::Zone& z : result_zones) destroy_buffer(z.gpu);
  for (VkSemaphore s : {uploaded, rendered, copied}) {
    if (s != VK_NULL_HANDLE) fn.vkDestroySemaphore(device, s, nullptr);
  }
  if (timestamps != VK_NULL_HANDLE) fn.vkDestroyQueryPool(device, timestamps, nullptr);
  if (graphics_pool != VK_NULL_HANDLE) fn.vkDestroyCommandPool(device, graphics_pool, nullptr);
  if (transfer_pool != VK_NULL_HANDLE && transfer_pool != graphics_pool) {
    fn.vkDestroyCommandPool(device, transfer_pool, nullptr);
  }
  destroy_direct();
  if (pipeline != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, pipeline, nullptr);
  if (pipeline_layout != VK_NULL_HANDLE) fn.vkDestroyPipelineLayout(device, pipeline_layout, nullptr);
  if (render_pass != VK_NULL_HANDLE) fn.vkDestroyRenderPass(device, render_pass, nullptr);
  fn.vkDestroyDevice(device, nullptr);
  device = VK_NULL_HANDLE;
}

VulkanRenderer::VulkanRenderer(std::unique_ptr<Impl> impl) noexcept : impl_(std::move(impl)) {}
VulkanRenderer::~VulkanRenderer() = default;

Result<std::unique_ptr<VulkanRenderer>> VulkanRenderer::create(VulkanRendererConfig config,
                                                               std::span<const std::span<std::byte>> layout_zones,
                                                               std::span<const std::span<std::byte>> result_zones) {
  if (auto v = validate(config.layout); !v) return v.error();
  if (config.frames_in_flight < 1 || config.frames_in_flight > vk::kMaxFramesInFlight) {
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
  if (auto r = impl->choose_particle_path(); !r) return r.error();
  if (auto r = impl->prepare_splat(); !r) return r.error();
  if (auto r = impl->create_render_pass(); !r) return r.error();
  if (auto r = impl->create_pipeline(); !r) return r.error();
  if (auto r = impl->create_frame_resources(); !r) return r.error();
  if (auto r = impl->create_gpu_clock(); !r) return r.error();
  if (auto r = impl->create_particle_pipelines(); !r) return r.error();
  if (auto r = impl->create_splat(); !r) return r.error();
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

Result<void> VulkanRenderer::attach_result(std::uint64_t ticket, std::uint32_t result_zone) {
  return impl_->attach_result(ticket, result_zone);
}
Result<void> VulkanRenderer::wait_slot_released(std::uint64_t ticket, std::chrono::nanoseconds timeout) {
  return impl_->wait_slot_released(ticket, timeout);
}
Result<void> VulkanRenderer::health() const {
  if (!impl_->failed.load(std::memory_order_acquire)) return {};  // SYNC(failed)
  std::lock_guard lk(impl_->mu);
  return *impl_->failure;
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
void VulkanRenderer::set_presenter(Presenter* presenter) noexcept {
  Impl& m = *impl_;
  m.presenter = presenter;
  m.destroy_direct();
  m.direct_why = "no presenter";
  if (presenter == nullptr) return;
  const std::uint32_t format = presenter->direct_format();
  if (format == 0) {
    m.direct_why = "the presenter offers no image to draw into";
    return;
  }
  // Not on the hot path: a pass and pipeline once per presenter; without
  // them every frame keeps the blit.
  if (!m.create_direct(static_cast<VkFormat>(format))) m.direct_why = "no render pass or pipeline for the swapchain's format";
}
VulkanHandles VulkanRenderer::handles() const noexcept {
  return {impl_->ctx.instance, impl_->physical, impl_->device, impl_->graphics_queue, impl_->graphics_family,
          impl_->ctx.library.global().vkGetInstanceProcAddr, impl_->present_wait};
}
const DeviceInfo& VulkanRenderer::device() const noexcept { return impl_->info; }
const ZoneBinding& VulkanRenderer::layout_binding(std::uint32_t zone) const { return impl_->layout_zones.at(zone).binding; }
const ZoneBinding& VulkanRenderer::result_binding(std::uint32_t zone) const { return impl_->result_zones.at(zone).binding; }
const ZoneBinding& VulkanRenderer::compute_binding(std::uint32_t slot) const { return impl_->compute_zones.at(slot).binding; }
const ParticlePathChoice& VulkanRenderer::particle_path() const noexcept { return impl_->particle_choice; }
const RasterChoice& VulkanRenderer::raster_path() const noexcept { return impl_->splat->choice; }
const GpuTimingChoice& VulkanRenderer::gpu_timing() const noexcept { return impl_->gpu_timing; }
const VulkanRendererConfig& VulkanRenderer::config() const noexcept { return impl_->cfg; }

}  // namespace triptych::render
