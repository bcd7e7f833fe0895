// SPDX-License-Identifier: Apache-2.0
// The render passes (the renderer's own image; a presenter's swapchain format
// for direct draw, built at set_presenter) and the layout pass's graphics pipeline: instanced SDF
// quads (src/render/shaders/quad.vert, sdf.frag, embedded as SPIR-V at build
// time) blended straight-alpha "over" into the RGBA8 colour image, which the
// pass leaves ready for the readback copy or a presenter; graphics_pipeline()
// is shared with the GPU particle pull (particle_pipeline.cpp). Blocking; runs once,
// inside VulkanRenderer::create, on the creating thread.
// docs/render-stage.md ("Drawing").
#include <cstddef>

#include "render/vulkan/renderer_impl.hpp"

namespace triptych::render {

namespace {

constexpr std::uint32_t kQuadVert[] =
#include "triptych/render/quad.vert.spv.inc"
    ;
constexpr std::uint32_t kSdfFrag[] =
#include "triptych/render/sdf.frag.spv.inc"
    ;

}  // namespace

Result<VkShaderModule> VulkanRenderer::Impl::shader(std::span<const std::uint32_t> words) {
  auto ci = vk::make<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
  ci.codeSize = words.size_bytes();
  ci.pCode = words.data();
  VkShaderModule m = VK_NULL_HANDLE;
  TRIPTYCH_VK_TRY(fn.vkCreateShaderModule(device, &ci, nullptr, &m));
  return m;
}

// One colour attachment of `format`, cleared. The renderer's own image ends
// ready for the readback copy or a presenter's blit; a swapchain image drawn
// directly ends as a colour attachment, for the presenter's HUD and present.
Result<VkRenderPass> VulkanRenderer::Impl::color_pass(VkFormat format, bool swapchain_image) {
  VkAttachmentDescription color{};
  color.format = format;
  color.samples = VK_SAMPLE_COUNT_1_BIT;
  color.loadOp = VK_ATTACHMENT_LOAD_OP_CLEAR;
  color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  color.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  color.finalLayout = swapchain_image ? VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL : VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL;
  VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription sub{};
  sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  sub.colorAttachmentCount = 1;
  sub.pColorAttachments = &ref;
  std::array<VkSubpassDependency, 2> deps{};
  // The previous frame's copy out of this image (another submission) ends before we clear it.
  deps[0] = {VK_SUBPASS_EXTERNAL, 0, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT,
             0, VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, 0};
  // Our writes are done before the copy (or a presenter's blit) reads the image.
  deps[1] = {0, VK_SUBPASS_EXTERNAL, VK_PIPELINE_STAGE_COLOR_ATTACHMENT_OUTPUT_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT,
             VK_ACCESS_COLOR_ATTACHMENT_WRITE_BIT, VK_ACCESS_TRANSFER_READ_BIT, 0};
  // A swapchain image: the pass must match the presenter's framebuffers' (the
  // HUD's); the render waits on the acquire semaphore at colour output, which
  // this dependency chains to, and the readback blit after it has its own barrier.
  if (swapchain_image) deps[0] = vk::swapchain_pass_dependency();
  auto rp = vk::make<VkRenderPassCreateInfo>(VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO);
  rp.attachmentCount = 1;
  rp.pAttachments = &color;
  rp.subpassCount = 1;
  rp.pSubpasses = &sub;
  rp.dependencyCount = swapchain_image ? 1U : static_cast<std::uint32_t>(deps.size());
  rp.pDependencies = deps.data();
  VkRenderPass out = VK_NULL_HANDLE;
  TRIPTYCH_VK_TRY(fn.vkCreateRenderPass(device, &rp, nullptr, &out));
  return out;
}

Result<void> VulkanRenderer::Impl::create_render_pass() {
  auto pass = color_pass(vk::kColorFormat, false);
  if (!pass) return pass.error();
  render_pass = pass.value();
  return {};
}

Result<void> VulkanRenderer::Impl::create_direct(VkFormat format) {
  destroy_direct();
  VkFormatProperties props{};
  ctx.fns.vkGetPhysicalDeviceFormatProperties(physical, format, &props);
  if ((props.optimalTilingFeatures & VK_FORMAT_FEATURE_COLOR_ATTACHMENT_BLEND_BIT) == 0) {
    return make_error(Errc::kUnsupported, "the swapchain's format cannot be a blended colour attachment");
  }
  auto pass = color_pass(format, true);
  if (!pass) return pass.error();
  direct_pass = pass.value();
  auto p = quad_pipeline(direct_pass);
  if (!p) {
    destroy_direct();
    return p.error();
  }
  direct_pipeline = p.value();
  if (particle_layout != VK_NULL_HANDLE) {
    auto pull = particle_draw_pipeline(direct_pass);
    if (!pull) {
      destroy_direct();
      return pull.error();
    }
    direct_particle_pipeline = pull.value();
  }
  return {};
}

void VulkanRenderer::Impl::destroy_direct() noexcept {
  if (direct_particle_pipeline != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, direct_particle_pipeline, nullptr);
  if (direct_pipeline != VK_NULL_HANDLE) fn.vkDestroyPipeline(device, direct_pipeline, nullptr);
  if (direct_pass != VK_NULL_HANDLE) fn.vkDestroyRenderPass(device, direct_pass, nullptr);
  direct_particle_pipeline = VK_NULL_HANDLE;
  direct_pipeline = VK_NULL_HANDLE;
  direct_pass = VK_NULL_HANDLE;
}

Result<void> VulkanRenderer::Impl::create_pipeline() {
  VkPushConstantRange push{VK_SHADER_STAGE_VERTEX_BIT, 0, 2 * sizeof(float)};
  auto pl = vk::make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  pl.pushConstantRangeCount = 1;
  pl.pPushConstantRanges = &push;
  TRIPTYCH_VK_TRY(fn.vkCreatePipelineLayout(device, &pl, nullptr, &pipeline_layout));
  auto p = quad_pipeline(render_pass);
  if (!p) return p.error();
  pipeline = p.value();
  return {};
}

// The SDF quad pipeline (pipeline_layout) for a pass compatible with `pass`.
Result<VkPipeline> VulkanRenderer::Impl::quad_pipeline(VkRenderPass pass) {
  VkVertexInputBindingDescription binding{0, sizeof(Instance), VK_VERTEX_INPUT_RATE_INSTANCE};
  const std::array<VkVertexInputAttributeDescription, 5> attrs{{
      {0, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(Instance, ax)},
      {1, 0, VK_FORMAT_R32G32_SFLOAT, offsetof(Instance, bx)},
      {2, 0, VK_FORMAT_R32_SFLOAT, offsetof(Instance, param)},
      {3, 0, VK_FORMAT_R8G8B8A8_UNORM, offsetof(Instance, rgba)},
      {4, 0, VK_FORMAT_R32_UINT, offsetof(Instance, shape)},
  }};
  auto vi = vk::make<VkPipelineVertexInputStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO);
  vi.vertexBindingDescriptionCount = 1;
  vi.pVertexBindingDescriptions = &binding;
  vi.vertexAttributeDescriptionCount = static_cast<std::uint32_t>(attrs.size());
  vi.pVertexAttributeDescriptions = attrs.data();
  return graphics_pipeline(kQuadVert, VK_PRIMITIVE_TOPOLOGY_TRIANGLE_STRIP, vi, pipeline_layout, pass);
}

// A graphics pipeline drawing SDF quads with sdf.frag, blended "over" into the colour image.
Result<VkPipeline> VulkanRenderer::Impl::graphics_pipeline(std::span<const std::uint32_t> vertex_words,
                                                           VkPrimitiveTopology topology,
                                                           const VkPipelineVertexInputStateCreateInfo& vertex_input,
                                                           VkPipelineLayout layout, VkRenderPass pass) {
  auto vert = shader(vertex_words);
  if (!vert) return vert.error();
  auto frag = shader(kSdfFrag);
  if (!frag) {
    fn.vkDestroyShaderModule(device, vert.value(), nullptr);
    return frag.error();
  }
  std::array<VkPipelineShaderStageCreateInfo, 2> stages{};
  stages[0] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_VERTEX_BIT, vert.value(), "main", nullptr};
  stages[1] = {VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO, nullptr, 0, VK_SHADER_STAGE_FRAGMENT_BIT, frag.value(), "main", nullptr};
  auto ia = vk::make<VkPipelineInputAssemblyStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO);
  ia.topology = topology;
  const VkViewport viewport{0.0F, 0.0F, static_cast<float>(cfg.layout.width), static_cast<float>(cfg.layout.height), 0.0F, 1.0F};
  const VkRect2D scissor{{0, 0}, {cfg.layout.width, cfg.layout.height}};
  auto vp = vk::make<VkPipelineViewportStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO);
  vp.viewportCount = 1;
  vp.pViewports = &viewport;
  vp.scissorCount = 1;
  vp.pScissors = &scissor;
  auto rs = vk::make<VkPipelineRasterizationStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO);
  rs.polygonMode = VK_POLYGON_MODE_FILL;
  rs.cullMode = VK_CULL_MODE_NONE;
  rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
  rs.lineWidth = 1.0F;
  auto ms = vk::make<VkPipelineMultisampleStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO);
  ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
  VkPipelineColorBlendAttachmentState blend{};
  blend.blendEnable = VK_TRUE;  // straight-alpha "over"
  blend.srcColorBlendFactor = VK_BLEND_FACTOR_SRC_ALPHA;
  blend.dstColorBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
  blend.colorBlendOp = VK_BLEND_OP_ADD;
  blend.srcAlphaBlendFactor = VK_BLEND_FACTOR_ONE;
  blend.dstAlphaBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
  blend.alphaBlendOp = VK_BLEND_OP_ADD;
  blend.colorWriteMask = VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT | VK_COLOR_COMPONENT_A_BIT;
  auto cb = vk::make<VkPipelineColorBlendStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO);
  cb.attachmentCount = 1;
  cb.pAttachments = &blend;
  auto gp = vk::make<VkGraphicsPipelineCreateInfo>(VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO);
  gp.stageCount = static_cast<std::uint32_t>(stages.size());
  gp.pStages = stages.data();
  gp.pVertexInputState = &vertex_input;
  gp.pInputAssemblyState = &ia;
  gp.pViewportState = &vp;
  gp.pRasterizationState = &rs;
  gp.pMultisampleState = &ms;
  gp.pColorBlendState = &cb;
  gp.layout = layout;
  gp.renderPass = pass;
  VkPipeline out = VK_NULL_HANDLE;
  const VkResult r = fn.vkCreateGraphicsPipelines(device, VK_NULL_HANDLE, 1, &gp, nullptr, &out);
  fn.vkDestroyShaderModule(device, vert.value(), nullptr);
  fn.vkDestroyShaderModule(device, frag.value(), nullptr);
  if (r != VK_SUCCESS) return vk::call_error("vkCreateGraphicsPipelines", r);
  return out;
}

}  // namespace triptych::render
