// SPDX-License-Identifier: Apache-2.0
// Image helpers (image.hpp): result-zone copies, PNG through stb, diffs.
// Single-threaded value functions. See docs/render-stage.md.
#include "triptych/render/image.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "triptych/render/render_stage.hpp"
#include "triptych/render/scene.hpp"

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STB_IMAGE_STATIC
#define STBI_ONLY_PNG
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wconversion"
#pragma GCC diagnostic ignored "-Wsign-conversion"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wcast-align"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wnull-dereference"
#pragma GCC diagnostic ignored "-Wundef"
#include <stb_image.h>
#include <stb_image_write.h>
#pragma GCC diagnostic pop

namespace triptych::render {

Result<Image> image_from_result_zone(std::span<const std::byte> zone, std::uint64_t* frame) {
  auto geometry = read_result_zone(zone);
  if (!geometry) return geometry.error();
  const ResultZoneImage& g = geometry.value();
  const auto* h = reinterpret_cast<const ResultZoneHeader*>(zone.data());
  // SYNC(result-frame): acquires the pixels the renderer published with this frame word.
  const std::uint64_t f = h->frame.load(std::memory_order_acquire);
  if (frame != nullptr) *frame = f;
  Image img;
  img.width = g.width;
  img.height = g.height;
  img.rgba.resize(std::size_t{g.row_bytes} * g.height);
  std::memcpy(img.rgba.data(), zone.data() + g.pixel_offset, img.rgba.size());
  return img;
}

Result<void> write_png(const std::string& path, const Image& image) {
  if (image.width == 0 || image.height == 0 || image.rgba.size() != std::size_t{image.width} * image.height * 4) {
    return make_error(Errc::kInvalidArgument, "image is empty or its pixel vector has the wrong size");
  }
  const int ok = stbi_write_png(path.c_str(), static_cast<int>(image.width), static_cast<int>(image.height), 4,
                                image.rgba.data(), static_cast<int>(image.width * 4));
  if (ok == 0) return make_error(Errc::kSystem, "cannot write PNG '" + path + "'");
  return {};
}

Result<Image> read_png(const std::string& path) {
  int w = 0;
  int h = 0;
  int channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 4);
  if (data == nullptr) {
    return make_error(Errc::kSystem, "cannot read PNG '" + path + "': " + stbi_failure_reason());
  }
  Image img;
  img.width = static_cast<std::uint32_t>(w);
  img.height = static_cast<std::uint32_t>(h);
  img.rgba.assign(data, data + std::size_t{img.width} * img.height * 4);
  stbi_image_free(data);
  return img;
}

Result<ImageDiff> compare_images(const Image& actual, const Image& expected, std::uint32_t tolerance) {
  if (actual.width != expected.width || actual.height != expected.height ||
      actual.rgba.size() != expected.rgba.size()) {
    return make_error(Errc::kInvalidArgument, "image sizes differ: " + std::to_string(actual.width) + "x" +
                                                  std::to_string(actual.height) + " vs " + std::to_string(expected.width) +
                                                  "x" + std::to_string(expected.height));
  }
  ImageDiff d;
  d.diff.width = actual.width;
  d.diff.height = actual.height;
  d.diff.rgba.resize(actual.rgba.size());
  for (std::size_t i = 0; i < actual.rgba.size(); i += 4) {
    std::uint32_t worst = 0;
    for (std::size_t c = 0; c < 4; ++c) {
      const int delta = std::abs(int{actual.rgba[i + c]} - int{expected.rgba[i + c]});
      worst = std::max(worst, static_cast<std::uint32_t>(delta));
    }
    d.max_delta = std::max(d.max_delta, worst);
    std::uint8_t* out = d.diff.rgba.data() + i;
    if (worst > tolerance) {
      ++d.pixels_over;
      out[0] = 255;
      out[1] = 0;
      out[2] = 0;
    } else {
      const auto grey = static_cast<std::uint8_t>((actual.rgba[i] + actual.rgba[i + 1] + actual.rgba[i + 2]) / 12);
      out[0] = grey;
      out[1] = grey;
      out[2] = grey;
    }
    out[3] = 255;
  }
  return d;
}

}  // namespace triptych::render
