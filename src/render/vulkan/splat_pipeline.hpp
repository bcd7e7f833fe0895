// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's private state (splat_pipeline.cpp): its
// pipelines, descriptor sets and, per frame-in-flight slot, the placed
// records, tile counts, tile lists and statistics it draws through. Owned by
// VulkanRenderer::Impl; created inside create on the creating thread, used on
// the render thread, its statistics read by the completion thread after the
// frame's `copied` value has passed. docs/render-stage.md ("Compute splat renderer").
#pragma once

#include <array>
#include <vector>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render::vk {

// One frame slot's splat buffers (device-local unless said).
struct SplatSlot {
  Buffer placed;      // Instance records in draw order (GPU pull: the placed particles; layout pass: its chunks, packed)
  Buffer tile_counts; // per tile, records binned (zeroed each frame)
  Buffer tile_lists;  // per tile, list_capacity record indices
  Buffer stats;       // host-visible: overflowed tiles, longest list
  VkDescriptorSet tiles_set = VK_NULL_HANDLE;  // placed, counts, lists, stats, the slot's image
};

struct SplatState {
  RasterChoice choice;
  bool target = false;  // the colour images are storage images: splat may draw (chosen or being measured)
  std::uint32_t list_capacity = 0;  // indices per tile list, a power of two
  std::uint32_t tiles_x = 0;
  std::uint32_t tiles_y = 0;
  std::uint32_t placed_capacity = 0;  // records the placed buffers hold
  VkDescriptorSetLayout tiles_layout = VK_NULL_HANDLE;
  VkDescriptorSetLayout place_layout = VK_NULL_HANDLE;
  VkDescriptorPool pool = VK_NULL_HANDLE;
  VkPipelineLayout tiles_pipeline_layout = VK_NULL_HANDLE;
  VkPipelineLayout place_pipeline_layout = VK_NULL_HANDLE;
  VkPipeline place = VK_NULL_HANDLE;  // splat_place.comp
  VkPipeline bin = VK_NULL_HANDLE;    // splat_bin.comp
  VkPipeline shade = VK_NULL_HANDLE;  // splat_shade.comp
  std::array<SplatSlot, kMaxFramesInFlight> slots{};
  std::vector<VkDescriptorSet> place_sets;  // [compute zone * fif + slot]: slot particles, counts, placed
};

}  // namespace triptych::render::vk
