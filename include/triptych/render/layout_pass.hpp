// SPDX-License-Identifier: Apache-2.0
// The layout pass: reads particle records from a compute slot (untrusted
// bytes another component wrote), validates, transforms to pixels, culls, and
// writes Instance records plus a LayoutZoneHeader into a layout zone. It is
// split into chunks that run in parallel through a ParallelFor, the seam where
// the scheduler's render pool plugs in (thread_split_parallel_for() is the
// stand-in until then). Blocking only in the sense that it returns when every
// chunk is done; one caller per layout zone at a time. See docs/render-stage.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

#include "triptych/core/result.hpp"
#include "triptych/render/scene.hpp"

namespace triptych::render {

// World-to-screen mapping and the limits that untrusted input is held to.
struct LayoutParams {
  std::uint32_t width = 256;   // target size in pixels
  std::uint32_t height = 256;
  float origin_x = 0.0F;       // screen = (world - origin) * scale
  float origin_y = 0.0F;
  float scale = 1.0F;
  float velocity_scale = 1.0F; // a line runs from p to p + v * velocity_scale
  float max_size = 0.0F;       // pixels; 0 means max(width, height)
  float max_line_length = 0.0F;  // pixels; 0 means 2 * max(width, height)
  // Draw only particles whose index is a multiple of this (a deterministic
  // subset, for a governor shedding render cost). Every particle is still
  // validated and counted; the ones left out count as culled. >= 1.
  std::uint32_t draw_stride = 1;
};

// `full` rendered at `resolution_scale` (clamped to [1/16, 1]; not finite: 1)
// of its size into the top-left of the target, drawing every
// `draw_stride`-th particle (0 reads as 1): the same world, fewer pixels and
// particles. Pure.
[[nodiscard]] LayoutParams scaled_layout(const LayoutParams& full, float resolution_scale,
                                         std::uint32_t draw_stride) noexcept;

// Runs body(i) once for every i in [0, tasks) and returns when all have
// finished. body never throws. The render pool (src/sched) will provide one;
// until then thread_split_parallel_for() spawns tasks - 1 threads per call.
using ParallelFor =
    std::function<void(std::uint32_t tasks, const std::function<void(std::uint32_t)>& body)>;

// Spawns tasks - 1 std::threads and runs task 0 on the caller. Allocates.
[[nodiscard]] ParallelFor thread_split_parallel_for();
// Runs every task on the caller, in order.
[[nodiscard]] ParallelFor serial_parallel_for();

// Chunks smaller than this are not worth a thread.
inline constexpr std::uint32_t kMinChunkParticles = 2048;

struct LayoutResult {
  LayoutStats stats;
  std::uint32_t instance_count = 0;
  std::uint32_t chunk_count = 0;
  std::array<LayoutChunk, kMaxLayoutChunks> chunks{};
};

// Checks a LayoutParams. kInvalidArgument names the bad field.
[[nodiscard]] Result<void> validate(const LayoutParams& params);

// Instances a layout zone of `zone_bytes` holds (0 if it cannot hold the header).
[[nodiscard]] constexpr std::uint32_t layout_zone_capacity(std::size_t zone_bytes) noexcept {
  if (zone_bytes < kZonePayloadOffset) return 0;
  const std::size_t n = (zone_bytes - kZonePayloadOffset) / sizeof(Instance);
  return n > 0xFFFFFFFFu ? 0xFFFFFFFFu : static_cast<std::uint32_t>(n);
}

// Lays out `particle_count` particles read from `compute_slot` into
// `layout_zone` for frame `frame`, in up to `tasks` parallel chunks (clamped
// to [1, kMaxLayoutChunks] and to one chunk per kMinChunkParticles).
// Particles that the slot's bytes or the zone's capacity cannot hold are
// counted as overflow. Each record is copied out of the slot once before it is
// checked, so a writer scribbling on the slot meanwhile cannot break a check.
// Errors: kInvalidArgument (params), kTooSmall (zone smaller than one page),
// kMisaligned (zone not 8-byte aligned). Never fails on particle contents.
[[nodiscard]] Result<LayoutResult> layout_pass(const LayoutParams& params, std::uint64_t frame,
                                               std::span<const std::byte> compute_slot,
                                               std::uint32_t particle_count,
                                               std::span<std::byte> layout_zone,
                                               std::uint32_t tasks, const ParallelFor& pool);

}  // namespace triptych::render
