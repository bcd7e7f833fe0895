// SPDX-License-Identifier: Apache-2.0
// The bytes the render stage reads and writes in the arena: the particle
// records a compute kernel writes into a compute slot (the layout pass's
// untrusted input), the instance records the layout pass writes into a layout
// zone (what the GPU draws), and the headers of layout and result zones. All
// types are plain, little-endian, pointer-free and fixed in size so C++, JS,
// WASM and the GPU agree on them; docs/render-stage.md has the field tables. Plain
// data: no synchronisation of its own (zones are handed over by the arena's
// triple buffers); the one atomic, ResultZoneHeader::frame, says which frame's
// pixels a result zone holds.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "triptych/core/config.hpp"

namespace triptych::render {

// Shape ids shared by the particle record, the instance record and the shaders.
enum class Shape : std::uint32_t {
  kCircle = 0,       // radius = size
  kRoundedRect = 1,  // square, half extent = size, corner radius = size / 4
  kLine = 2,         // segment p -> p + v * velocity_scale, half thickness = size
};
inline constexpr std::uint32_t kShapeCount = 3;

// What a compute kernel writes, one per particle (32 bytes). World units;
// colour is straight (not premultiplied) RGBA8 with R in the lowest byte.
struct Particle {
  float x, y;      // position
  float vx, vy;    // velocity, world units per second; a line is drawn along v * velocity_scale
  float size;      // radius / half extent / half thickness, world units
  std::uint32_t rgba;
  std::uint32_t shape;  // a Shape value; anything else is dropped and counted
  std::uint32_t reserved;
};
static_assert(std::is_standard_layout_v<Particle> && std::is_trivially_copyable_v<Particle>,
              "particles are written by WASM kernels and read as raw bytes");
static_assert(sizeof(Particle) == 32, "PROTOCOL: a particle record is 32 bytes");

// What the GPU draws, one per surviving particle (32 bytes): the vertex
// shader's per-instance attributes (shaders/quad.vert), in pixels.
struct Instance {
  float ax, ay;    // centre (circle, rect) or line start
  float bx, by;    // half extents (circle: r, r) or line end
  float param;     // corner radius (rect) or half thickness (line); 0 for circles
  std::uint32_t rgba;
  std::uint32_t shape;
  std::uint32_t reserved;
};
static_assert(std::is_standard_layout_v<Instance> && std::is_trivially_copyable_v<Instance>,
              "instances are read by the GPU straight from the layout zone");
static_assert(sizeof(Instance) == 32, "the vertex input binding stride is 32 bytes");
static_assert(offsetof(Instance, param) == 16 && offsetof(Instance, rgba) == 20 &&
                  offsetof(Instance, shape) == 24,
              "the vertex attribute offsets in src/render/vulkan/pipeline.cpp assume this layout");

// Counters of one layout pass. Every input particle lands in exactly one of
// drawn, culled, nonfinite, bad_size, bad_shape or overflow; clamped counts
// drawn or culled particles whose size or line length was clamped.
struct LayoutStats {
  std::uint32_t input = 0;      // particles offered
  std::uint32_t drawn = 0;      // instance records written
  std::uint32_t culled = 0;     // off-screen, zero size, fully transparent
  std::uint32_t nonfinite = 0;  // NaN or infinite position, velocity or size
  std::uint32_t bad_size = 0;   // negative size
  std::uint32_t bad_shape = 0;  // unknown shape id
  std::uint32_t overflow = 0;   // beyond the layout zone's capacity
  std::uint32_t clamped = 0;    // size or line length above the limit, clamped

  [[nodiscard]] std::uint32_t dropped() const noexcept {
    return nonfinite + bad_size + bad_shape + overflow;
  }
  LayoutStats& operator+=(const LayoutStats& o) noexcept;
  friend bool operator==(const LayoutStats&, const LayoutStats&) = default;
};
static_assert(sizeof(LayoutStats) == 32, "LayoutStats is copied into the layout zone header");

// A layout pass splits its input into chunks; chunk i's instances are
// contiguous from `first`, so no compaction pass is needed and the renderer
// issues one instanced draw per chunk, in chunk order (blending is ordered).
inline constexpr std::uint32_t kMaxLayoutChunks = 64;
struct LayoutChunk {
  std::uint32_t first = 0;
  std::uint32_t count = 0;
};

inline constexpr std::uint32_t kLayoutZoneMagic = 0x59414C54;  // "TLAY"
inline constexpr std::uint32_t kResultZoneMagic = 0x53455254;  // "TRES"
inline constexpr std::uint32_t kRenderZoneVersion = 1;
// Instances and pixels start one page into their zone so the GPU can import
// or copy them at a page-aligned offset.
inline constexpr std::uint32_t kZonePayloadOffset = static_cast<std::uint32_t>(kPageSize);

// First page of a layout zone. Written by the layout pass before the zone is
// handed on; read by the renderer in-process and by tools. Not atomic: the
// triple buffer that hands the zone over orders it.
struct LayoutZoneHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint64_t frame;            // frame token of the pass that wrote it
  std::uint32_t instance_offset;  // kZonePayloadOffset
  std::uint32_t capacity;         // instances that fit
  std::uint32_t chunk_count;
  std::uint32_t instance_count;   // sum of the chunks' counts
  LayoutStats stats;
  std::array<LayoutChunk, kMaxLayoutChunks> chunks;
};
static_assert(std::is_standard_layout_v<LayoutZoneHeader>, "read by other processes and JS");
static_assert(offsetof(LayoutZoneHeader, magic) == 0, "magic first");
static_assert(sizeof(LayoutZoneHeader) <= kZonePayloadOffset, "the header fits in the first page");

// First page of a result zone: pixels follow at pixel_offset, RGBA8, rows top
// first, row_bytes apart. `frame` is the token + 1 of the frame whose pixels
// are there (0: none yet); stored with release once they have all landed.
inline constexpr std::uint32_t kPixelFormatRgba8 = 1;
struct ResultZoneHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t width;
  std::uint32_t height;
  std::uint32_t row_bytes;
  std::uint32_t format;
  std::uint32_t pixel_offset;
  std::uint32_t reserved;
  std::atomic<std::uint64_t> frame;
};
static_assert(std::is_standard_layout_v<ResultZoneHeader>, "read by other processes and JS");
static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "ResultZoneHeader::frame is read by other processes");
static_assert(offsetof(ResultZoneHeader, frame) % 8 == 0, "an aligned 64-bit word");

// Bytes a layout zone needs for `capacity` instances, page-rounded.
[[nodiscard]] constexpr std::size_t layout_zone_bytes(std::uint32_t capacity) noexcept {
  return kZonePayloadOffset + align_up(std::uint64_t{capacity} * sizeof(Instance), kPageSize);
}
// Bytes a result zone needs for a width x height RGBA8 image, page-rounded.
[[nodiscard]] constexpr std::size_t result_zone_bytes(std::uint32_t width,
                                                      std::uint32_t height) noexcept {
  return kZonePayloadOffset + align_up(std::uint64_t{width} * height * 4, kPageSize);
}

// Straight RGBA8 packing helper (R in the lowest byte).
[[nodiscard]] constexpr std::uint32_t rgba(std::uint8_t r, std::uint8_t g, std::uint8_t b,
                                           std::uint8_t a = 255) noexcept {
  return std::uint32_t{r} | (std::uint32_t{g} << 8) | (std::uint32_t{b} << 16) |
         (std::uint32_t{a} << 24);
}

}  // namespace triptych::render
