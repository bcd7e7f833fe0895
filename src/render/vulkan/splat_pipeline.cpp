// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer: the second way particles become pixels, with
// compute shaders only (no vertex or fragment stage, so it runs on every SM of
// a GPU whose graphics units are few). Per frame: the placed records (the GPU
// pull's splat_place.comp, or the layout pass's chunks copied and packed), then
// splat_bin.comp bins them into 16 x 16 tiles and splat_shade.comp sorts each
// tile's list and blends in record order into the slot's colour image, which
// it leaves as the render pass does (TRANSFER_SRC_OPTIMAL), so the copy, the
// result zones and a presenter are unchanged. Also the choice between it and
// the raster quads (--raster), with auto's start-up measurement. Creation is
// blocking and runs inside VulkanRenderer::create on the creating thread;
// recording runs on the render thread; the completion thread reads a slot's
// statistics after its `copied` value. docs/render-stage.md ("Compute splat renderer").
#include "render/vulkan/splat_pipeline.hpp"

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <limits>
#include <span>

namespace triptych::render {

namespace {

constexpr std::uint32_t kSplatPlaceComp[] =
#include "triptych/render/splat_place.comp.spv.inc"
    ;
constexpr std::uint32_t kSplatBinComp[] =
#include "triptych/render/splat_bin.comp.spv.inc"
    ;
constexpr std::uint32_t kSplatShadeComp[] =
#include "triptych/render/splat_shade.comp.spv.inc"
    ;
constexpr std::uint32_t kSplatScanComp[] =
#include "triptych/render/splat_scan.comp.spv.inc"
    ;

constexpr std::uint32_t kTileSize = 16;            // splat_tile.glsl's kTileSize
constexpr std::uint32_t kGroupSize = 256;          // splat_place.comp's and splat_bin.comp's local_size_x
constexpr std::uint32_t kMaxGroups = 65535;        // the least maxComputeWorkGroupCount[0] Vulkan allows
constexpr std::uint32_t kMaxSharedList = 8192;     // the longest list sorted in shared memory (32 KiB)
constexpr std::uint32_t kShadeSharedExtra = 8192 + 64;  // splat_shade.comp's shared bytes beside its keys (its batch)
constexpr std::uint64_t kEntriesPerRecord = 8;     // tile list entries by default: per record ...
constexpr std::uint64_t kEntriesPerTile = 256;     // ... or per tile, whichever is more
constexpr std::uint32_t kImageBinding = 4;          // splat_tile.glsl's bindings: 4 is the image,
constexpr std::uint32_t kTileBindings = 7;          // the rest buffers
constexpr std::uint32_t kTrialMaxRecords = 1u << 20;  // auto's measurement draws at most this many
constexpr int kTrialRuns = 3;                      // timed runs of each path (the fastest counts), after one warm-up

// splat_tile.glsl's push constants, byte for byte.
struct SplatParams {
  float clear[4];
  std::uint32_t extent[2];
  std::uint32_t tiles_x;
  std::uint32_t count;
  std::uint32_t tiles;
  std::uint32_t entry_capacity;
};
static_assert(sizeof(SplatParams) == 40 && offsetof(SplatParams, entry_capacity) == 36,
              "SplatParams mirrors splat_tile.glsl's push constant block");

std::uint32_t groups_for(std::uint32_t records) {
  return std::min(kMaxGroups, (records + kGroupSize - 1) / kGroupSize);
}

VkMemoryBarrier memory_barrier(VkAccessFlags src, VkAccessFlags dst) {
  return {VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, src, dst};
}

std::string millis(std::int64_t ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f ms", static_cast<double>(ns) * 1e-6);
  return text;
}

}  // namespace

bool VulkanRenderer::Impl::splat_active() const noexcept { return splat != nullptr && splat->choice.splat; }
bool VulkanRenderer::Impl::splat_target() const noexcept { return splat != nullptr && splat->target; }

Result<void> VulkanRenderer::Impl::prepare_splat() {
  splat = std::make_unique<vk::SplatState>();
  vk::SplatState& sp = *splat;
  if (cfg.raster == RasterPath::kQuads) {
    sp.choice = {false, "raster quads (selected)"};
    return {};
  }
  if (cfg.raster == RasterPath::kAuto && info.type == "cpu" && !cfg.raster_trial_on_cpu) {
    sp.choice = {false, "raster quads: auto on a software rasteriser (" + info.name +
                            ") takes quads without measuring (measured faster there, docs/BENCHMARKS.md)"};
    return {};
  }
  sp.tiles_x = (cfg.layout.width + kTileSize - 1) / kTileSize;
  sp.tiles_y = (cfg.layout.height + kTileSize - 1) / kTileSize;
  sp.placed_capacity = max_capacity;
  if (particle_choice.gpu) {
    for (std::uint32_t z = 0; z < compute_zones.size(); ++z) sp.placed_capacity = std::max(sp.placed_capacity, pull_capacity(z));
  }
  VkPhysicalDeviceProperties props{};
  ctx.fns.vkGetPhysicalDeviceProperties(physical, &props);
  const std::uint64_t tiles = std::uint64_t{sp.tiles_x} * sp.tiles_y;
  std::uint32_t fits = kMaxSharedList;
  while (fits > 0 && std::uint64_t{fits} * 4 + kShadeSharedExtra > props.limits.maxComputeSharedMemorySize) fits >>= 1;
  const std::uint64_t most_entries = std::min<std::uint64_t>(max_storage_range / 4, 0xFFFFFFFEu);
  std::uint64_t entries = std::max(kEntriesPerRecord * sp.placed_capacity, kEntriesPerTile * tiles);
  entries = std::min(entries, most_entries);
  std::string why;
  if (!graphics_compute) {
    why = "the graphics queue of '" + info.name + "' cannot run compute";
  } else if (VkDeviceSize{sp.placed_capacity} * sizeof(Instance) > max_storage_range) {
    why = std::to_string(sp.placed_capacity) + " records exceed one storage buffer range of '" + info.name + "'";
  } else if (fits == 0 || tiles * 4 > max_storage_range) {
    why = "'" + info.name + "' has too little shared memory or storage range for the tiles";
  }
  if (why.empty() && cfg.splat_tile_list != 0) {
    if (!std::has_single_bit(cfg.splat_tile_list) || cfg.splat_tile_list > fits) {
      return make_error(Errc::kInvalidArgument, "splat_tile_list must be a power of two at most " + std::to_string(fits) +
                                                    " on '" + info.name + "', not " + std::to_string(cfg.splat_tile_list));
    }
    fits = cfg.splat_tile_list;
  }
  if (why.empty() && cfg.splat_entries != 0) {
    if (cfg.splat_entries > most_entries) {
      return make_error(Errc::kInvalidArgument, "splat_entries must be at most " + std::to_string(most_entries) + " on '" +
                                                    info.name + "', not " + std::to_string(cfg.splat_entries));
    }
    entries = cfg.splat_entries;
  }
  if (!why.empty()) {
    if (cfg.raster == RasterPath::kSplat) {
      return make_error(Errc::kUnsupported, "the compute splat renderer is unavailable: " + why);
    }
    sp.choice = {false, "raster quads: the compute splat renderer is unavailable: " + why};
    return {};
  }
  sp.shared_list = fits;
  sp.entry_capacity = static_cast<std::uint32_t>(entries);
  sp.target = true;
  return {};
}

Result<void> VulkanRenderer::Impl::create_splat() {
  if (!splat_target()) return {};
  vk::SplatState& sp = *splat;
  constexpr VkShaderStageFlags kCompute = VK_SHADER_STAGE_COMPUTE_BIT;
  std::array<VkDescriptorSetLayoutBinding, kTileBindings> tile_bindings{};
  for (std::uint32_t b = 0; b < kTileBindings; ++b) {
    tile_bindings[b] = {b, b == kImageBinding ? VK_DESCRIPTOR_TYPE_STORAGE_IMAGE : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1,
                        kCompute, nullptr};
  }
  const std::array<VkDescriptorSetLayoutBinding, 3> place_bindings{{
      {0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, kCompute, nullptr},
      {1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, kCompute, nullptr},
      {2, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, kCompute, nullptr},
  }};
  auto dl = vk::make<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  dl.bindingCount = static_cast<std::uint32_t>(tile_bindings.size());
  dl.pBindings = tile_bindings.data();
  TRIPTYCH_VK_TRY(fn.vkCreateDescriptorSetLayout(device, &dl, nullptr, &sp.tiles_layout));
  dl.bindingCount = static_cast<std::uint32_t>(place_bindings.size());
  dl.pBindings = place_bindings.data();
  TRIPTYCH_VK_TRY(fn.vkCreateDescriptorSetLayout(device, &dl, nullptr, &sp.place_layout));

  const std::uint32_t place_sets = particle_choice.gpu ? static_cast<std::uint32_t>(compute_zones.size()) * fif : 0;
  const std::array<VkDescriptorPoolSize, 2> sizes{{
      {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, (kTileBindings - 1) * fif + 3 * place_sets},
      {VK_DESCRIPTOR_TYPE_STORAGE_IMAGE, fif},
  }};
  auto dp = vk::make<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
  dp.maxSets = fif + place_sets;
  dp.poolSizeCount = static_cast<std::uint32_t>(sizes.size());
  dp.pPoolSizes = sizes.data();
  TRIPTYCH_VK_TRY(fn.vkCreateDescriptorPool(device, &dp, nullptr, &sp.pool));

  for (std::uint32_t s = 0; s < fif; ++s) {
    if (auto r = create_splat_slot(s); !r) return r;
  }
  // Per (compute zone, frame slot): the GPU pull's particles, counters and this slot's placed records.
  if (place_sets > 0) {
    const std::vector<VkDescriptorSetLayout> layouts(place_sets, sp.place_layout);
    auto ai = vk::make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
    ai.descriptorPool = sp.pool;
    ai.descriptorSetCount = place_sets;
    ai.pSetLayouts = layouts.data();
    sp.place_sets.resize(place_sets);
    TRIPTYCH_VK_TRY(fn.vkAllocateDescriptorSets(device, &ai, sp.place_sets.data()));
    for (std::uint32_t z = 0; z < compute_zones.size(); ++z) {
      for (std::uint32_t s = 0; s < fif; ++s) {
        const std::array<VkDescriptorBufferInfo, 3> buffers{{
            {compute_zones[z].gpu.buffer, 0, VkDeviceSize{pull_capacity(z)} * sizeof(Particle)},
            {slots[s].counts.buffer, 0, VK_WHOLE_SIZE},
            {sp.slots[s].placed.buffer, 0, VK_WHOLE_SIZE},
        }};
        std::array<VkWriteDescriptorSet, 3> w{};
        for (std::uint32_t b = 0; b < w.size(); ++b) {
          w[b] = vk::make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
          w[b].dstSet = sp.place_sets[z * fif + s];
          w[b].dstBinding = b;
          w[b].descriptorCount = 1;
          w[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
          w[b].pBufferInfo = &buffers[b];
        }
        fn.vkUpdateDescriptorSets(device, static_cast<std::uint32_t>(w.size()), w.data(), 0, nullptr);
      }
    }
  }

  VkPushConstantRange push{kCompute, 0, sizeof(SplatParams)};
  auto pl = vk::make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &sp.tiles_layout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &push;
  TRIPTYCH_VK_TRY(fn.vkCreatePipelineLayout(device, &pl, nullptr, &sp.tiles_pipeline_layout));
  push.size = sizeof(vk::PullParams);
  pl.pSetLayouts = &sp.place_layout;
  TRIPTYCH_VK_TRY(fn.vkCreatePipelineLayout(device, &pl, nullptr, &sp.place_pipeline_layout));

  // Specialization constants: 0, the longest list sorted in shared memory
  // (splat_tile.glsl); 1, whether splat_bin.comp fills the lists (else counts).
  struct Specialization {
    std::uint32_t shared_list;
    VkBool32 fill;
  };
  const std::array<VkSpecializationMapEntry, 2> entries{{
      {0, offsetof(Specialization, shared_list), sizeof(std::uint32_t)},
      {1, offsetof(Specialization, fill), sizeof(VkBool32)},
  }};
  const Specialization counting{sp.shared_list, VK_FALSE};
  const Specialization filling{sp.shared_list, VK_TRUE};
  const VkSpecializationInfo count_spec{2, entries.data(), sizeof counting, &counting};
  const VkSpecializationInfo fill_spec{2, entries.data(), sizeof filling, &filling};
  auto compute_pipeline = [&](std::span<const std::uint32_t> words, VkPipelineLayout layout,
                              const VkSpecializationInfo* spec, VkPipeline& out) -> Result<void> {
    auto module = shader(words);
    if (!module) return module.error();
    auto cp = vk::make<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
    cp.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT,
                module.value(), "main", spec};
    cp.layout = layout;
    const VkResult r = fn.vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &cp, nullptr, &out);
    fn.vkDestroyShaderModule(device, module.value(), nullptr);
    if (r != VK_SUCCESS) return vk::call_error("vkCreateComputePipelines", r);
    return {};
  };
  if (auto r = compute_pipeline(kSplatBinComp, sp.tiles_pipeline_layout, &count_spec, sp.bin); !r) return r;
  if (auto r = compute_pipeline(kSplatBinComp, sp.tiles_pipeline_layout, &fill_spec, sp.fill); !r) return r;
  if (auto r = compute_pipeline(kSplatScanComp, sp.tiles_pipeline_layout, &count_spec, sp.scan); !r) return r;
  if (auto r = compute_pipeline(kSplatShadeComp, sp.tiles_pipeline_layout, &count_spec, sp.shade); !r) return r;
  if (particle_choice.gpu) {
    if (auto r = compute_pipeline(kSplatPlaceComp, sp.place_pipeline_layout, nullptr, sp.place); !r) return r;
  }
  if (cfg.raster == RasterPath::kSplat) {
    sp.choice = {true, "compute splat (selected; " + sp.describe() + ")"};
    return {};
  }
  if (auto measured = measure_raster_paths(); !measured) {
    // auto still has the quads: keep them, and say why.
    destroy_splat();
    splat = std::make_unique<vk::SplatState>();
    splat->choice = {false, "raster quads: auto's measurement failed: " + measured.error().message};
  }
  return {};
}

// One frame slot's buffers (placed records, tile counts, offsets, cursors,
// lists, statistics) and its tiles descriptor set.
Result<void> VulkanRenderer::Impl::create_splat_slot(std::uint32_t s) {
  vk::SplatState& sp = *splat;
  const VkDeviceSize tiles = VkDeviceSize{sp.tiles_x} * sp.tiles_y;
  constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  vk::SplatSlot& ss = sp.slots[s];
  // Vertex use too: auto's measurement draws the same records as quads.
  if (auto r = create_buffer(VkDeviceSize{std::max(sp.placed_capacity, 1U)} * sizeof(Instance),
                             VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT |
                                 VK_BUFFER_USAGE_VERTEX_BUFFER_BIT,
                             VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, false, ss.placed);
      !r) {
    return r;
  }
  for (vk::Buffer* per_tile : {&ss.tile_counts, &ss.tile_offsets, &ss.tile_cursors}) {
    if (auto r = create_buffer(tiles * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                               VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, false, *per_tile);
        !r) {
      return r;
    }
  }
  if (auto r = create_buffer(VkDeviceSize{sp.entry_capacity} * 4, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT,
                             VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0, false, ss.tile_entries);
      !r) {
    return r;
  }
  if (auto r = create_buffer(sizeof(std::uint32_t), VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             kHost, kHost, true, ss.stats);
      !r) {
    return r;
  }
  auto ai = vk::make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
  ai.descriptorPool = sp.pool;
  ai.descriptorSetCount = 1;
  ai.pSetLayouts = &sp.tiles_layout;
  TRIPTYCH_VK_TRY(fn.vkAllocateDescriptorSets(device, &ai, &ss.tiles_set));
  const std::array<VkDescriptorBufferInfo, kTileBindings> buffers{{
      {ss.placed.buffer, 0, VK_WHOLE_SIZE},
      {ss.tile_counts.buffer, 0, VK_WHOLE_SIZE},
      {ss.tile_entries.buffer, 0, VK_WHOLE_SIZE},
      {ss.stats.buffer, 0, VK_WHOLE_SIZE},
      {},
      {ss.tile_offsets.buffer, 0, VK_WHOLE_SIZE},
      {ss.tile_cursors.buffer, 0, VK_WHOLE_SIZE},
  }};
  const VkDescriptorImageInfo image{VK_NULL_HANDLE, slots[s].view, VK_IMAGE_LAYOUT_GENERAL};
  std::array<VkWriteDescriptorSet, kTileBindings> w{};
  for (std::uint32_t b = 0; b < w.size(); ++b) {
    w[b] = vk::make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
    w[b].dstSet = ss.tiles_set;
    w[b].dstBinding = b;
    w[b].descriptorCount = 1;
    w[b].descriptorType = b == kImageBinding ? VK_DESCRIPTOR_TYPE_STORAGE_IMAGE : VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
    if (b == kImageBinding) {
      w[b].pImageInfo = &image;
    } else {
      w[b].pBufferInfo = &buffers[b];
    }
  }
  fn.vkUpdateDescriptorSets(device, static_cast<std::uint32_t>(w.size()), w.data(), 0, nullptr);
  return {};
}

void VulkanRenderer::Impl::destroy_splat() {
  if (splat == nullptr || device == VK_NULL_HANDLE) return;
  vk::SplatState& sp = *splat;
  for (vk::SplatSlot& ss : sp.slots) {
    for (vk::Buffer* b : {&ss.placed, &ss.tile_counts, &ss.tile_entries, &ss.tile_offsets, &ss.tile_cursors, &ss.stats}) {
      if (b->buffer != VK_NULL_HANDLE) fn.vkDestroyBuffer(device, b->buffer, nullptr);
      if (b->memory != VK_NULL_HANDLE) fn.vkFreeMemory(device, b->memory, nullptr);
      *b = vk::Buffer{};
    }
  }
  for (VkPipeline p : {sp.place, sp.bin, sp.fill, sp.scan, sp.shade}) {
    if (p != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, p, nullptr);
  }
  for (VkPipelineLayout l : {sp.tiles_pipeline_layout, sp.place_pipeline_layout}) {
    if (l != VK_NULL_HANDLE) fn.vkDestroyPipelineLayout(device, l, nullptr);
  }
  if (sp.pool != VK_NULL_HANDLE) fn.vkDestroyDescriptorPool(device, sp.pool, nullptr);
  for (VkDescriptorSetLayout l : {sp.tiles_layout, sp.place_layout}) {
    if (l != VK_NULL_HANDLE) fn.vkDestroyDescriptorSetLayout(device, l, nullptr);
  }
  splat.reset();
}

// Zeroes the slot's tile counts and statistics, bins `count` placed records,
// shades every tile into the slot's image and leaves it TRANSFER_SRC_OPTIMAL.
// The placed records' writes (a copy or a shader) come before it in `cb`.
void VulkanRenderer::Impl::record_splat_tiles(VkCommandBuffer cb, std::uint32_t slot, std::uint32_t count) {
  const vk::SplatState& sp = *splat;
  const vk::SplatSlot& ss = sp.slots[slot];
  for (const vk::Buffer* zeroed : {&ss.tile_counts, &ss.tile_cursors, &ss.stats}) {
    fn.vkCmdFillBuffer(cb, zeroed->buffer, 0, VK_WHOLE_SIZE, 0);
  }
  const VkMemoryBarrier inputs = memory_barrier(VK_ACCESS_TRANSFER_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT,
                                                VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &inputs, 0, nullptr, 0, nullptr);
  SplatParams params{};
  std::memcpy(params.clear, cfg.clear_color.data(), sizeof params.clear);
  params.extent[0] = cfg.layout.width;
  params.extent[1] = cfg.layout.height;
  params.tiles_x = sp.tiles_x;
  params.count = count;
  params.tiles = sp.tiles_x * sp.tiles_y;
  params.entry_capacity = sp.entry_capacity;
  fn.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, sp.tiles_pipeline_layout, 0, 1, &ss.tiles_set, 0,
                             nullptr);
  fn.vkCmdPushConstants(cb, sp.tiles_pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof params, &params);
  // Count, place every tile's list, fill them: each pass reads what the one before wrote.
  const VkMemoryBarrier written = memory_barrier(VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT |
                                                                                  VK_ACCESS_SHADER_WRITE_BIT);
  auto pass = [&](VkPipeline p, std::uint32_t groups) {
    fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    fn.vkCmdDispatch(cb, groups, 1, 1);
    fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1,
                            &written, 0, nullptr, 0, nullptr);
  };
  if (count > 0) pass(sp.bin, groups_for(count));
  pass(sp.scan, 1);
  if (count > 0) pass(sp.fill, groups_for(count));
  // The lists are complete before shading (above); the image's last reader
  // (the previous ticket's copy, which submit waited for) is done, so its
  // old contents may be dropped.
  const VkMemoryBarrier binned = memory_barrier(VK_ACCESS_SHADER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT);
  auto to_general = vk::make<VkImageMemoryBarrier>(VK_STRUCTURE_TYPE_IMAGE_MEMORY_BARRIER);
  to_general.srcAccessMask = 0;
  to_general.dstAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  to_general.oldLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  to_general.newLayout = VK_IMAGE_LAYOUT_GENERAL;
  to_general.srcQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_general.dstQueueFamilyIndex = VK_QUEUE_FAMILY_IGNORED;
  to_general.image = slots[slot].image;
  to_general.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                          VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &binned, 0, nullptr, 1, &to_general);
  fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, sp.shade);
  fn.vkCmdDispatch(cb, sp.tiles_x, sp.tiles_y, 1);
  // As the render pass leaves it: ready for the readback copy or a presenter.
  auto to_copy = to_general;
  to_copy.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
  to_copy.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
  to_copy.oldLayout = VK_IMAGE_LAYOUT_GENERAL;
  to_copy.newLayout = VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                          nullptr, 1, &to_copy);
}

void VulkanRenderer::Impl::record_splat(VkCommandBuffer cb, std::uint32_t slot, const vk::Zone& lz, const Draw& draw) {
  const vk::SplatState& sp = *splat;
  const vk::SplatSlot& ss = sp.slots[slot];
  std::uint32_t records = 0;
  if (draw.pulled_zone) {
    // The GPU pull: every particle placed once at its own index, and counted.
    fn.vkCmdFillBuffer(cb, slots[slot].counts.buffer, 0, VK_WHOLE_SIZE, 0);
    const VkMemoryBarrier fill = memory_barrier(VK_ACCESS_TRANSFER_WRITE_BIT,
                                                VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT);
    fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &fill, 0,
                            nullptr, 0, nullptr);
    if (draw.count > 0) {
      const vk::PullParams pp = vk::pull_params(cfg.layout, draw.count);
      fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, sp.place);
      fn.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, sp.place_pipeline_layout, 0, 1,
                                 &sp.place_sets[*draw.pulled_zone * fif + slot], 0, nullptr);
      fn.vkCmdPushConstants(cb, sp.place_pipeline_layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pp, &pp);
      fn.vkCmdDispatch(cb, groups_for(draw.count), 1, 1);
    }
    records = draw.count;
  } else if (draw.layout != nullptr && draw.layout->instance_count > 0) {
    // The layout pass's chunks, packed in chunk order (which is particle order).
    std::array<VkBufferCopy, kMaxLayoutChunks> regions{};
    std::uint32_t n = 0;
    const VkDeviceSize base = lz.binding.imported ? kZonePayloadOffset : 0;
    for (std::uint32_t c = 0; c < draw.layout->chunk_count; ++c) {
      const LayoutChunk& chunk = draw.layout->chunks[c];
      if (chunk.count == 0) continue;
      regions[n++] = {base + VkDeviceSize{chunk.first} * sizeof(Instance), VkDeviceSize{records} * sizeof(Instance),
                      VkDeviceSize{chunk.count} * sizeof(Instance)};
      records += chunk.count;
    }
    const VkBuffer source = lz.binding.imported ? lz.gpu.buffer : slots[slot].vertices.buffer;
    fn.vkCmdCopyBuffer(cb, source, ss.placed.buffer, n, regions.data());
  }
  record_splat_tiles(cb, slot, records);
  record_counts_to_host(cb);
}

void VulkanRenderer::Impl::read_splat_stats(std::uint32_t slot, FrameInfo& frame) const {
  std::uint32_t overflow = 0;
  std::memcpy(&overflow, splat->slots[slot].stats.mapped, sizeof overflow);
  frame.splat_overflow_tiles = overflow;
}

// auto: draws the same synthetic records both ways on frame slot 0 (before
// any frame) and keeps the faster; the measurement and its figures are the
// reason. Small circles spread over the target, as a particle scene is.
Result<void> VulkanRenderer::Impl::measure_raster_paths() {
  vk::SplatState& sp = *splat;
  const std::uint32_t records = std::min(std::max(sp.placed_capacity, 1U), kTrialMaxRecords);
  constexpr VkMemoryPropertyFlags kHost = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
  vk::Buffer upload;
  if (auto r = create_buffer(VkDeviceSize{records} * sizeof(Instance), VK_BUFFER_USAGE_TRANSFER_SRC_BIT, kHost, kHost,
                             true, upload);
      !r) {
    return r;
  }
  auto* out = static_cast<Instance*>(upload.mapped);
  std::uint32_t seed = 0x9E3779B9u;
  auto next = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 17;
    seed ^= seed << 5;
    return seed;
  };
  for (std::uint32_t i = 0; i < records; ++i) {
    Instance in{};
    in.ax = static_cast<float>(next() % cfg.layout.width);
    in.ay = static_cast<float>(next() % cfg.layout.height);
    in.bx = in.by = 1.5F + static_cast<float>(next() % 5) * 0.5F;
    in.rgba = (next() & 0x00FFFFFFu) | 0xC0000000u;
    in.shape = 0;
    out[i] = in;
  }
  vk::Slot& s = slots[0];
  const vk::Buffer& placed = sp.slots[0].placed;
  auto run = [&](auto&& record) -> Result<std::int64_t> {
    const auto begin = [] {
      auto b = vk::make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
      b.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      return b;
    }();
    TRIPTYCH_VK_TRY(fn.vkResetCommandBuffer(s.render_cb, 0));
    TRIPTYCH_VK_TRY(fn.vkBeginCommandBuffer(s.render_cb, &begin));
    record(s.render_cb);
    TRIPTYCH_VK_TRY(fn.vkEndCommandBuffer(s.render_cb));
    auto si = vk::make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
    si.commandBufferCount = 1;
    si.pCommandBuffers = &s.render_cb;
    const std::int64_t start = now_ns();
    TRIPTYCH_VK_TRY(fn.vkQueueSubmit(graphics_queue, 1, &si, VK_NULL_HANDLE));
    TRIPTYCH_VK_TRY(fn.vkDeviceWaitIdle(device));
    return now_ns() - start;
  };
  auto fail_trial = [&](Error e) {
    fn.vkDestroyBuffer(device, upload.buffer, nullptr);
    fn.vkFreeMemory(device, upload.memory, nullptr);
    return e;
  };
  auto loaded = run([&](VkCommandBuffer cb) {
    const VkBufferCopy all{0, 0, VkDeviceSize{records} * sizeof(Instance)};
    fn.vkCmdCopyBuffer(cb, upload.buffer, placed.buffer, 1, &all);
    const VkMemoryBarrier landed = memory_barrier(VK_ACCESS_TRANSFER_WRITE_BIT,
                                                  VK_ACCESS_VERTEX_ATTRIBUTE_READ_BIT | VK_ACCESS_SHADER_READ_BIT);
    fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT,
                            VK_PIPELINE_STAGE_VERTEX_INPUT_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &landed,
                            0, nullptr, 0, nullptr);
  });
  if (!loaded) return fail_trial(loaded.error());
  auto quads = [&](VkCommandBuffer cb) {
    begin_render_pass(cb, s);
    fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline);
    const std::array<float, 2> viewport{static_cast<float>(cfg.layout.width), static_cast<float>(cfg.layout.height)};
    fn.vkCmdPushConstants(cb, pipeline_layout, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof viewport, viewport.data());
    const VkDeviceSize offset = 0;
    fn.vkCmdBindVertexBuffers(cb, 0, 1, &placed.buffer, &offset);
    fn.vkCmdDraw(cb, 4, records, 0, 0);
    fn.vkCmdEndRenderPass(cb);
  };
  auto splats = [&](VkCommandBuffer cb) { record_splat_tiles(cb, 0, records); };
  std::int64_t best_quads = std::numeric_limits<std::int64_t>::max();
  std::int64_t best_splat = best_quads;
  for (int i = 0; i <= kTrialRuns; ++i) {  // run 0 warms both up
    auto q = run(quads);
    if (!q) return fail_trial(q.error());
    auto p = run(splats);
    if (!p) return fail_trial(p.error());
    if (i > 0) {
      best_quads = std::min(best_quads, q.value());
      best_splat = std::min(best_splat, p.value());
    }
  }
  fn.vkDestroyBuffer(device, upload.buffer, nullptr);
  fn.vkFreeMemory(device, upload.memory, nullptr);
  const bool splat_wins = best_splat < best_quads;
  RasterChoice choice;
  choice.splat = splat_wins;
  choice.why = std::string(splat_wins ? "compute splat" : "raster quads") + ": auto measured compute splat " +
                  millis(best_splat) + " against raster quads " + millis(best_quads) + " for " +
                  std::to_string(records) + " particles at " + std::to_string(cfg.layout.width) + "x" +
                  std::to_string(cfg.layout.height) + " on " + info.name +
                  (splat_wins ? " (" + sp.describe() + ")" : "");
  if (!splat_wins) destroy_splat();  // its buffers would only take memory
  if (splat == nullptr) splat = std::make_unique<vk::SplatState>();
  splat->choice = std::move(choice);
  return {};
}

}  // namespace triptych::render
