// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's private state (splat_pipeline.cpp): its
// pipelines, descriptor sets and, per frame-in-flight slot, the placed
// records, tile counts, offsets, cursors and lists, and statistics it draws through. Owned by
// VulkanRenderer::Impl; created inside create on the creating thread, used on
// the render thread, its statistics read by the completion thread after the
// frame's `copied` value has passed. docs/render-stage.md ("Compute splat renderer").
#pragma once

#include <array>
#include <string>
#include <vector>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render::vk {

// One frame slot's splat buffers (device-local unless said).
struct SplatSlot {
  Buffer placed;      // Instance records in draw order (GPU pull: the placed particles; layout pass: its chunks, packed)
  Buffer tile_counts;   // per tile, records binned (zeroed each frame)
  Buffer tile_entries;  // every tile's record indices, tile after tile (entry_capacity of them)
  Buffer tile_offsets;  // per tile, where its list starts, or kNoRoom
  Buffer tile_cursors;  // per tile, entries filled (zeroed each frame)
  Buffer stats;         // host-visible: tiles without room, scanned instead
  VkDescriptorSet tiles_set = VK_NULL_HANDLE;  // placed, counts, entries, stats, the slot's image, offsets, cursors
};

struct SplatState {
  RasterChoice choice;
  bool target = false;  // the colour images are storage images: splat may draw (chosen or being measured)
  std::uint32_t shared_list = 0;     // the longest tile list sorted in shared memory, a power of two
  std::uint32_t entry_capacity = 0;  // tile list entries, all tiles together
  std::uint32_t tiles_x = 0;
  std::uint32_t tiles_y = 0;
  std::uint32_t placed_capacity = 0;  // records the placed buffers hold
  VkDescriptorSetLayout tiles_layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout place_layout = VK_NULL_HANDLE;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  VkPipelineLayout tiles_pipeline_layout = VK_NULL_HANDLE;
  VkPipelineLayout place_pipeline_layout = VK_NULL_HANDLE;
  VkPipeline place = VK_NULL_HANDLE;  // splat_place.comp
  VkPipeline bin = VK_NULL_HANDLE;    // splat_bin.comp, counting
  VkPipeline fill = VK_NULL_HANDLE;   // splat_bin.comp, filling the lists
  VkPipeline scan = VK_NULL_HANDLE;   // splat_scan.comp
  VkPipeline shade = VK_NULL_HANDLE;  // splat_shade.comp
  std::array<SplatSlot, kMaxFramesInFlight> slots{};
  std::vector<VkDescriptorSet> place_sets;  // [compute zone * fif + slot]: slot particles, counts, placed

  // Its geometry in words, for the raster choice's reason.
  [[nodiscard]] std::string describe() const {
    return "16x16 tiles, " + std::to_string(entry_capacity) + " list entries, lists up to " +
           std::to_string(shared_list) + " sorted in shared memory";
  }
};

}  // namespace triptych::render::vk
