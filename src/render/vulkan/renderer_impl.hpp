// SPDX-License-Identifier: Apache-2.0
// The Vulkan renderer's private state, shared by the files of src/render/vulkan/:
// the instance context, the GPU buffers behind zones and slots, and
// VulkanRenderer::Impl with each member function's home file named. The render
// thread owns everything not marked "guarded by mu" or atomic; the completion
// thread reads a slot's `pending` FrameInfo only after `submitted` (under mu)
// covers its ticket. Blocking, as the public API. docs/render-stage.md
// ("Frame lifecycle and synchronisation") draws the threads and semaphores.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "render/vulkan/vk_api.hpp"
#include "triptych/render/gpu_clock.hpp"
#include "triptych/render/vulkan_renderer.hpp"

namespace triptych::render {

namespace vk {

constexpr VkFormat kColorFormat = VK_FORMAT_R8G8B8A8_UNORM;
constexpr std::uint32_t kMaxFramesInFlight = 8;
constexpr std::uint64_t kNoTicket = ~std::uint64_t{0};

// The loader, the instance and (with validation) the debug messenger (instance.cpp).
struct InstanceContext {
  Library library;
  InstanceFns fns{};
  VkInstance instance = VK_NULL_HANDLE;
  VkDebugUtilsMessengerEXT messenger = VK_NULL_HANDLE;
  ValidationSink sink;  // stable address: the messenger's user data

  InstanceContext() = default;
  InstanceContext(const InstanceContext&) = delete;
  InstanceContext& operator=(const InstanceContext&) = delete;
  ~InstanceContext();

  [[nodiscard]] Result<void> create(const VulkanOptions& options);
  [[nodiscard]] static Error no_driver_error(const std::string& what);
  [[nodiscard]] Result<std::vector<VkPhysicalDevice>> physical_devices() const;
  [[nodiscard]] DeviceInfo describe(VkPhysicalDevice pd, std::uint32_t index) const;
};

struct Buffer {
  VkBuffer buffer = VK_NULL_HANDLE;
  VkDeviceMemory memory = VK_NULL_HANDLE;
  void* mapped = nullptr;
  VkDeviceSize size = 0;
};

struct Zone {
  std::span<std::byte> bytes;
  Buffer gpu;  // the imported zone, when binding.imported
  ZoneBinding binding;
  std::uint64_t last_ticket = kNoTicket;  // latest submitted ticket that uses it
};

// One frame in flight: its colour target, command buffers and copies.
struct Slot {
  VkImage image = VK_NULL_HANDLE;            // colour attachment, then copy source
  VkDeviceMemory image_memory = VK_NULL_HANDLE;
  VkImageView view = VK_NULL_HANDLE;
  VkFramebuffer framebuffer = VK_NULL_HANDLE;
  VkCommandBuffer upload_cb = VK_NULL_HANDLE;  // staging -> vertices (transfer queue)
  VkCommandBuffer render_cb = VK_NULL_HANDLE;  // the render pass or the splat's dispatches (graphics queue)
  VkCommandBuffer copy_cb = VK_NULL_HANDLE;    // image -> result zone or readback (transfer queue)
  Buffer staging;   // host-visible copy of the instances (staging path)
  Buffer vertices;  // device-local instances (staging path)
  Buffer readback;  // host-visible pixels (result zone not imported)
  Buffer counts;    // host-visible GPU particle verdicts (GPU particle pull)
  FrameInfo pending;  // written by submit before the ticket is published
  std::uint64_t ticket = kNoTicket;  // the ticket last submitted on this slot
  bool copy_pending = false;  // submitted with kResultZoneLater, not yet attached
};

// The GPU particle pull's verdict counters, in particle_count.comp's order.
inline constexpr std::uint32_t kVerdictCounters = 6;

// particle_rules.glsl's push constants, byte for byte (particle_pipeline.cpp).
struct PullParams {
  float viewport[2];
  float origin[2];
  float scale;
  float velocity_scale;
  float max_size;
  float max_line;
  std::uint32_t count;
};
[[nodiscard]] PullParams pull_params(const LayoutParams& p, std::uint32_t count);

struct SplatState;  // splat_pipeline.hpp

// `name` is among the device extensions `offered`.
[[nodiscard]] bool offers(std::span<const VkExtensionProperties> offered, const char* name) noexcept;

}  // namespace vk

struct VulkanRenderer::Impl {
  VulkanRendererConfig cfg;
  // The size the frame being recorded is drawn at (a governor may scale it
  // down; FrameInput::resolution_scale): what its readback copies. Render thread.
  PresentExtent frame_extent{};
  vk::InstanceContext ctx;
  DeviceInfo info;
  VkPhysicalDevice physical = VK_NULL_HANDLE;
  VkPhysicalDeviceMemoryProperties memory_props{};
  VkDevice device = VK_NULL_HANDLE;
  vk::DeviceFns fn{};
  std::uint32_t graphics_family = 0;
  std::uint32_t transfer_family = 0;
  VkQueue graphics_queue = VK_NULL_HANDLE;  // render submissions
  VkQueue transfer_queue = VK_NULL_HANDLE;  // upload and readback copies (may equal graphics_queue)
  bool host_import = false;
  VkDeviceSize import_alignment = kPageSize;

  VkRenderPass render_pass = VK_NULL_HANDLE;
  VkPipelineLayout pipeline_layout = VK_NULL_HANDLE;
  VkPipeline pipeline = VK_NULL_HANDLE;
  VkCommandPool graphics_pool = VK_NULL_HANDLE;
  VkCommandPool transfer_pool = VK_NULL_HANDLE;
  // Timeline semaphores, value = ticket + 1 once that ticket's step is done.
  VkSemaphore uploaded = VK_NULL_HANDLE;
  VkSemaphore rendered = VK_NULL_HANDLE;
  VkSemaphore copied = VK_NULL_HANDLE;

  std::vector<vk::Zone> layout_zones;
  std::vector<vk::Zone> result_zones;
  std::vector<vk::Zone> compute_zones;  // imported for the GPU particle pull

  // The GPU particle pull (particle_pipeline.cpp): one descriptor set per
  // (compute zone, frame slot): the slot's particles and its counters.
  ParticlePathChoice particle_choice;
  bool robust_buffer_access = false;  // enabled on the device
  bool graphics_compute = false;      // the graphics queue also runs compute
  VkDeviceSize max_storage_range = 0;
  VkDescriptorSetLayout particle_set_layout = VK_NULL_HANDLE;
  VkDescriptorPool descriptor_pool = VK_NULL_HANDLE;
  std::vector<VkDescriptorSet> particle_sets;  // [zone * fif + slot]
  VkPipelineLayout particle_layout = VK_NULL_HANDLE;
  VkPipeline particle_pipeline = VK_NULL_HANDLE;  // particle.vert + sdf.frag
  VkPipeline count_pipeline = VK_NULL_HANDLE;     // particle_count.comp
  // The compute splat renderer (splat_pipeline.cpp); null: raster quads only.
  std::unique_ptr<vk::SplatState> splat;
  std::array<vk::Slot, vk::kMaxFramesInFlight> slots{};
  std::uint32_t fif = 2;
  std::uint32_t max_capacity = 0;
  VkDeviceSize pixel_bytes = 0;
  ParallelFor pool;
  Presenter* presenter = nullptr;
  // The direct path (pipeline.cpp): the raster quads drawn straight into the
  // presenter's acquired swapchain image. Null: frames go through the
  // renderer's own image (direct_why says why, a static string).
  VkRenderPass direct_pass = VK_NULL_HANDLE;
  VkPipeline direct_pipeline = VK_NULL_HANDLE;
  VkPipeline direct_particle_pipeline = VK_NULL_HANDLE;  // with the GPU particle pull
  const char* direct_why = "no presenter";
  bool present_wait = false;  // VK_KHR_present_id + VK_KHR_present_wait and their features enabled

  // GPU times (gpu_clock.cpp).
  bool calibration_enabled = false;  // VK_EXT_calibrated_timestamps enabled
  GpuTimingChoice gpu_timing;        // set at create, then read-only
  VkQueryPool timestamps = VK_NULL_HANDLE;  // 2 per frame slot: begin, end of its render
  // The newest calibration (GPU ticks and CLOCK_MONOTONIC read together,
  // timestampPeriod, timestampValidBits). Written at create, then by the
  // completion thread only.
  GpuCalibration calibration;

  // Render-thread state.
  std::uint64_t next_ticket = 0;
  std::uint64_t next_attach = 0;  // the oldest ticket whose copy is not yet submitted

  // Shared with the completion thread.
  std::mutex mu;
  std::condition_variable cv;
  std::uint64_t submitted = 0;  // guarded by mu
  std::uint64_t copies_submitted = 0;  // guarded by mu: tickets below it have their copy submitted
  bool stop = false;            // guarded by mu
  std::optional<Error> failure;  // guarded by mu
  std::array<FrameInfo, kFrameHistory> history{};  // guarded by mu
  std::shared_ptr<const FrameReadyCallback> callback;  // guarded by mu
  std::atomic<std::uint64_t> completed{0};
  std::atomic<bool> failed{false};
  WaitWord own_ready;
  WaitWord* ready = &own_ready;
  std::thread completion;

  // renderer.cpp: teardown in reverse order of creation.
  ~Impl();
  void shutdown();

  // device.cpp: choosing the physical device, creating the device and queues.
  [[nodiscard]] Result<void> pick_device();
  [[nodiscard]] Result<void> create_device();
  // presenter_extensions.cpp: the presenter's device extensions, each checked
  // as offered, and present id + wait where offered (sets present_wait).
  [[nodiscard]] Result<std::vector<VkExtensionProperties>> offered_device_extensions() const;
  [[nodiscard]] Result<void> add_presenter_extensions(std::span<const VkExtensionProperties> offered,
                                                      std::vector<const char*>& extensions);

  // gpu_clock.cpp: timestamp queries around each frame's render command
  // buffer, converted to CLOCK_MONOTONIC through VK_EXT_calibrated_timestamps.
  // create_gpu_clock runs once after the frame resources (sets gpu_timing);
  // the rest belong to the completion thread after that.
  [[nodiscard]] Result<void> create_gpu_clock();
  [[nodiscard]] Result<void> calibrate(std::uint64_t& max_deviation_ns);
  void record_gpu_begin(VkCommandBuffer cb, std::uint32_t slot);
  void record_gpu_end(VkCommandBuffer cb, std::uint32_t slot);
  void read_gpu_times(std::uint32_t slot, FrameInfo& frame);

  // host_memory.cpp: buffers, and zones imported or left to staging.
  [[nodiscard]] std::optional<std::uint32_t> memory_type(std::uint32_t bits, VkMemoryPropertyFlags want) const;
  void sharing(VkSharingMode& mode, std::uint32_t& count, const std::uint32_t*& families,
               const std::array<std::uint32_t, 2>& both) const;
  [[nodiscard]] Result<void> create_buffer(VkDeviceSize size, VkBufferUsageFlags usage, VkMemoryPropertyFlags want,
                                           VkMemoryPropertyFlags fallback, bool map, vk::Buffer& out);
  [[nodiscard]] bool import_zone(std::span<std::byte> bytes, VkBufferUsageFlags usage, vk::Buffer& out,
                                 std::string& why);
  [[nodiscard]] Result<void> bind_zones(std::span<const std::span<std::byte>> layout,
                                        std::span<const std::span<std::byte>> result);

  // pipeline.cpp: the render pass and the SDF quad pipeline.
  [[nodiscard]] Result<VkShaderModule> shader(std::span<const std::uint32_t> words);
  [[nodiscard]] Result<VkRenderPass> color_pass(VkFormat format, bool swapchain_image);
  [[nodiscard]] Result<void> create_render_pass();
  [[nodiscard]] Result<void> create_pipeline();
  [[nodiscard]] Result<VkPipeline> quad_pipeline(VkRenderPass pass);
  [[nodiscard]] Result<VkPipeline> graphics_pipeline(std::span<const std::uint32_t> vertex_words,
                                                     VkPrimitiveTopology topology,
                                                     const VkPipelineVertexInputStateCreateInfo& vertex_input,
                                                     VkPipelineLayout layout, VkRenderPass pass);
  // The direct path's pass and quad pipeline for a presenter's swapchain format.
  [[nodiscard]] Result<void> create_direct(VkFormat format);
  void destroy_direct() noexcept;

  // particle_pipeline.cpp: the GPU particle pull (slot import, descriptors, pipelines).
  [[nodiscard]] Result<void> choose_particle_path();
  [[nodiscard]] Result<void> create_particle_pipelines();
  // The compute zone `slot` is, when the GPU may pull it; nullopt: CPU layout pass.
  [[nodiscard]] std::optional<std::uint32_t> pulled_zone(std::span<const std::byte> slot) const;
  // Particles the GPU may read from compute zone `zone` (its bytes and the storage range).
  [[nodiscard]] std::uint32_t pull_capacity(std::uint32_t zone) const;
  void record_particle_count(VkCommandBuffer cb, std::uint32_t zone, std::uint32_t slot, std::uint32_t count);
  void record_counts_to_host(VkCommandBuffer cb);
  [[nodiscard]] Result<VkPipeline> particle_draw_pipeline(VkRenderPass pass);
  // `draw_pipeline`: particle_pipeline, or direct_particle_pipeline inside the direct pass.
  void record_particle_draw(VkCommandBuffer cb, VkPipeline draw_pipeline, std::uint32_t zone, std::uint32_t slot,
                            std::uint32_t count);

  // splat_pipeline.cpp: the compute splat renderer. prepare_splat runs before
  // the frame resources (the colour images become storage images too),
  // create_splat after them (pipelines, buffers, auto's measurement).
  [[nodiscard]] Result<void> prepare_splat();
  [[nodiscard]] Result<void> create_splat();
  [[nodiscard]] Result<void> create_splat_slot(std::uint32_t slot);
  void destroy_splat();
  [[nodiscard]] bool splat_active() const noexcept;
  [[nodiscard]] bool splat_target() const noexcept;  // the colour images are storage images
  void read_splat_stats(std::uint32_t slot, FrameInfo& frame) const;

  // frame_resources.cpp: command pools, timeline semaphores, per-slot targets.
  [[nodiscard]] Result<void> create_frame_resources();
  [[nodiscard]] Result<void> create_slot(vk::Slot& s, bool staged_layout, bool staged_result);

  // frame.cpp: one frame on the render thread.
  [[nodiscard]] Result<std::uint64_t> submit(const FrameInput& in);
  // A frame's draw: the CPU layout pass's chunks, or the GPU pull of `count` particles of a compute zone.
  struct Draw {
    const LayoutResult* layout = nullptr;
    std::optional<std::uint32_t> pulled_zone;
    std::uint32_t count = 0;
  };
  // splat_pipeline.cpp: the frame's draw as compute dispatches, into the slot's image.
  void record_splat(VkCommandBuffer cb, std::uint32_t slot, const vk::Zone& lz, const Draw& draw);
  void record_splat_tiles(VkCommandBuffer cb, std::uint32_t slot, std::uint32_t count);
  [[nodiscard]] Result<void> measure_raster_paths();
  // `target`: the direct path's swapchain image, or nullptr for the slot's own image.
  [[nodiscard]] Result<void> record_and_submit(std::uint64_t t, vk::Slot& s, vk::Zone& lz, vk::Zone* rz,
                                               const Draw& draw, const DrawTarget* target);
  [[nodiscard]] Result<void> attach_result(std::uint64_t ticket, std::uint32_t result_zone);
  [[nodiscard]] Result<void> wait_slot_released(std::uint64_t ticket, std::chrono::nanoseconds timeout);
  [[nodiscard]] Result<void> submit_upload(std::uint64_t t, vk::Slot& s, const vk::Zone& lz, const LayoutResult& lr);
  [[nodiscard]] Result<void> submit_render(std::uint64_t t, vk::Slot& s, const vk::Zone& lz, const Draw& draw,
                                           bool wait_upload, const DrawTarget* target);
  void record_raster(VkCommandBuffer cb, vk::Slot& s, const vk::Zone& lz, const Draw& draw, std::uint32_t slot_index,
                     const DrawTarget* target);
  void begin_render_pass(VkCommandBuffer cb, const vk::Slot& s) { begin_render_pass(cb, render_pass, s.framebuffer); }
  void begin_render_pass(VkCommandBuffer cb, VkRenderPass pass, VkFramebuffer framebuffer);
  // The direct path: a copy of the swapchain image into the slot's image (the
  // readback's source), for a frame whose pixels go to a result zone.
  void record_copy_from_target(VkCommandBuffer cb, const vk::Slot& s, const DrawTarget& target);
  [[nodiscard]] Result<void> submit_copy(std::uint64_t t, vk::Slot& s, const vk::Zone* rz);

  // completion.cpp: the completion thread, and waiting for it.
  Error fail(Error e);
  [[nodiscard]] Result<void> wait_completed(std::uint64_t target, std::chrono::nanoseconds timeout);
  void completion_loop();
  void read_gpu_counts(const vk::Slot& s, LayoutStats& stats) const;
};

}  // namespace triptych::render
