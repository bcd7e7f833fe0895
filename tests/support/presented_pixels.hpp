// SPDX-License-Identifier: Apache-2.0
// The picture an engine presents: the pixels of the result buffer's front
// zone (its read side), copied out, for tests that compare two runs' images.
// Test thread only, once the engine has finished or is stopped.
#pragma once

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "triptych/pipeline/engine.hpp"
#include "triptych/render/render_stage.hpp"

namespace triptych::test {

inline std::vector<std::byte> presented_pixels(pipeline::Engine& engine) {
  TripleBuffer& tb = engine.arena().triple_buffer(FrameStage::kResult);
  const std::uint32_t r = tb.indices().reader;
  EXPECT_LT(r, 3u);
  const auto zone = engine.arena().zone(static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kResultA) + r % 3));
  const auto image = render::read_result_zone(zone);
  EXPECT_TRUE(image.ok());
  if (!image) return {};
  const auto pixels = zone.subspan(image->pixel_offset, std::size_t{image->row_bytes} * image->height);
  return {pixels.begin(), pixels.end()};
}

}  // namespace triptych::test
