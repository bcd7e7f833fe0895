// SPDX-License-Identifier: Apache-2.0
// The RenderStage concept: what any renderer (the Vulkan one here, a CPU
// reference rasteriser, a future Servo embedding) offers the frame loop. The
// loop hands a frame token plus the compute slot to read and the layout and
// result zones to use (it owns the triple buffers that pick them); the stage
// lays out, renders, reads back into the result zone and/or presents, and
// signals "frame ready" through a futex WaitWord and a callback. submit and
// wait_frame belong to one thread (the render thread); frame_ready() may be
// waited on by any thread. See docs/render-stage.md.
#pragma once

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "triptych/core/result.hpp"
#include "triptych/render/scene.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych::render {

// One frame's input. compute_slot holds particle_count Particle records
// (untrusted); layout_zone and result_zone index the zones the stage was
// built with (the Vulkan renderer also takes kResultZoneLater).
struct FrameInput {
  std::uint64_t frame = 0;  // the frame token, carried into FrameInfo and the zone headers
  std::span<const std::byte> compute_slot;
  std::uint32_t particle_count = 0;
  std::uint32_t layout_zone = 0;
  std::uint32_t result_zone = 0;
  // Render cost a governor may shed (scaled_layout): the picture is drawn at
  // this fraction of the target size into the result image's top-left corner
  // (stretch_result_zone() fills the image from it), and only every
  // draw_stride-th particle is drawn. 1 and 1: the full picture.
  float resolution_scale = 1.0F;
  std::uint32_t draw_stride = 1;
};

// What the stage reports once a frame's pixels are in its result zone (or,
// without readback, once it has been rendered).
struct FrameInfo {
  std::uint64_t ticket = 0;  // submission number, 0, 1, 2, ... per stage
  std::uint64_t frame = 0;   // the caller's token
  std::uint32_t layout_zone = 0;
  std::uint32_t result_zone = 0;
  LayoutStats stats;
  // steady_clock nanoseconds: render_start when submit began (the layout
  // pass starts), submitted after the GPU submission, render_end when the
  // stage saw the frame complete.
  std::int64_t render_start_ns = 0;
  std::int64_t layout_end_ns = 0;
  std::int64_t submitted_ns = 0;
  std::int64_t render_end_ns = 0;
  // When the GPU began and ended the frame's render (its command buffer), on
  // the same clock: timestamp queries calibrated to CLOCK_MONOTONIC. 0 when
  // the stage has no calibrated GPU clock (VulkanRenderer::gpu_timing).
  std::int64_t gpu_begin_ns = 0;
  std::int64_t gpu_end_ns = 0;
  bool layout_imported = false;  // the GPU read the layout zone in place
  bool result_imported = false;  // the GPU wrote the result zone in place
  bool particles_on_gpu = false; // the GPU pulled the particles from the compute slot (no layout pass);
                                 // stats were counted by the GPU and read back with the frame
  bool splat = false;                     // drawn by the compute splat renderer (no vertex or fragment stage)
  std::uint32_t splat_overflow_tiles = 0; // its tiles whose list overflowed, shaded by a scan instead
};

using FrameReadyCallback = std::function<void(const FrameInfo&)>;

// A renderer the frame loop can drive.
//  submit:      lays out and starts rendering one frame; may block until a
//               frame-in-flight slot (or the zones it names) is free. Returns
//               the frame's ticket.
//  wait_frame:  blocks until that ticket is complete (any order, any of the
//               last kFrameHistory tickets) and returns its FrameInfo.
//  frame_ready: value = low 32 bits of (last completed ticket + 1); woken on
//               every completion.
template <class R>
concept RenderStage = requires(R& r, const FrameInput& in, std::uint64_t ticket,
                               std::chrono::nanoseconds timeout, FrameReadyCallback cb) {
  { r.submit(in) } -> std::same_as<Result<std::uint64_t>>;
  { r.wait_frame(ticket, timeout) } -> std::same_as<Result<FrameInfo>>;
  { r.frame_ready() } -> std::same_as<WaitWord&>;
  { r.completed() } -> std::same_as<std::uint64_t>;
  r.set_frame_ready_callback(std::move(cb));
};

// FrameInfo records kept for out-of-order wait_frame calls.
inline constexpr std::uint32_t kFrameHistory = 64;

// A result zone's image geometry, copied from its header once and validated:
// callers build from this copy, never from the shared header again.
struct ResultZoneImage {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t row_bytes = 0;
  std::uint32_t pixel_offset = 0;
};

// Reads `zone`'s header fields (all but `frame`) once and checks magic,
// version, format and that the pixels lie inside the zone. kTooSmall,
// kBadMagic, kBadVersion or kCorruptHeader; never reads past `zone`.
[[nodiscard]] Result<ResultZoneImage> read_result_zone(std::span<const std::byte> zone);

// Writes a result zone's header (everything but `frame`, which is stored 0).
// kTooSmall / kMisaligned if the zone cannot hold a width x height image.
[[nodiscard]] Result<void> init_result_zone(std::span<std::byte> zone, std::uint32_t width,
                                            std::uint32_t height);

// A frame rendered at `rendered_width` x `rendered_height` into the top-left
// corner of `zone`'s image is stretched (nearest pixel) over the whole image,
// in place. The geometry is read once from the zone's header and checked;
// kInvalidArgument when the rendered size exceeds the image. Render thread,
// before the zone is published; no allocation.
[[nodiscard]] Result<void> stretch_result_zone(std::span<std::byte> zone, std::uint32_t rendered_width,
                                               std::uint32_t rendered_height);

// The one clock (trace::now_ns, CLOCK_MONOTONIC), signed as FrameInfo's
// stamps are, so render stamps compare with every other stamp of the run.
[[nodiscard]] inline std::int64_t now_ns() noexcept { return static_cast<std::int64_t>(trace::now_ns()); }

}  // namespace triptych::render
