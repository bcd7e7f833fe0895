// SPDX-License-Identifier: Apache-2.0
// One frame on the render thread: submit() waits until the frame's slot and
// zones are free, runs the CPU layout pass (or, for an imported compute slot,
// leaves validation to the GPU particle pull), then records and submits up to
// three GPU steps chained by timeline semaphores (staging upload on the
// transfer queue, the render on the graphics queue: the raster quads' render
// pass — into the presenter's acquired swapchain image where it offers one
// (direct draw) — or the compute splat renderer's dispatches, the copy into the
// result zone or readback buffer on the transfer queue, now or at
// attach_result), publishes the ticket to the completion thread and hands the
// image to a presenter. Blocking; render thread only. docs/render-stage.md ("Frame lifecycle and synchronisation").
#include <algorithm>
#include <cstring>

#include "render/vulkan/renderer_impl.hpp"
#include "triptych/trace/trace.hpp"

namespace triptych::render {

namespace {

VkCommandBufferBeginInfo one_time_begin() {
  auto begin = vk::make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
  begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
  return begin;
}

// A queue submission of at most one command buffer that may wait on one
// timeline semaphore (and, for a frame drawn into a swapchain image, on that
// image's binary acquire semaphore) and signals another timeline semaphore,
// the timeline ones at `value` (ticket + 1). The Vulkan structs point into
// it, so it stays where it was built.
struct TimelineSubmit {
  std::array<std::uint64_t, 2> values;  // a binary semaphore's value is ignored
  std::array<VkSemaphore, 2> waits{};
  std::array<VkPipelineStageFlags, 2> wait_stages{};
  VkTimelineSemaphoreSubmitInfo timeline;
  VkSubmitInfo info;

  TimelineSubmit(std::uint64_t ticket_value, const VkCommandBuffer* cb, const VkSemaphore* signal,
                 const VkSemaphore* wait = nullptr, VkPipelineStageFlags stage = 0,
                 VkSemaphore binary_wait = VK_NULL_HANDLE, VkPipelineStageFlags binary_stage = 0)
      : values{ticket_value, ticket_value} {
    std::uint32_t n = 0;
    if (wait != nullptr) {
      waits[n] = *wait;
      wait_stages[n++] = stage;
    }
    if (binary_wait != VK_NULL_HANDLE) {
      waits[n] = binary_wait;
      wait_stages[n++] = binary_stage;
    }
    timeline = vk::make<VkTimelineSemaphoreSubmitInfo>(VK_STRUCTURE_TYPE_TIMELINE_SEMAPHORE_SUBMIT_INFO);
    timeline.waitSemaphoreValueCount = n;
    timeline.pWaitSemaphoreValues = values.data();
    timeline.signalSemaphoreValueCount = 1;
    timeline.pSignalSemaphoreValues = values.data();
    info = vk::make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO, &timeline);
    info.waitSemaphoreCount = n;
    info.pWaitSemaphores = n > 0 ? waits.data() : nullptr;
    info.pWaitDstStageMask = n > 0 ? wait_stages.data() : nullptr;
    info.commandBufferCount = cb != nullptr ? 1U : 0U;
    info.pCommandBuffers = cb;
    info.signalSemaphoreCount = 1;
    info.pSignalSemaphores = signal;
  }
  TimelineSubmit(const TimelineSubmit&) = delete;
  TimelineSubmit& operator=(const TimelineSubmit&) = delete;
};

}  // namespace

Result<std::uint64_t> VulkanRenderer::Impl::submit(const FrameInput& in) {
  if (failed.load(std::memory_order_acquire)) {  // SYNC(failed)
    std::lock_guard lk(mu);
    return *failure;
  }
  if (in.layout_zone >= layout_zones.size()) {
    return make_error(Errc::kOutOfRange, "layout zone " + std::to_string(in.layout_zone) + " of " + std::to_string(layout_zones.size()));
  }
  const bool later = cfg.readback && in.result_zone == kResultZoneLater;
  if (cfg.readback && !later && in.result_zone >= result_zones.size()) {
    return make_error(Errc::kOutOfRange, "result zone " + std::to_string(in.result_zone) + " of " + std::to_string(result_zones.size()));
  }
  const std::uint64_t t = next_ticket;
  if (cfg.readback && !later && next_attach != t) {
    return make_error(Errc::kInvalidArgument, "ticket " + std::to_string(next_attach) +
                                                  " still waits for its result zone (attach_result): copies go in order");
  }
  std::optional<std::uint32_t> pulled = pulled_zone(in.compute_slot);
  // More particles than one storage buffer range reaches: under kAuto the
  // layout pass draws them all rather than the GPU counting the rest overflow.
  const std::size_t in_slot = std::min<std::size_t>(in.particle_count, in.compute_slot.size() / sizeof(Particle));
  if (pulled && cfg.particle_path == ParticlePath::kAuto && in_slot > pull_capacity(*pulled)) pulled.reset();
  // A governor's shed render cost (fewer pixels, top-left; fewer particles)
  // is the layout pass's to apply: under kAuto a shed frame takes that path.
  const bool shed = in.resolution_scale < 1.0F || in.draw_stride > 1;
  if (pulled && cfg.particle_path == ParticlePath::kAuto && shed) pulled.reset();
  if (!pulled && cfg.particle_path == ParticlePath::kGpu) {
    return make_error(Errc::kInvalidArgument, "the GPU particle pull was asked for, and this compute slot is not one "
                                              "the renderer imported");
  }
  vk::Slot& s = slots[t % fif];
  vk::Zone& lz = layout_zones[in.layout_zone];
  vk::Zone* rz = cfg.readback && !later ? &result_zones[in.result_zone] : nullptr;
  const std::int64_t start = now_ns();
  if (cfg.trace != nullptr) TRIPTYCH_STAMP(*cfg.trace, in.frame, trace::Stage::kRenderStart);
  // The slot's command buffers and image, and the zones, must be free.
  std::uint64_t need = t >= fif ? t - fif + 1 : 0;
  if (!pulled && lz.last_ticket != vk::kNoTicket) need = std::max(need, lz.last_ticket + 1);
  if (rz != nullptr && rz->last_ticket != vk::kNoTicket) need = std::max(need, rz->last_ticket + 1);
  if (auto r = wait_completed(need, cfg.gpu_timeout); !r) return r.error();
  if (presenter != nullptr && t >= fif) presenter->retire(t - fif);

  Draw draw;
  LayoutResult lr;
  const LayoutParams frame_layout =
      pulled ? cfg.layout : scaled_layout(cfg.layout, in.resolution_scale, in.draw_stride);
  frame_extent = {frame_layout.width, frame_layout.height};
  if (pulled) {
    // The CPU checks only how many records the slot holds; the GPU checks each.
    const std::uint32_t fit = std::min<std::uint32_t>(
        pull_capacity(*pulled), static_cast<std::uint32_t>(std::min<std::size_t>(in.compute_slot.size() / sizeof(Particle), 0xFFFFFFFFu)));
    draw.pulled_zone = pulled;
    draw.count = std::min(in.particle_count, fit);
    lr.stats.input = in.particle_count;
    lr.stats.overflow = in.particle_count - draw.count;
  } else {
    auto laid = layout_pass(frame_layout, in.frame, in.compute_slot, in.particle_count, lz.bytes, cfg.layout_tasks, pool);
    if (!laid) return laid.error();
    lr = laid.value();
    draw.layout = &lr;
  }
  const std::int64_t layout_end = now_ns();
  // The direct path: the quads drawn straight into the presenter's acquired
  // swapchain image; otherwise the presenter blits from the slot's image.
  std::optional<DrawTarget> target;
  const char* blit_why = direct_why;
  if (presenter != nullptr && direct_pipeline != VK_NULL_HANDLE) {
    if (splat_active()) {
      blit_why = "the compute splat renderer writes the renderer's own storage image";
    } else if (pulled && direct_particle_pipeline == VK_NULL_HANDLE) {
      blit_why = "no GPU particle pull pipeline for the swapchain's format";
    } else if (frame_extent.width != cfg.layout.width || frame_extent.height != cfg.layout.height) {
      blit_why = "a frame shed to fewer pixels is scaled up by the blit";
    } else {
      auto acquired = presenter->acquire(frame_extent, cfg.readback);
      if (!acquired) return acquired.error();
      target = acquired.value();
      blit_why = nullptr;  // the presenter knows why it gave no target
    }
  }
  if (auto r = record_and_submit(t, s, lz, rz, draw, target ? &*target : nullptr); !r) return fail(r.error());

  FrameInfo& p = s.pending;
  p = FrameInfo{};
  p.ticket = t;
  p.frame = in.frame;
  p.layout_zone = in.layout_zone;
  p.result_zone = later ? kResultZoneLater : in.result_zone;
  p.stats = lr.stats;
  p.render_start_ns = start;
  p.layout_end_ns = layout_end;
  p.submitted_ns = now_ns();
  p.layout_imported = !pulled && lz.binding.imported;
  p.result_imported = rz != nullptr && rz->binding.imported;
  p.particles_on_gpu = pulled.has_value();
  p.splat = splat_active();
  s.ticket = t;
  s.copy_pending = later;
  if (!pulled) lz.last_ticket = t;
  if (rz != nullptr) rz->last_ticket = t;
  next_ticket = t + 1;
  if (!later) next_attach = t + 1;
  {
    std::lock_guard lk(mu);  // publishes s.pending to the completion thread
    submitted = t + 1;
    copies_submitted = next_attach;
  }
  cv.notify_one();
  if (presenter != nullptr) {
    PresentImage img;
    img.image = s.image;
    img.extent = frame_extent;  // a shed frame fills only its top-left corner
    img.rendered = rendered;
    img.rendered_value = t + 1;
    img.ticket = t;
    img.frame = in.frame;
    img.drawn = target.has_value();
    img.blit_why = blit_why;
    if (target) img.layout = cfg.readback ? VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL : VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
    if (auto r = presenter->present(img); !r) return r.error();
  }
  return t;
}

Result<void> VulkanRenderer::Impl::attach_result(std::uint64_t ticket, std::uint32_t result_zone) {
  if (failed.load(std::memory_order_acquire)) {  // SYNC(failed)
    std::lock_guard lk(mu);
    return *failure;
  }
  if (ticket >= next_ticket || ticket != next_attach || !slots[ticket % fif].copy_pending ||
      slots[ticket % fif].ticket != ticket) {
    return make_error(Errc::kInvalidArgument, "ticket " + std::to_string(ticket) +
                                                  " is not the oldest one submitted with kResultZoneLater (next: " +
                                                  std::to_string(next_attach) + ")");
  }
  if (result_zone >= result_zones.size()) {
    return make_error(Errc::kOutOfRange, "result zone " + std::to_string(result_zone) + " of " + std::to_string(result_zones.size()));
  }
  vk::Slot& s = slots[ticket % fif];
  vk::Zone& rz = result_zones[result_zone];
  if (rz.last_ticket != vk::kNoTicket) {
    if (auto r = wait_completed(rz.last_ticket + 1, cfg.gpu_timeout); !r) return r.error();
  }
  if (auto r = submit_copy(ticket, s, &rz); !r) return fail(r.error());
  s.pending.result_zone = result_zone;
  s.pending.result_imported = rz.binding.imported;
  s.copy_pending = false;
  rz.last_ticket = ticket;
  next_attach = ticket + 1;
  {
    std::lock_guard lk(mu);  // publishes the pending FrameInfo's zone to the completion thread
    copies_submitted = next_attach;
  }
  cv.notify_one();
  return {};
}

Result<void> VulkanRenderer::Impl::wait_slot_released(std::uint64_t ticket, std::chrono::nanoseconds timeout) {
  if (ticket >= next_ticket) {
    return make_error(Errc::kOutOfRange, "ticket " + std::to_string(ticket) + " was never submitted");
  }
  const vk::Slot& s = slots[ticket % fif];
  // A CPU layout pass copied the slot before submit; a recycled slot's ticket is long done.
  if (s.ticket != ticket || !s.pending.particles_on_gpu) return {};
  const std::uint64_t value = ticket + 1;
  auto wi = vk::make<VkSemaphoreWaitInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO);
  wi.semaphoreCount = 1;
  wi.pSemaphores = &rendered;
  wi.pValues = &value;
  const VkResult r = fn.vkWaitSemaphores(device, &wi, static_cast<std::uint64_t>(timeout.count()));
  if (r == VK_TIMEOUT) {
    return make_error(Errc::kSystem, "the GPU did not finish reading ticket " + std::to_string(ticket) +
                                         "'s compute slot within " + std::to_string(timeout.count() / 1'000'000) + " ms");
  }
  if (r != VK_SUCCESS) return fail(vk::call_error("vkWaitSemaphores", r));
  return {};
}

Result<void> VulkanRenderer::Impl::record_and_submit(std::uint64_t t, vk::Slot& s, vk::Zone& lz, vk::Zone* rz,
                                                     const Draw& draw, const DrawTarget* target) {
  // 1. Staging upload (CPU layout pass only): the chunks' instance ranges.
  const bool upload = draw.layout != nullptr && !lz.binding.imported && draw.layout->instance_count > 0;
  if (upload) {
    if (auto r = submit_upload(t, s, lz, *draw.layout); !r) return r;
  }
  // 2. Render: [count the pulled particles], clear, draw in particle order.
  if (auto r = submit_render(t, s, lz, draw, upload, target); !r) return r;
  // 3. Readback: image -> result zone (imported) or the slot's readback buffer; later if no zone yet.
  if (cfg.readback && rz == nullptr) return {};
  return submit_copy(t, s, rz);
}

Result<void> VulkanRenderer::Impl::submit_upload(std::uint64_t t, vk::Slot& s, const vk::Zone& lz,
                                                 const LayoutResult& lr) {
  const auto* instances = lz.bytes.data() + kZonePayloadOffset;
  std::array<VkBufferCopy, kMaxLayoutChunks> regions{};
  std::uint32_t n = 0;
  for (std::uint32_t c = 0; c < lr.chunk_count; ++c) {
    if (lr.chunks[c].count == 0) continue;
    const VkDeviceSize off = VkDeviceSize{lr.chunks[c].first} * sizeof(Instance);
    const VkDeviceSize len = VkDeviceSize{lr.chunks[c].count} * sizeof(Instance);
    std::memcpy(static_cast<std::byte*>(s.staging.mapped) + off, instances + off, len);
    regions[n++] = {off, off, len};
  }
  const auto begin = one_time_begin();
  TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.upload_cb, 0));
  TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.upload_cb, &begin));
  fn.vkCmdCopyBuffer(s.upload_cb, s.staging.buffer, s.vertices.buffer, n, regions.data());
  TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.upload_cb));
  const TimelineSubmit submission(t + 1, &s.upload_cb, &uploaded);
  const VkSubmitInfo& si = submission.info;
  TRIPTYCH_VK_TRY(fn.vkQueueSubmit(transfer_queue, 1, &si, VK_NULL_HANDLE));
  return {};
}

Result<void> VulkanRenderer::Impl::submit_render(std::uint64_t t, vk::Slot& s, const vk::Zone& lz, const Draw& draw,
                                                 bool wait_upload, const DrawTarget* target) {
  const auto begin = one_time_begin();
  TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.render_cb, 0));
  TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.render_cb, &begin));
  const auto slot_index = static_cast<std::uint32_t>(t % fif);
  record_gpu_begin(s.render_cb, slot_index);
  if (splat_active()) {
    record_splat(s.render_cb, slot_index, lz, draw);  // compute only, into the same image
  } else {
    record_raster(s.render_cb, s, lz, draw, slot_index, target);
  }
  record_gpu_end(s.render_cb, slot_index);
  TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.render_cb));
  // The splat path reads a staged upload with a copy, the quads as vertices.
  // A swapchain image is written once the present engine let it go: the
  // acquire semaphore, waited where the pass first writes it.
  const TimelineSubmit submission(t + 1, &s.render_cb, &rendered, wait_upload ? &uploaded : nullptr,
                                  splat_active() ? VK_PIPELINE_STAGE_TRANSFER_BIT : VK_PIPELINE_STAGE_VERTEX_INPUT_BIT,
                                  target != nullptr ? target->acquired : VK_NULL_HANDLE,
                                  VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT);
  const VkSubmitInfo& si = submission.info;
  TRIPTYCH_VK_TRY(fn.vkQueueSubmit(graphics_queue, 1, &si, VK_NULL_HANDLE));
  return {};
}

// Begins `pass` on `framebuffer` (the slot's image or a swapchain image), cleared.
void VulkanRenderer::Impl::begin_render_pass(VkCommandBuffer cb, VkRenderPass pass, VkFramebuffer framebuffer) {
  VkClearValue clear{};
  std::memcpy(clear.color.float32, cfg.clear_color.data(), sizeof clear.color.float32);
  auto rb = vk::make<VkRenderPassBeginInfo>(VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO);
  rb.renderPass = pass;
  rb.framebuffer = framebuffer;
  // The whole image, even for a scaled frame: quads at the corner's edge may
  // reach past it, and Vulkan wants all rendering inside the render area.
  rb.renderArea = {{0, 0}, {cfg.layout.width, cfg.layout.height}};
  rb.clearValueCount = 1;
  rb.pClearValues = &clear;
  fn.vkCmdBeginRenderPass(cb, &rb, VK_SUBPASS_CONTENTS_INLINE);
}

// The raster quads: [count the pulled particles], clear, draw in particle
// order, into the slot's image or (direct path) the acquired swapchain image.
void VulkanRenderer::Impl::record_raster(VkCommandBuffer cb, vk::Slot& s, const vk::Zone& lz, const Draw& draw,
                                         std::uint32_t slot_index, const DrawTarget* target) {
  if (draw.pulled_zone) record_particle_count(cb, *draw.pulled_zone, slot_index, draw.count);
  begin_render_pass(cb, target != nullptr ? direct_pass : render_pass,
                    target != nullptr ? target->framebuffer : s.framebuffer);
  if (draw.pulled_zone) {
    record_particle_draw(cb, target != nullptr ? direct_particle_pipeline : particle_pipeline, *draw.pulled_zone,
                         slot_index, draw.count);
  }
  const LayoutResult* lr = draw.layout;
  if (lr != nullptr && lr->instance_count > 0) {
    const VkPipeline quads = target != nullptr ? direct_pipeline : pipeline;
    fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, quads);
    // The shader maps pixels to clip space over the whole image, which keeps
    // a scaled frame's pixels in its top-left corner.
    const std::array<float, 2> viewport{static_cast<float>(cfg.layout.width), static_cast<float>(cfg.layout.height)};
    fn.vkCmdPushConstants(cb, pipeline_layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof viewport, viewport.data());
    const VkBuffer vb = lz.binding.imported ? lz.gpu.buffer : s.vertices.buffer;
    const VkDeviceSize vb_offset = lz.binding.imported ? kZonePayloadOffset : 0;
    fn.vkCmdBindVertexBuffers(cb, 0, 1, &vb, &vb_offset);
    for (std::uint32_t c = 0; c < lr->chunk_count; ++c) {
      if (lr->chunks[c].count > 0) fn.vkCmdDraw(cb, 4, lr->chunks[c].count, 0, lr->chunks[c].first);
    }
  }
  fn.vkCmdEndRenderPass(cb);
  if (draw.pulled_zone) record_counts_to_host(cb);
  if (target != nullptr && cfg.readback) record_copy_from_target(cb, s, *target);
}

// Only when the frame's pixels go to a result zone: the swapchain image
// (left TRANSFER_SRC_OPTIMAL for the presenter) is blitted, which converts
// BGRA to RGBA exactly at the same size, into the slot's image (left
// TRANSFER_SRC_OPTIMAL, as the readback copy expects).
void VulkanRenderer::Impl::record_copy_from_target(VkCommandBuffer cb, const vk::Slot& s, const DrawTarget& target) {
  using vk::image_barrier;
  // The slot's image: its last readback copy (another submission, before
  // `rendered` of this ticket's slot was waited) is done; its old pixels are not needed.
  const std::array<VkImageMemoryBarrier, 2> before{
      image_barrier(target.image, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT,
              VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL),
      image_barrier(s.image, 0, VK_ACCESS_TRANSFER_WRITE_BIT, VK_IMAGE_LAYOUT_UNDEFINED, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL)};
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                          VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr,
                          static_cast<std::uint32_t>(before.size()), before.data());
  VkImageBlit region{};
  region.srcSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
  region.srcOffsets[1] = {static_cast<std::int32_t>(cfg.layout.width), static_cast<std::int32_t>(cfg.layout.height), 1};
  region.dstSubresource = region.srcSubresource;
  region.dstOffsets[1] = region.srcOffsets[1];
  fn.vkCmdBlitImage(cb, target.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, s.image,
                    VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &region, VK_FILTER_NEAREST);
  const auto after = image_barrier(s.image, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT,
                             VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL);
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0, nullptr,
                          1, &after);
}

// Without readback the submission still runs, empty, so `copied` marks every ticket.
Result<void> VulkanRenderer::Impl::submit_copy(std::uint64_t t, vk::Slot& s, const vk::Zone* rz) {
  const bool copy = cfg.readback && rz != nullptr;
  if (copy) {
    const auto begin = one_time_begin();
    TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.copy_cb, 0));
    TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.copy_cb, &begin));
    VkBufferImageCopy region{};
    region.bufferOffset = rz->binding.imported ? kZonePayloadOffset : 0;
    region.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
    region.bufferRowLength = cfg.layout.width;  // a scaled frame lands in the top-left of the full rows
    region.imageExtent = {frame_extent.width, frame_extent.height, 1};
    const VkBuffer dst = rz->binding.imported ? rz->gpu.buffer : s.readback.buffer;
    fn.vkCmdCopyImageToBuffer(s.copy_cb, s.image, VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL, dst, 1, &region);
    // Make the copy's writes visible to the host that reads the pixels.
    VkMemoryBarrier mb{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_HOST_READ_BIT};
    fn.vkCmdPipelineBarrier(s.copy_cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0,
                            nullptr, 0, nullptr);
    TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.copy_cb));
  }
  const TimelineSubmit submission(t + 1, copy ? &s.copy_cb : nullptr, &copied, &rendered,
                                  VK_PIPELINE_STAGE_TRANSFER_BIT);
  const VkSubmitInfo& si = submission.info;
  TRIPTYCH_VK_TRY(fn.vkQueueSubmit(transfer_queue, 1, &si, VK_NULL_HANDLE));
  return {};
}

}  // namespace triptych::render
