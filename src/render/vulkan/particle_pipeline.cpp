// SPDX-License-Identifier: Apache-2.0
// The GPU particle pull: the compute slots imported with
// VK_EXT_external_memory_host as storage buffers, the choice between it and
// the CPU layout pass (with the reason), the count pipeline
// (particle_count.comp) and the draw pipeline (particle.vert + sdf.frag) that
// both validate each untrusted record by particle_rules.glsl, and their
// recording. Creation is blocking and runs inside VulkanRenderer::create on
// the creating thread; recording runs on the render thread.
// docs/render-stage.md ("GPU particle pull").
#include <algorithm>
#include <array>
#include <cstddef>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

namespace {

constexpr std::uint32_t kParticleVert[] =
#include "triptych/render/particle.vert.spv.inc"
    ;
constexpr std::uint32_t kParticleCountComp[] =
#include "triptych/render/particle_count.comp.spv.inc"
    ;

constexpr std::uint32_t kCountGroupSize = 256;   // particle_count.comp's local_size_x
constexpr std::uint32_t kMaxCountGroups = 65535;  // the least maxComputeWorkGroupCount[0] Vulkan allows
constexpr std::uint32_t kVerticesPerParticle = 6;

}  // namespace

static_assert(sizeof(vk::PullParams) == 36 && offsetof(vk::PullParams, count) == 32,
              "PullParams mirrors particle_rules.glsl's push constant block");

Result<void> VulkanRenderer::Impl::choose_particle_path() {
  ParticlePathChoice& c = particle_choice;
  if (cfg.particle_path == ParticlePath::kCpu) {
    c = {false, "CPU layout pass (selected)"};
    return {};
  }
  std::string why;
  if (cfg.compute_slots.empty()) {
    why = "no compute slots were given to import";
  } else if (!robust_buffer_access) {
    why = "device '" + info.name + "' lacks robustBufferAccess";
  } else if (!graphics_compute) {
    why = "the graphics queue of '" + info.name + "' cannot run compute";
  }
  for (std::size_t i = 0; why.empty() && i < cfg.compute_slots.size(); ++i) {
    vk::Zone z;
    z.bytes = cfg.compute_slots[i];
    z.binding.imported = import_zone(z.bytes, VK_BUFFER_USAGE_STORAGE_BUFFER_BIT, z.gpu, z.binding.note);
    if (!z.binding.imported) why = "compute slot " + std::to_string(i) + ": " + z.binding.note;
    compute_zones.push_back(std::move(z));
  }
  if (why.empty()) {
    c = {true, "GPU pull: the shaders read the imported compute slots and validate each particle"};
    return {};
  }
  if (cfg.particle_path == ParticlePath::kGpu) {
    return make_error(Errc::kUnsupported, "the GPU particle pull is unavailable: " + why);
  }
  c = {false, "CPU layout pass: " + why};
  return {};
}

Result<void> VulkanRenderer::Impl::create_particle_pipelines() {
  if (!particle_choice.gpu) return {};
  std::array<VkDescriptorSetLayoutBinding, 2> bindings{{
      {0, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_COMPUTE_BIT, nullptr},
      {1, VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 1, VK_SHADER_STAGE_COMPUTE_BIT, nullptr},
  }};
  auto dl = vk::make<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  dl.bindingCount = static_cast<std::uint32_t>(bindings.size());
  dl.pBindings = bindings.data();
  TRIPTYCH_VK_TRY(fn.vkCreateDescriptorSetLayout(device, &dl, nullptr, &particle_set_layout));

  const auto sets = static_cast<std::uint32_t>(compute_zones.size() * fif);
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 * sets};
  auto dp = vk::make<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
  dp.maxSets = sets;
  dp.poolSizeCount = 1;
  dp.pPoolSizes = &size;
  TRIPTYCH_VK_TRY(fn.vkCreateDescriptorPool(device, &dp, nullptr, &descriptor_pool));
  const std::vector<VkDescriptorSetLayout> layouts(sets, particle_set_layout);
  auto ai = vk::make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
  ai.descriptorPool = descriptor_pool;
  ai.descriptorSetCount = sets;
  ai.pSetLayouts = layouts.data();
  particle_sets.resize(sets);
  TRIPTYCH_VK_TRY(fn.vkAllocateDescriptorSets(device, &ai, particle_sets.data()));
  for (std::uint32_t z = 0; z < compute_zones.size(); ++z) {
    for (std::uint32_t s = 0; s < fif; ++s) {
      const VkDescriptorBufferInfo particles{compute_zones[z].gpu.buffer, 0,
                                             VkDeviceSize{pull_capacity(z)} * sizeof(Particle)};
      const VkDescriptorBufferInfo counts{slots[s].counts.buffer, 0, VK_WHOLE_SIZE};
      std::array<VkWriteDescriptorSet, 2> w{};
      for (std::uint32_t b = 0; b < 2; ++b) {
        w[b] = vk::make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
        w[b].dstSet = particle_sets[z * fif + s];
        w[b].dstBinding = b;
        w[b].descriptorCount = 1;
        w[b].descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER;
        w[b].pBufferInfo = b == 0 ? &particles : &counts;
      }
      fn.vkUpdateDescriptorSets(device, static_cast<std::uint32_t>(w.size()), w.data(), 0, nullptr);
    }
  }

  VkPushConstantRange push{VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof(vk::PullParams)};
  auto pl = vk::make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  pl.setLayoutCount = 1;
  pl.pSetLayouts = &particle_set_layout;
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &push;
  TRIPTYCH_VK_TRY(fn.vkCreatePipelineLayout(device, &pl, nullptr, &particle_layout));

  auto draw = particle_draw_pipeline(render_pass);
  if (!draw) return draw.error();
  particle_pipeline = draw.value();

  auto comp = shader(kParticleCountComp);
  if (!comp) return comp.error();
  auto cp = vk::make<VkComputePipelineCreateInfo>(VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO);
  cp.stage = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_COMPUTE_BIT, comp.value(), "main", nullptr};
  cp.layout = particle_layout;
  const VkResult r = fn.vkCreateComputePipelines(device, VK_NULL_HANDLE, 1, &cp, nullptr, &count_pipeline);
  fn.vkDestroyShaderModule(device, comp.value(), nullptr);
  if (r != VK_SUCCESS) return vk::call_error("vkCreateComputePipelines", r);
  return {};
}

std::optional<std::uint32_t> VulkanRenderer::Impl::pulled_zone(std::span<const std::byte> slot) const {
  if (!particle_choice.gpu) return std::nullopt;
  for (std::uint32_t z = 0; z < compute_zones.size(); ++z) {
    const auto& bytes = compute_zones[z].bytes;
    if (slot.data() == bytes.data() && slot.size() <= bytes.size()) return z;
  }
  return std::nullopt;
}

std::uint32_t VulkanRenderer::Impl::pull_capacity(std::uint32_t zone) const {
  const VkDeviceSize bytes = std::min<VkDeviceSize>(compute_zones[zone].bytes.size(), max_storage_range);
  return static_cast<std::uint32_t>(std::min<VkDeviceSize>(bytes / sizeof(Particle), 0xFFFFFFFFu / kVerticesPerParticle));
}

vk::PullParams vk::pull_params(const LayoutParams& p, std::uint32_t count) {
  const float longest = static_cast<float>(std::max(p.width, p.height));
  vk::PullParams pp{};
  pp.viewport[0] = static_cast<float>(p.width);
  pp.viewport[1] = static_cast<float>(p.height);
  pp.origin[0] = p.origin_x;
  pp.origin[1] = p.origin_y;
  pp.scale = p.scale;
  pp.velocity_scale = p.velocity_scale;
  pp.max_size = p.max_size > 0.0F ? p.max_size : longest;
  pp.max_line = p.max_line_length > 0.0F ? p.max_line_length : 2.0F * longest;
  pp.count = count;
  return pp;
}

// Outside the render pass, before it: zero the frame slot's counters and
// count every particle's verdict.
void VulkanRenderer::Impl::record_particle_count(VkCommandBuffer cb, std::uint32_t zone, std::uint32_t slot,
                                                 std::uint32_t count) {
  fn.vkCmdFillBuffer(cb, slots[slot].counts.buffer, 0, VK_WHOLE_SIZE, 0);
  VkMemoryBarrier fill{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &fill, 0,
                          nullptr, 0, nullptr);
  if (count == 0) return;
  const vk::PullParams pp = vk::pull_params(cfg.layout, count);
  fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, count_pipeline);
  fn.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, particle_layout, 0, 1,
                             &particle_sets[zone * fif + slot], 0, nullptr);
  fn.vkCmdPushConstants(cb, particle_layout, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_COMPUTE_BIT, 0,
                        sizeof pp, &pp);
  const std::uint32_t groups = std::min(kMaxCountGroups, (count + kCountGroupSize - 1) / kCountGroupSize);
  fn.vkCmdDispatch(cb, groups, 1, 1);
}

// At the end of the render submission: the counts become visible to the
// host (the completion thread reads them once `copied` has passed).
void VulkanRenderer::Impl::record_counts_to_host(VkCommandBuffer cb) {
  VkMemoryBarrier done{VK_STRUCTURE_TYPE_MEMORY_BARRIER, nullptr, VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
                       VK_ACCESS_HOST_READ_BIT};
  fn.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                          VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &done, 0, nullptr, 0, nullptr);
}

// The pull's draw pipeline (particle_layout) for a pass compatible with `pass`.
Result<VkPipeline> VulkanRenderer::Impl::particle_draw_pipeline(VkRenderPass pass) {
  // No vertex input: particle.vert pulls from the storage buffer.
  const auto vi = vk::make<VkPipelineVertexInputStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO);
  return graphics_pipeline(kParticleVert, VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST, vi, particle_layout, pass);
}

// Inside the render pass: one non-instanced draw of six vertices per particle, in particle order.
void VulkanRenderer::Impl::record_particle_draw(VkCommandBuffer cb, VkPipeline draw_pipeline, std::uint32_t zone,
                                                std::uint32_t slot, std::uint32_t count) {
  if (count == 0) return;
  const vk::PullParams pp = vk::pull_params(cfg.layout, count);
  fn.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, draw_pipeline);
  fn.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, particle_layout, 0, 1,
                             &particle_sets[zone * fif + slot], 0, nullptr);
  fn.vkCmdPushConstants(cb, particle_layout, VK_SHADER_STAGE_VERTEX_BIT | VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pp,
                        &pp);
  fn.vkCmdDraw(cb, count * kVerticesPerParticle, 1, 0, 0);
}

}  // namespace triptych::render
