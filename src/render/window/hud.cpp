// SPDX-License-Identifier: Apache-2.0
// The HUD (hud.hpp): Dear ImGui's layout of the frame statistics, and the
// Vulkan objects that draw its draw lists into a swapchain image: the font
// atlas (R8, uploaded once), a render pass that loads the blitted scene, a
// pipeline with ImGui's vertex layout and alpha blending, per-image views and
// framebuffers, per-slot host-visible vertex and index buffers. The
// presenter's thread only. docs/presenter.md ("The HUD").
#include "render/window/hud.hpp"

#include <imgui.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace triptych::render::window {

using vk::make;

namespace {

constexpr std::uint32_t kHudVert[] =
#include "triptych/render/hud.vert.spv.inc"
    ;
constexpr std::uint32_t kHudFrag[] =
#include "triptych/render/hud.frag.spv.inc"
    ;

// The frame-time strip's range: the 8.33 and 16.67 ms guides sit at 1/4 and 1/2 of it.
constexpr float kStripMs = 33.33F;
constexpr ImU32 kGuide120 = IM_COL32(90, 210, 90, 220);
constexpr ImU32 kGuide60 = IM_COL32(230, 190, 60, 220);

}  // namespace

Result<std::unique_ptr<Hud>> Hud::create(const Fns& fn, const VulkanHandles& vk, VkFormat format) {
  std::unique_ptr<Hud> hud(new Hud(fn, vk));
  hud->imgui_ = ImGui::CreateContext();
  ImGui::SetCurrentContext(hud->imgui_);
  ImGuiIO& io = ImGui::GetIO();
  io.IniFilename = nullptr;  // nothing written next to the run
  io.LogFilename = nullptr;
  io.Fonts->AddFontDefault();
  ImGui::StyleColorsDark();
  if (auto r = hud->create_font(format); !r) return r.error();
  if (auto r = hud->create_pipeline(format); !r) return r.error();
  return hud;
}

Hud::~Hud() {
  destroy_targets();
  const VkDevice d = vk_.device;
  for (Geometry& g : geometry_) {
    release(fn_, d, g.vertices);
    release(fn_, d, g.indices);
  }
  if (pipeline_ != VK_NULL_HANDLE) fn_.vkDestroyPipeline(d, pipeline_, nullptr);
  if (pipeline_layout_ != VK_NULL_HANDLE) fn_.vkDestroyPipelineLayout(d, pipeline_layout_, nullptr);
  if (render_pass_ != VK_NULL_HANDLE) fn_.vkDestroyRenderPass(d, render_pass_, nullptr);
  if (descriptor_pool_ != VK_NULL_HANDLE) fn_.vkDestroyDescriptorPool(d, descriptor_pool_, nullptr);
  if (set_layout_ != VK_NULL_HANDLE) fn_.vkDestroyDescriptorSetLayout(d, set_layout_, nullptr);
  if (sampler_ != VK_NULL_HANDLE) fn_.vkDestroySampler(d, sampler_, nullptr);
  if (font_view_ != VK_NULL_HANDLE) fn_.vkDestroyImageView(d, font_view_, nullptr);
  if (font_ != VK_NULL_HANDLE) fn_.vkDestroyImage(d, font_, nullptr);
  if (font_memory_ != VK_NULL_HANDLE) fn_.vkFreeMemory(d, font_memory_, nullptr);
  if (imgui_ != nullptr) ImGui::DestroyContext(imgui_);
}

Result<void> Hud::create_font(VkFormat /*format*/) {
  unsigned char* pixels = nullptr;
  int w = 0;
  int h = 0;
  ImGui::GetIO().Fonts->GetTexDataAsAlpha8(&pixels, &w, &h);
  const auto width = static_cast<std::uint32_t>(w);
  const auto height = static_cast<std::uint32_t>(h);
  auto ici = make<VkImageCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_CREATE_INFO);
  ici.imageType = VK_IMAGE_TYPE_2D;
  ici.format = VK_FORMAT_R8_UNORM;
  ici.extent = {width, height, 1};
  ici.mipLevels = 1;
  ici.arrayLayers = 1;
  ici.samples = VK_SAMPLE_COUNT_1_BIT;
  ici.tiling = VK_IMAGE_TILING_OPTIMAL;
  ici.usage = VK_IMAGE_USAGE_SAMPLED_BIT | VK_IMAGE_USAGE_TRANSFER_DST_BIT;
  ici.sharingMode = VK_SHARING_MODE_EXCLUSIVE;
  ici.initialLayout = VK_IMAGE_LAYOUT_UNDEFINED;
  TRIPTYCH_VK_TRY(fn_.vkCreateImage(vk_.device, &ici, nullptr, &font_));
  VkMemoryRequirements req{};
  fn_.vkGetImageMemoryRequirements(vk_.device, font_, &req);
  std::uint32_t type = memory_type(fn_, vk_.physical_device, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
  if (type == ~0U) type = memory_type(fn_, vk_.physical_device, req.memoryTypeBits, 0);
  auto mai = make<VkMemoryAllocateInfo>(VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO);
  mai.allocationSize = req.size;
  mai.memoryTypeIndex = type;
  TRIPTYCH_VK_TRY(fn_.vkAllocateMemory(vk_.device, &mai, nullptr, &font_memory_));
  TRIPTYCH_VK_TRY(fn_.vkBindImageMemory(vk_.device, font_, font_memory_, 0));
  auto vci = make<VkImageViewCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO);
  vci.image = font_;
  vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
  vci.format = VK_FORMAT_R8_UNORM;
  vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
  TRIPTYCH_VK_TRY(fn_.vkCreateImageView(vk_.device, &vci, nullptr, &font_view_));

  // Upload once through a staging buffer and a one-off command buffer.
  HostBuffer staging;
  const VkDeviceSize bytes = VkDeviceSize{width} * height;
  auto upload = [&]() -> Result<void> {
    if (auto r = grow(fn_, vk_, staging, bytes, VK_BUFFER_USAGE_TRANSFER_SRC_BIT); !r) return r;
    std::memcpy(staging.mapped, pixels, static_cast<std::size_t>(bytes));
    auto pci = make<VkCommandPoolCreateInfo>(VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO);
    pci.queueFamilyIndex = vk_.graphics_family;
    VkCommandPool pool = VK_NULL_HANDLE;
    TRIPTYCH_VK_TRY(fn_.vkCreateCommandPool(vk_.device, &pci, nullptr, &pool));
    auto cai = make<VkCommandBufferAllocateInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO);
    cai.commandPool = pool;
    cai.level = VK_COMMAND_BUFFER_LEVEL_PRIMARY;
    cai.commandBufferCount = 1;
    VkCommandBuffer cb = VK_NULL_HANDLE;
    VkResult r = fn_.vkAllocateCommandBuffers(vk_.device, &cai, &cb);
    if (r == VK_SUCCESS) {
      auto begin = make<VkCommandBufferBeginInfo>(VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO);
      begin.flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT;
      r = fn_.vkBeginCommandBuffer(cb, &begin);
    }
    if (r == VK_SUCCESS) {
      const auto to_dst = image_barrier(font_, 0, VK_ACCESS_TRANSFER_WRITE_BIT, VK_IMAGE_LAYOUT_UNDEFINED,
                                        VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL);
      fn_.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 0, nullptr, 0,
                               nullptr, 1, &to_dst);
      VkBufferImageCopy copy{};
      copy.imageSubresource = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 0, 1};
      copy.imageExtent = {width, height, 1};
      fn_.vkCmdCopyBufferToImage(cb, staging.buffer, font_, VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, 1, &copy);
      const auto to_read = image_barrier(font_, VK_ACCESS_TRANSFER_WRITE_BIT, VK_ACCESS_SHADER_READ_BIT,
                                         VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL);
      fn_.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_FRAGMENT_SHADER_BIT, 0, 0, nullptr,
                               0, nullptr, 1, &to_read);
      r = fn_.vkEndCommandBuffer(cb);
    }
    if (r == VK_SUCCESS) {
      auto si = make<VkSubmitInfo>(VK_STRUCTURE_TYPE_SUBMIT_INFO);
      si.commandBufferCount = 1;
      si.pCommandBuffers = &cb;
      r = fn_.vkQueueSubmit(vk_.graphics_queue, 1, &si, VK_NULL_HANDLE);
    }
    if (r == VK_SUCCESS) r = fn_.vkQueueWaitIdle(vk_.graphics_queue);
    fn_.vkDestroyCommandPool(vk_.device, pool, nullptr);
    if (r != VK_SUCCESS) return vk::call_error("uploading the HUD's font", r);
    return {};
  };
  const Result<void> uploaded = upload();
  release(fn_, vk_.device, staging);
  return uploaded;
}

Result<void> Hud::create_pipeline(VkFormat format) {
  auto sci = make<VkSamplerCreateInfo>(VK_STRUCTURE_TYPE_SAMPLER_CREATE_INFO);
  sci.magFilter = VK_FILTER_LINEAR;
  sci.minFilter = VK_FILTER_LINEAR;
  sci.mipmapMode = VK_SAMPLER_MIPMAP_MODE_LINEAR;
  sci.addressModeU = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
  sci.addressModeV = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
  sci.addressModeW = VK_SAMPLER_ADDRESS_MODE_CLAMP_TO_EDGE;
  sci.maxLod = 0.25F;
  TRIPTYCH_VK_TRY(fn_.vkCreateSampler(vk_.device, &sci, nullptr, &sampler_));
  VkDescriptorSetLayoutBinding binding{0, VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1, VK_SHADER_STAGE_FRAGMENT_BIT,
                                       nullptr};
  auto dsl = make<VkDescriptorSetLayoutCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO);
  dsl.bindingCount = 1;
  dsl.pBindings = &binding;
  TRIPTYCH_VK_TRY(fn_.vkCreateDescriptorSetLayout(vk_.device, &dsl, nullptr, &set_layout_));
  VkDescriptorPoolSize size{VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER, 1};
  auto dpi = make<VkDescriptorPoolCreateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO);
  dpi.maxSets = 1;
  dpi.poolSizeCount = 1;
  dpi.pPoolSizes = &size;
  TRIPTYCH_VK_TRY(fn_.vkCreateDescriptorPool(vk_.device, &dpi, nullptr, &descriptor_pool_));
  auto dai = make<VkDescriptorSetAllocateInfo>(VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO);
  dai.descriptorPool = descriptor_pool_;
  dai.descriptorSetCount = 1;
  dai.pSetLayouts = &set_layout_;
  TRIPTYCH_VK_TRY(fn_.vkAllocateDescriptorSets(vk_.device, &dai, &set_));
  VkDescriptorImageInfo image{sampler_, font_view_, VK_IMAGE_LAYOUT_SHADER_READ_ONLY_OPTIMAL};
  auto write = make<VkWriteDescriptorSet>(VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET);
  write.dstSet = set_;
  write.descriptorCount = 1;
  write.descriptorType = VK_DESCRIPTOR_TYPE_COMBINED_IMAGE_SAMPLER;
  write.pImageInfo = &image;
  fn_.vkUpdateDescriptorSets(vk_.device, 1, &write, 0, nullptr);

  VkPushConstantRange push{VK_SHADER_STAGE_VERTEX_BIT, 0, 4 * sizeof(float)};
  auto pli = make<VkPipelineLayoutCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO);
  pli.setLayoutCount = 1;
  pli.pSetLayouts = &set_layout_;
  pli.pushConstantRangeCount = 1;
  pli.pPushConstantRanges = &push;
  TRIPTYCH_VK_TRY(fn_.vkCreatePipelineLayout(vk_.device, &pli, nullptr, &pipeline_layout_));

  // Loads the blitted scene and leaves the image for the barrier that follows.
  VkAttachmentDescription color{};
  color.format = format;
  color.samples = VK_SAMPLE_COUNT_1_BIT;
  color.loadOp = VK_ATTACHMENT_LOAD_OP_LOAD;
  color.storeOp = VK_ATTACHMENT_STORE_OP_STORE;
  color.stencilLoadOp = VK_ATTACHMENT_LOAD_OP_DONT_CARE;
  color.stencilStoreOp = VK_ATTACHMENT_STORE_OP_DONT_CARE;
  color.initialLayout = VK_IMAGE_LAYOUT_TRANSFER_DST_OPTIMAL;
  color.finalLayout = VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL;
  VkAttachmentReference ref{0, VK_IMAGE_LAYOUT_COLOR_ATTACHMENT_OPTIMAL};
  VkSubpassDescription sub{};
  sub.pipelineBindPoint = VK_PIPELINE_BIND_POINT_GRAPHICS;
  sub.colorAttachmentCount = 1;
  sub.pColorAttachments = &ref;
  const VkSubpassDependency after_blit = vk::swapchain_pass_dependency();  // the renderer's direct pass shares it
  auto rpi = make<VkRenderPassCreateInfo>(VK_STRUCTURE_TYPE_RENDER_PASS_CREATE_INFO);
  rpi.attachmentCount = 1;
  rpi.pAttachments = &color;
  rpi.subpassCount = 1;
  rpi.pSubpasses = &sub;
  rpi.dependencyCount = 1;
  rpi.pDependencies = &after_blit;
  TRIPTYCH_VK_TRY(fn_.vkCreateRenderPass(vk_.device, &rpi, nullptr, &render_pass_));

  VkShaderModule vert = VK_NULL_HANDLE;
  VkShaderModule frag = VK_NULL_HANDLE;
  auto module = [&](std::span<const std::uint32_t> words, VkShaderModule& out) -> VkResult {
    auto ci = make<VkShaderModuleCreateInfo>(VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO);
    ci.codeSize = words.size_bytes();
    ci.pCode = words.data();
    return fn_.vkCreateShaderModule(vk_.device, &ci, nullptr, &out);
  };
  VkResult r = module(kHudVert, vert);
  if (r == VK_SUCCESS) r = module(kHudFrag, frag);
  if (r == VK_SUCCESS) {
    std::array<VkPipelineShaderStageCreateInfo, 2> stages{};
    stages[0] = make<VkPipelineShaderStageCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO);
    stages[0].stage = VK_SHADER_STAGE_VERTEX_BIT;
    stages[0].module = vert;
    stages[0].pName = "main";
    stages[1] = make<VkPipelineShaderStageCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO);
    stages[1].stage = VK_SHADER_STAGE_FRAGMENT_BIT;
    stages[1].module = frag;
    stages[1].pName = "main";
    VkVertexInputBindingDescription vb{0, sizeof(ImDrawVert), VK_VERTEX_INPUT_RATE_VERTEX};
    std::array<VkVertexInputAttributeDescription, 3> attributes{{
        {0, 0, VK_FORMAT_R32G32_SFLOAT, static_cast<std::uint32_t>(offsetof(ImDrawVert, pos))},
        {1, 0, VK_FORMAT_R32G32_SFLOAT, static_cast<std::uint32_t>(offsetof(ImDrawVert, uv))},
        {2, 0, VK_FORMAT_R8G8B8A8_UNORM, static_cast<std::uint32_t>(offsetof(ImDrawVert, col))},
    }};
    auto vi = make<VkPipelineVertexInputStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VERTEX_INPUT_STATE_CREATE_INFO);
    vi.vertexBindingDescriptionCount = 1;
    vi.pVertexBindingDescriptions = &vb;
    vi.vertexAttributeDescriptionCount = static_cast<std::uint32_t>(attributes.size());
    vi.pVertexAttributeDescriptions = attributes.data();
    auto ia = make<VkPipelineInputAssemblyStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_INPUT_ASSEMBLY_STATE_CREATE_INFO);
    ia.topology = VK_PRIMITIVE_TOPOLOGY_TRIANGLE_LIST;
    auto vp = make<VkPipelineViewportStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_VIEWPORT_STATE_CREATE_INFO);
    vp.viewportCount = 1;
    vp.scissorCount = 1;
    auto rs = make<VkPipelineRasterizationStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_RASTERIZATION_STATE_CREATE_INFO);
    rs.polygonMode = VK_POLYGON_MODE_FILL;
    rs.cullMode = VK_CULL_MODE_NONE;
    rs.frontFace = VK_FRONT_FACE_COUNTER_CLOCKWISE;
    rs.lineWidth = 1.0F;
    auto ms = make<VkPipelineMultisampleStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_MULTISAMPLE_STATE_CREATE_INFO);
    ms.rasterizationSamples = VK_SAMPLE_COUNT_1_BIT;
    VkPipelineColorBlendAttachmentState blend{};
    blend.blendEnable = VK_TRUE;
    blend.srcColorBlendFactor = VK_BLEND_FACTOR_SRC_ALPHA;
    blend.dstColorBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
    blend.colorBlendOp = VK_BLEND_OP_ADD;
    blend.srcAlphaBlendFactor = VK_BLEND_FACTOR_ONE;
    blend.dstAlphaBlendFactor = VK_BLEND_FACTOR_ONE_MINUS_SRC_ALPHA;
    blend.alphaBlendOp = VK_BLEND_OP_ADD;
    blend.colorWriteMask =
        VK_COLOR_COMPONENT_R_BIT | VK_COLOR_COMPONENT_G_BIT | VK_COLOR_COMPONENT_B_BIT | VK_COLOR_COMPONENT_A_BIT;
    auto cb = make<VkPipelineColorBlendStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_COLOR_BLEND_STATE_CREATE_INFO);
    cb.attachmentCount = 1;
    cb.pAttachments = &blend;
    const std::array<VkDynamicState, 2> dynamic{VK_DYNAMIC_STATE_VIEWPORT, VK_DYNAMIC_STATE_SCISSOR};
    auto ds = make<VkPipelineDynamicStateCreateInfo>(VK_STRUCTURE_TYPE_PIPELINE_DYNAMIC_STATE_CREATE_INFO);
    ds.dynamicStateCount = static_cast<std::uint32_t>(dynamic.size());
    ds.pDynamicStates = dynamic.data();
    auto gpi = make<VkGraphicsPipelineCreateInfo>(VK_STRUCTURE_TYPE_GRAPHICS_PIPELINE_CREATE_INFO);
    gpi.stageCount = static_cast<std::uint32_t>(stages.size());
    gpi.pStages = stages.data();
    gpi.pVertexInputState = &vi;
    gpi.pInputAssemblyState = &ia;
    gpi.pViewportState = &vp;
    gpi.pRasterizationState = &rs;
    gpi.pMultisampleState = &ms;
    gpi.pColorBlendState = &cb;
    gpi.pDynamicState = &ds;
    gpi.layout = pipeline_layout_;
    gpi.renderPass = render_pass_;
    r = fn_.vkCreateGraphicsPipelines(vk_.device, VK_NULL_HANDLE, 1, &gpi, nullptr, &pipeline_);
  }
  if (vert != VK_NULL_HANDLE) fn_.vkDestroyShaderModule(vk_.device, vert, nullptr);
  if (frag != VK_NULL_HANDLE) fn_.vkDestroyShaderModule(vk_.device, frag, nullptr);
  if (r != VK_SUCCESS) return vk::call_error("creating the HUD's pipeline", r);
  return {};
}

void Hud::destroy_targets() {
  for (VkFramebuffer f : framebuffers_) fn_.vkDestroyFramebuffer(vk_.device, f, nullptr);
  for (VkImageView v : views_) fn_.vkDestroyImageView(vk_.device, v, nullptr);
  framebuffers_.clear();
  views_.clear();
}

Result<void> Hud::set_targets(const std::vector<VkImage>& images, PresentExtent extent, VkFormat format) {
  destroy_targets();
  extent_ = extent;
  for (const VkImage image : images) {
    auto vci = make<VkImageViewCreateInfo>(VK_STRUCTURE_TYPE_IMAGE_VIEW_CREATE_INFO);
    vci.image = image;
    vci.viewType = VK_IMAGE_VIEW_TYPE_2D;
    vci.format = format;
    vci.subresourceRange = {VK_IMAGE_ASPECT_COLOR_BIT, 0, 1, 0, 1};
    VkImageView view = VK_NULL_HANDLE;
    TRIPTYCH_VK_TRY(fn_.vkCreateImageView(vk_.device, &vci, nullptr, &view));
    views_.push_back(view);
    auto fci = make<VkFramebufferCreateInfo>(VK_STRUCTURE_TYPE_FRAMEBUFFER_CREATE_INFO);
    fci.renderPass = render_pass_;
    fci.attachmentCount = 1;
    fci.pAttachments = &views_.back();
    fci.width = extent.width;
    fci.height = extent.height;
    fci.layers = 1;
    VkFramebuffer framebuffer = VK_NULL_HANDLE;
    TRIPTYCH_VK_TRY(fn_.vkCreateFramebuffer(vk_.device, &fci, nullptr, &framebuffer));
    framebuffers_.push_back(framebuffer);
  }
  return {};
}

// Grows the slot's buffers to twice what this frame needs (the HUD's size
// hardly changes, so this allocates in the first frames only).
Result<void> Hud::fit(std::uint32_t slot, std::size_t vertex_bytes, std::size_t index_bytes) {
  Geometry& g = geometry_[slot];
  if (vertex_bytes > g.vertices.capacity) {
    if (auto r = grow(fn_, vk_, g.vertices, std::max<VkDeviceSize>(vertex_bytes * 2, 64 * 1024),
                      VK_BUFFER_USAGE_VERTEX_BUFFER_BIT);
        !r) {
      return r;
    }
  }
  if (index_bytes > g.indices.capacity) {
    return grow(fn_, vk_, g.indices, std::max<VkDeviceSize>(index_bytes * 2, 32 * 1024), VK_BUFFER_USAGE_INDEX_BUFFER_BIT);
  }
  return {};
}

void Hud::layout(const HudStats& s) {
  ImGuiIO& io = ImGui::GetIO();
  io.DisplaySize = ImVec2(static_cast<float>(extent_.width), static_cast<float>(extent_.height));
  io.DeltaTime = 1.0F / 60.0F;  // fixed: nothing the HUD shows animates
  ImGui::NewFrame();
  ImGui::SetNextWindowPos(ImVec2(6.0F, 6.0F));
  ImGui::SetNextWindowBgAlpha(0.75F);
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize |
                                 ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoFocusOnAppearing |
                                 ImGuiWindowFlags_NoNav | ImGuiWindowFlags_NoInputs;
  ImGui::Begin("triptych HUD", nullptr, flags);
  ImGui::Text("%.1f fps", s.fps);
  const int n = static_cast<int>(std::min<std::size_t>(s.frames, kHudFrameHistory));
  ImGui::PlotLines("##frame times", s.frame_ms.data(), n, 0, nullptr, 0.0F, kStripMs, ImVec2(240.0F, 56.0F));
  const ImVec2 lo = ImGui::GetItemRectMin();
  const ImVec2 hi = ImGui::GetItemRectMax();
  const auto guide_y = [&](float ms) { return hi.y - (hi.y - lo.y) * ms / kStripMs; };
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->AddLine(ImVec2(lo.x, guide_y(8.33F)), ImVec2(hi.x, guide_y(8.33F)), kGuide120);
  draw->AddLine(ImVec2(lo.x, guide_y(16.67F)), ImVec2(hi.x, guide_y(16.67F)), kGuide60);
  ImGui::TextColored(ImVec4(0.35F, 0.82F, 0.35F, 1.0F), "8.33 ms");
  ImGui::SameLine();
  ImGui::TextColored(ImVec4(0.9F, 0.75F, 0.24F, 1.0F), "16.67 ms");
  const float budget = s.budget_ms > 0 ? s.budget_ms : 16.67F;
  const std::array<std::pair<const char*, float>, 4> stages{
      {{"compute", s.compute_ms}, {"layout", s.layout_ms}, {"render", s.render_ms}, {"present", s.present_ms}}};
  for (const auto& [name, ms] : stages) {
    char label[48];
    std::snprintf(label, sizeof label, "%s %.2f ms", name, static_cast<double>(ms));
    ImGui::ProgressBar(std::clamp(ms / budget, 0.0F, 1.0F), ImVec2(240.0F, 0.0F), label);
  }
  ImGui::Text("misses %llu  drops %llu", static_cast<unsigned long long>(s.misses),
              static_cast<unsigned long long>(s.dropped));
  ImGui::Text("governor: %s", s.governor[0] != '\0' ? s.governor.data() : "full quality");
  if (s.particles != 0) ImGui::Text("particles %u of %u", s.particles, s.particle_capacity);
  ImGui::End();
  ImGui::Render();
}

Result<void> Hud::record(VkCommandBuffer cb, std::uint32_t slot, std::uint32_t index, const HudStats& stats) {
  ImGui::SetCurrentContext(imgui_);
  // ImGui sizes a new auto-resizing window on its first frame and shows it
  // from the second: lay the first one out twice.
  if (!laid_out_) layout(stats);
  laid_out_ = true;
  layout(stats);
  const ImDrawData* data = ImGui::GetDrawData();
  const std::size_t vertex_bytes = static_cast<std::size_t>(data->TotalVtxCount) * sizeof(ImDrawVert);
  const std::size_t index_bytes = static_cast<std::size_t>(data->TotalIdxCount) * sizeof(ImDrawIdx);
  if (auto r = fit(slot, std::max<std::size_t>(vertex_bytes, 1), std::max<std::size_t>(index_bytes, 1)); !r) return r;
  Geometry& g = geometry_[slot];
  auto* vertices = static_cast<std::byte*>(g.vertices.mapped);
  auto* indices = static_cast<std::byte*>(g.indices.mapped);
  for (int l = 0; l < data->CmdListsCount; ++l) {
    const ImDrawList* list = data->CmdLists[l];
    const auto vb = static_cast<std::size_t>(list->VtxBuffer.Size) * sizeof(ImDrawVert);
    const auto ib = static_cast<std::size_t>(list->IdxBuffer.Size) * sizeof(ImDrawIdx);
    std::memcpy(vertices, list->VtxBuffer.Data, vb);
    std::memcpy(indices, list->IdxBuffer.Data, ib);
    vertices += vb;
    indices += ib;
  }
  auto rb = make<VkRenderPassBeginInfo>(VK_STRUCTURE_TYPE_RENDER_PASS_BEGIN_INFO);
  rb.renderPass = render_pass_;
  rb.framebuffer = framebuffers_.at(index);
  rb.renderArea = {{0, 0}, {extent_.width, extent_.height}};
  fn_.vkCmdBeginRenderPass(cb, &rb, VK_SUBPASS_CONTENTS_INLINE);
  fn_.vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline_);
  fn_.vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_GRAPHICS, pipeline_layout_, 0, 1, &set_, 0, nullptr);
  const VkDeviceSize zero = 0;
  fn_.vkCmdBindVertexBuffers(cb, 0, 1, &g.vertices.buffer, &zero);
  fn_.vkCmdBindIndexBuffer(cb, g.indices.buffer, 0, sizeof(ImDrawIdx) == 2 ? VK_INDEX_TYPE_UINT16 : VK_INDEX_TYPE_UINT32);
  const VkViewport viewport{0.0F, 0.0F, static_cast<float>(extent_.width), static_cast<float>(extent_.height), 0.0F, 1.0F};
  fn_.vkCmdSetViewport(cb, 0, 1, &viewport);
  const std::array<float, 4> transform{2.0F / data->DisplaySize.x, 2.0F / data->DisplaySize.y,
                                       -1.0F - data->DisplayPos.x * 2.0F / data->DisplaySize.x,
                                       -1.0F - data->DisplayPos.y * 2.0F / data->DisplaySize.y};
  fn_.vkCmdPushConstants(cb, pipeline_layout_, VK_SHADER_STAGE_VERTEX_BIT, 0, sizeof transform, transform.data());
  std::uint32_t first_index = 0;
  std::int32_t first_vertex = 0;
  for (int l = 0; l < data->CmdListsCount; ++l) {
    const ImDrawList* list = data->CmdLists[l];
    for (int c = 0; c < list->CmdBuffer.Size; ++c) {
      const ImDrawCmd& cmd = list->CmdBuffer[c];
      const float x0 = std::max(cmd.ClipRect.x - data->DisplayPos.x, 0.0F);
      const float y0 = std::max(cmd.ClipRect.y - data->DisplayPos.y, 0.0F);
      const float x1 = std::min(cmd.ClipRect.z - data->DisplayPos.x, static_cast<float>(extent_.width));
      const float y1 = std::min(cmd.ClipRect.w - data->DisplayPos.y, static_cast<float>(extent_.height));
      if (x1 <= x0 || y1 <= y0) continue;
      const VkRect2D scissor{{static_cast<std::int32_t>(x0), static_cast<std::int32_t>(y0)},
                             {static_cast<std::uint32_t>(x1 - x0), static_cast<std::uint32_t>(y1 - y0)}};
      fn_.vkCmdSetScissor(cb, 0, 1, &scissor);
      fn_.vkCmdDrawIndexed(cb, cmd.ElemCount, 1, first_index + cmd.IdxOffset,
                           first_vertex + static_cast<std::int32_t>(cmd.VtxOffset), 0);
    }
    first_index += static_cast<std::uint32_t>(list->IdxBuffer.Size);
    first_vertex += list->VtxBuffer.Size;
  }
  fn_.vkCmdEndRenderPass(cb);
  return {};
}

}  // namespace triptych::render::window
