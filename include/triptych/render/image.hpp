// SPDX-License-Identifier: Apache-2.0
// RGBA8 images for snapshots and golden tests: copy out of a result zone,
// PNG files through stb_image_write / stb_image (Debian libstb-dev, no
// hand-written encoder), and a per-pixel comparison that also produces a diff
// image. Plain single-threaded value functions; allocate. See docs/render-stage.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "triptych/core/result.hpp"

namespace triptych::render {

struct Image {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
  std::vector<std::uint8_t> rgba;  // width * height * 4, rows top first

  [[nodiscard]] const std::uint8_t* pixel(std::uint32_t x, std::uint32_t y) const noexcept {
    return rgba.data() + (std::size_t{y} * width + x) * 4;
  }
};

// Copies the pixels out of a result zone after checking its header (magic,
// version, format, sizes against the zone's bytes). `frame` receives the
// header's frame word (token + 1, 0 = none). kBadMagic/kBadVersion/kCorruptHeader.
[[nodiscard]] Result<Image> image_from_result_zone(std::span<const std::byte> zone, std::uint64_t* frame = nullptr);

[[nodiscard]] Result<void> write_png(const std::string& path, const Image& image);
[[nodiscard]] Result<Image> read_png(const std::string& path);

struct ImageDiff {
  std::uint32_t max_delta = 0;          // largest per-channel difference
  std::uint64_t pixels_over = 0;        // pixels with any channel beyond the tolerance
  Image diff;                           // red where over, dimmed grey elsewhere
};

// Compares two images channel by channel. kInvalidArgument if sizes differ.
[[nodiscard]] Result<ImageDiff> compare_images(const Image& actual, const Image& expected,
                                               std::uint32_t tolerance);

}  // namespace triptych::render
