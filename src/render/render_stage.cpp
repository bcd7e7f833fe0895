// SPDX-License-Identifier: Apache-2.0
// Helpers every RenderStage shares (render_stage.hpp): result zone headers.
// init_result_zone runs before a zone is handed to a renderer
// (single-threaded). See docs/render-stage.md.
#include "triptych/render/render_stage.hpp"

#include <chrono>
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

}  // namespace triptych::render
