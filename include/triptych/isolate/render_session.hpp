// SPDX-License-Identifier: Apache-2.0
// What the host and the render process agree on for a render session,
// beyond the handshake: where things lie in H and C, and how a result
// proves it is whole.
//   H (host-written, read-only to the child): a RenderSetup at offset 0
//     (geometry, zone offsets, the frame in each compute slot), then the
//     compute slots the host copies each frame's particles into.
//   C (child-written, hostile to the host): the progress word at 0, one
//     ResultSeal per result slot, then the layout and result zones.
// A result is sealed with the frame, epoch and generation of its grant and
// a hash of its pixels; in test mode every 64-byte line of the pixels also
// opens with the frame id, so a torn frame shows even without the hash.
// Pure functions and plain records; no threads. Design: docs/isolation.md.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <type_traits>

#include "triptych/core/result.hpp"
#include "triptych/isolate/grants.hpp"

namespace triptych::isolate {

inline constexpr std::uint32_t kRenderSetupMagic = 0x53525054;  // "TPRS" little-endian
inline constexpr std::uint32_t kRenderSetupVersion = 2;
// RenderSetup::renderer: the engine's renderer, which the render process uses too.
inline constexpr std::uint32_t kRendererCpu = 0;
inline constexpr std::uint32_t kRendererVulkan = 1;
inline constexpr std::uint32_t kRenderSlots = 3;
inline constexpr std::uint64_t kProgressOffset = 0;     // in C
inline constexpr std::uint64_t kSealsOffset = 64;       // in C: kRenderSlots ResultSeals
inline constexpr std::size_t kFrameLineBytes = 64;      // test mode: the frame id opens every line

// The frame a compute slot of H holds (host-written before the RENDER grant).
struct SlotFrame {
  std::uint64_t frame = 0;
  std::uint32_t particle_count = 0;
  std::uint32_t draw_stride = 1;
  float resolution_scale = 1.0F;
  std::uint32_t reserved = 0;
};
static_assert(sizeof(SlotFrame) == 24 && std::is_trivially_copyable_v<SlotFrame>);

struct RenderSetup {
  std::uint32_t magic = kRenderSetupMagic;
  std::uint32_t version = kRenderSetupVersion;
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::uint32_t test_mode = 0;  // 1: stamp the frame id into every line of each result
  std::uint32_t renderer = kRendererCpu;  // what the render process renders with
  float origin_x = 0, origin_y = 0, scale = 1, velocity_scale = 1, max_size = 0, max_line_length = 0;
  std::array<float, 4> clear{};
  std::uint64_t compute_bytes = 0;                      // each compute slot, in H
  std::array<std::uint64_t, kRenderSlots> compute_offset{};
  std::uint64_t layout_bytes = 0;                       // each layout zone, in C
  std::array<std::uint64_t, kRenderSlots> layout_offset{};
  std::uint64_t result_bytes = 0;                       // each result zone, in C
  std::array<std::uint64_t, kRenderSlots> result_offset{};
  std::array<SlotFrame, kRenderSlots> slots{};
};
static_assert(std::is_trivially_copyable_v<RenderSetup>);

// Written by the child into C after the pixels, before DONE.
struct ResultSeal {
  std::uint64_t frame = 0;
  std::uint64_t epoch = 0;
  std::uint32_t generation = 0;
  std::uint32_t reserved = 0;
  std::uint64_t hash = 0;
};
static_assert(sizeof(ResultSeal) == 32 && std::is_trivially_copyable_v<ResultSeal>);
static_assert(kSealsOffset + kRenderSlots * sizeof(ResultSeal) <= 4096, "the seals fit C's first page");

// Copies the setup out of H once and checks it: magic, version, sizes, and
// every zone inside its memory (compute slots in H, layout and result zones
// in C past the seals, none overlapping). kCorruptHeader names the field.
[[nodiscard]] Result<RenderSetup> read_render_setup(std::span<const std::byte> host, std::size_t child_bytes);

// The layout parameters a RenderSetup carries, to and from the renderer's
// own record (render::LayoutParams, whose fields have the same names; a
// template because the isolate layer sits below the render layer): the one
// conversion host and child share. Either way round: copy_layout(setup,
// params) on the host, copy_layout(params, setup) in the render process.
template <class Layout>
concept SetupLayout = requires(Layout l) {
  l.width;
  l.height;
  l.origin_x;
  l.origin_y;
  l.scale;
  l.velocity_scale;
  l.max_size;
  l.max_line_length;
};

template <SetupLayout To, SetupLayout From>
void copy_layout(To& to, const From& from) noexcept {
  to.width = from.width;
  to.height = from.height;
  to.origin_x = from.origin_x;
  to.origin_y = from.origin_y;
  to.scale = from.scale;
  to.velocity_scale = from.velocity_scale;
  to.max_size = from.max_size;
  to.max_line_length = from.max_line_length;
}

// The host's acceptance of a granted result, as the isolated render stage
// runs it: the seal of `grant.result_slot` is copied out of C once, the
// pixels at `pixels_offset` in C (the host's own geometry, never C's) once
// into `to` (to.size() bytes), and then only the copies are checked: the
// seal names the grant (frame, epoch, generation), the hash of the copied
// pixels equals the seal's, and in test mode every line of the copy opens
// with the frame id. kCorruptHeader says which check failed (`to` then holds
// bytes nobody may publish); kOutOfRange for a geometry outside C. Never
// reads outside `child`; allocates only for an error.
[[nodiscard]] Result<void> take_sealed_result(std::span<const std::byte> child, const RenderGrant& grant,
                                              std::uint64_t pixels_offset, bool test_mode, std::span<std::byte> to);

// A 64-bit hash of `bytes` (four lanes of 8-byte words; the tail byte-wise).
[[nodiscard]] std::uint64_t frame_hash(std::span<const std::byte> bytes) noexcept;

// Test mode: the frame id into the first 8 bytes of every 64-byte line.
void stamp_frame_lines(std::span<std::byte> pixels, std::uint64_t frame) noexcept;
// True when every whole 64-byte line of `pixels` opens with `frame`.
[[nodiscard]] bool frame_lines_hold(std::span<const std::byte> pixels, std::uint64_t frame) noexcept;

}  // namespace triptych::isolate
