// SPDX-License-Identifier: Apache-2.0
// Helpers every RenderStage shares (render_stage.hpp): result zone headers.
// init_result_zone runs before a zone is handed to a renderer
// (single-threaded); read_result_zone may run on any thread. See docs/render-stage.md.
#include "triptych/render/render_stage.hpp"

#include <chrono>
#include <cstddef>
#include <cstring>
#include <new>
#include <string>

namespace triptych::render {

Result<void> init_result_zone(std::span<std::byte> zone, std::uint32_t width,
                              std::uint32_t height) {
  if (width == 0 || height == 0 || width > 16384 || height > 16384) {
    return make_error(Errc::kInvalidArgument, "result zone width and height must be in [1, 16384]");
  }
  const std::size_t need = result_zone_bytes(width, height);
  if (zone.size() < need) {
    return make_error(Errc::kTooSmall, "result zone of " + std::to_string(zone.size()) +
                                           " bytes cannot hold a " + std::to_string(width) + "x" +
                                           std::to_string(height) + " image (" +
                                           std::to_string(need) + " bytes)");
  }
  if (reinterpret_cast<std::uintptr_t>(zone.data()) % alignof(ResultZoneHeader) != 0) {
    return make_error(Errc::kMisaligned, "result zone is not 8-byte aligned");
  }
  auto* h = new (zone.data()) ResultZoneHeader{};
  h->magic = kResultZoneMagic;
  h->version = kRenderZoneVersion;
  h->width = width;
  h->height = height;
  h->row_bytes = width * 4;
  h->format = kPixelFormatRgba8;
  h->pixel_offset = kZonePayloadOffset;
  h->reserved = 0;
  h->frame.store(0, std::memory_order_release);
  return {};
}

Result<ResultZoneImage> read_result_zone(std::span<const std::byte> zone) {
  if (zone.size() < kZonePayloadOffset) return make_error(Errc::kTooSmall, "result zone smaller than its header page");
  // The plain fields precede `frame`: one copy of them, then only the copy.
  std::uint32_t f[offsetof(ResultZoneHeader, frame) / sizeof(std::uint32_t)];
  std::memcpy(f, zone.data(), sizeof(f));
  const std::uint32_t magic = f[offsetof(ResultZoneHeader, magic) / 4];
  const std::uint32_t version = f[offsetof(ResultZoneHeader, version) / 4];
  const std::uint32_t format = f[offsetof(ResultZoneHeader, format) / 4];
  ResultZoneImage img;
  img.width = f[offsetof(ResultZoneHeader, width) / 4];
  img.height = f[offsetof(ResultZoneHeader, height) / 4];
  img.row_bytes = f[offsetof(ResultZoneHeader, row_bytes) / 4];
  img.pixel_offset = f[offsetof(ResultZoneHeader, pixel_offset) / 4];
  if (magic != kResultZoneMagic) return make_error(Errc::kBadMagic, "not a result zone");
  if (version != kRenderZoneVersion) return make_error(Errc::kBadVersion, "result zone version " + std::to_string(version));
  if (format != kPixelFormatRgba8 || img.width == 0 || img.height == 0 || img.row_bytes != std::uint64_t{img.width} * 4 ||
      img.pixel_offset < sizeof(ResultZoneHeader) ||
      std::uint64_t{img.pixel_offset} + std::uint64_t{img.row_bytes} * img.height > zone.size()) {
    return make_error(Errc::kCorruptHeader, "result zone header describes pixels outside the zone");
  }
  return img;
}

Result<void> stretch_result_zone(std::span<std::byte> zone, std::uint32_t rendered_width,
                                 std::uint32_t rendered_height) {
  auto img = read_result_zone(zone);
  if (!img) return img.error();
  const ResultZoneImage g = img.value();
  if (rendered_width == 0 || rendered_height == 0 || rendered_width > g.width || rendered_height > g.height) {
    return make_error(Errc::kInvalidArgument, "rendered size " + std::to_string(rendered_width) + "x" +
                                                  std::to_string(rendered_height) + " does not fit the " +
                                                  std::to_string(g.width) + "x" + std::to_string(g.height) +
                                                  " image");
  }
  if (rendered_width == g.width && rendered_height == g.height) return {};
  // Backwards from the last pixel: each source pixel (x * rw / w, y * rh / h)
  // lies at or before its destination in memory, so it is read before any
  // write reaches it.
  auto* px = reinterpret_cast<std::uint32_t*>(zone.data() + g.pixel_offset);
  for (std::uint32_t y = g.height; y-- > 0;) {
    const std::uint32_t sy = static_cast<std::uint32_t>(std::uint64_t{y} * rendered_height / g.height);
    const std::uint32_t* src = px + std::size_t{sy} * g.width;
    std::uint32_t* dst = px + std::size_t{y} * g.width;
    for (std::uint32_t x = g.width; x-- > 0;) {
      dst[x] = src[static_cast<std::uint32_t>(std::uint64_t{x} * rendered_width / g.width)];
    }
  }
  return {};
}

}  // namespace triptych::render
