// SPDX-License-Identifier: Apache-2.0
// The Vulkan render stage: device selection and listing, a headless offscreen
// target, the GPU particle pull from imported compute slots (validated in the
// shader) or the CPU layout pass with its layout zones imported with
// VK_EXT_external_memory_host or uploaded through staging buffers, SDF quads
// with alpha blending or the compute splat renderer (compute shaders only,
// binned into tiles; RasterPath), pipelined readback into result zones (imported where
// possible, or named later), a Presenter hook for the window path, and
// frame-ready as a futex wake plus a callback, GPU times of each frame's
// render on CLOCK_MONOTONIC (VK_EXT_calibrated_timestamps, where offered). Blocking API: submit /
// wait_frame / attach_result / wait_slot_released / set_* belong to one
// render thread; frame_ready, completed and health may be used from any
// thread; the callback runs on the renderer's completion thread. Satisfies the RenderStage concept.
// Vulkan itself stays out of this header: its handles are declared opaquely
// below, so callers need no Vulkan headers. Frame lifecycle, semaphores and
// fallbacks: docs/render-stage.md.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/render/gpu_clock.hpp"
#include "triptych/render/layout_pass.hpp"
#include "triptych/render/render_stage.hpp"
#include "triptych/trace/frame_trace.hpp"

// Vulkan's handle types, declared as the Vulkan headers declare them on
// 64-bit targets (a VkImage is a VkImage_T*), so a caller that includes
// Vulkan can pass these fields straight to it; the renderer's implementation
// checks at compile time that they match.
struct VkInstance_T;
struct VkPhysicalDevice_T;
struct VkDevice_T;
struct VkQueue_T;
struct VkImage_T;
struct VkSemaphore_T;
struct VkFramebuffer_T;

namespace triptych::render {

// PFN_vkVoidFunction and PFN_vkGetInstanceProcAddr, spelled without Vulkan.
using VulkanVoidFunction = void (*)();
using VulkanGetInstanceProcAddr = VulkanVoidFunction (*)(VkInstance_T* instance, const char* name);

// Where the GPU reads layout zones / writes result zones.
enum class HostMemoryPath {
  kImport,   // VK_EXT_external_memory_host on the zone itself; falls back to staging (and says why)
  kStaging,  // always copy through a host-visible staging/readback buffer
};

// Who validates and places the particles of a compute slot.
enum class ParticlePath {
  kAuto,  // the GPU where the compute slots import and the device can, else the CPU layout pass (and why)
  kGpu,   // the GPU pulls them straight from the imported slot; create fails if it cannot
  kCpu,   // the CPU layout pass into a layout zone, always
};

// How the particles become pixels (the compute splat renderer: docs/render-stage.md).
enum class RasterPath {
  kAuto,   // a short start-up measurement of both on the device picks; a software rasteriser takes quads
  kQuads,  // the graphics pipeline: one SDF quad per particle (vertex and fragment stages)
  kSplat,  // compute shaders only: binned into 16 x 16 tiles, sorted, shaded and blended per tile
};

// Which physical device: by index (from list_devices), by a case-insensitive
// name substring, or (neither) the best one: discrete > integrated > virtual > CPU.
struct DeviceChoice {
  int index = -1;
  std::string name;
};

struct DeviceInfo {
  std::uint32_t index = 0;
  std::string name;
  std::string type;  // "discrete", "integrated", "virtual", "cpu", "other"
  std::uint32_t api_version = 0;
  std::uint32_t vendor_id = 0;
  std::uint32_t device_id = 0;
  bool usable = false;      // Vulkan >= 1.2 with a graphics queue
  bool host_import = false; // VK_EXT_external_memory_host
  std::uint64_t import_alignment = 0;
  bool dedicated_transfer_queue = false;
  bool robust_buffer_access = false;  // out-of-range shader reads stay inside the buffer
  bool present_wait = false;           // VK_KHR_present_id + VK_KHR_present_wait offered, with their features
  bool calibrated_timestamps = false;  // VK_EXT_calibrated_timestamps offered
};

// A validation-layer message. `any` message fails a test.
using ValidationSink = std::function<void(const std::string& message)>;

struct VulkanOptions {
  bool validation = false;  // Khronos validation layer + debug messenger
  ValidationSink on_validation_message;  // called on any thread; default prints to stderr
  DeviceChoice device;
  // Extensions a presenter needs (render/presenter.hpp: WindowSystem); create
  // fails with kUnsupported naming the first one the instance or device lacks.
  std::vector<std::string> instance_extensions;
  std::vector<std::string> device_extensions;
};

// Lists the physical devices (the `info` command). Errors as VulkanRenderer::create.
[[nodiscard]] Result<std::vector<DeviceInfo>> list_devices(const VulkanOptions& options = {});

// The device a renderer takes, and why, in words a host can print.
struct DevicePick {
  std::uint32_t index = 0;  // DeviceInfo::index of the chosen device
  std::string why;
};

// The one device ranking (VulkanRenderer::create uses it; hosts show it):
// `want.index`, else the first device whose name contains `want.name`
// (case-insensitive), else the first usable device of the best type:
// discrete > integrated > virtual > cpu > other. Pure; any thread.
// kUnsupported (listing every device) when nothing matches or the match is unusable.
[[nodiscard]] Result<DevicePick> choose_device(const std::vector<DeviceInfo>& devices, const DeviceChoice& want);

// What the present path hands a presenter: the frame's colour image, which
// the presenter may read (blit/copy) once `rendered` reaches rendered_value.
// The format and layout are VkFormat / VkImageLayout values.
inline constexpr std::uint32_t kPresentFormat = 37;  // VK_FORMAT_R8G8B8A8_UNORM
inline constexpr std::uint32_t kPresentLayout = 6;   // VK_IMAGE_LAYOUT_TRANSFER_SRC_OPTIMAL

struct PresentExtent {
  std::uint32_t width = 0;
  std::uint32_t height = 0;
};

struct PresentImage {
  VkImage_T* image = nullptr;
  std::uint32_t format = kPresentFormat;
  PresentExtent extent{};  // the part drawn, from the top-left: smaller for a frame a governor shed
  std::uint32_t layout = kPresentLayout;  // must be left in this layout
  VkSemaphore_T* rendered = nullptr;      // timeline semaphore
  std::uint64_t rendered_value = 0;
  std::uint64_t ticket = 0;
  std::uint64_t frame = 0;
  // The direct path: the renderer drew the frame into the target acquire()
  // gave (its semaphore waited by the render), which `layout` now describes;
  // `image` is then the renderer's own image, not for the presenter to read.
  bool drawn = false;
  // Not drawn: why the renderer did not draw into a target (a static string),
  // or nullptr when it was not offered one.
  const char* blit_why = nullptr;
};

// Where the renderer may draw a frame straight into: an acquired swapchain
// image's framebuffer, compatible with a one-attachment render pass of the
// presenter's direct_format().
struct DrawTarget {
  VkImage_T* image = nullptr;
  VkFramebuffer_T* framebuffer = nullptr;
  VkSemaphore_T* acquired = nullptr;  // binary: the render waits on it before writing the image
  PresentExtent extent{};
};

// The window path (render/presenter.hpp). Called on the render thread.
class Presenter {
 public:
  virtual ~Presenter() = default;
  // The frame was submitted; queue GPU work that waits on rendered >=
  // rendered_value and reads the image. Must not wait for the GPU.
  virtual Result<void> present(const PresentImage& image) = 0;
  // The VkFormat a renderer may build a render pass for to draw into
  // acquire()'s targets; 0 (the default): no direct path, frames are read.
  [[nodiscard]] virtual std::uint32_t direct_format() const noexcept { return 0; }
  // Called before recording a frame of `extent` that could be drawn directly:
  // paces and acquires the image the next present() shows. A target when the
  // frame may be drawn into it (the renderer must then draw it and present
  // with `drawn`); nullopt: present() copies the frame as usual.
  // `copied_out`: the renderer copies the drawn image out (its readback), so
  // the target must be a transfer source.
  [[nodiscard]] virtual Result<std::optional<DrawTarget>> acquire(PresentExtent extent, bool copied_out) {
    static_cast<void>(extent);
    static_cast<void>(copied_out);
    return std::optional<DrawTarget>{};
  }
  // The renderer is about to render into ticket's image again: block until
  // the presenter's use of it has finished.
  virtual void retire(std::uint64_t ticket) = 0;
};

// The handles a presenter needs to share the renderer's device.
struct VulkanHandles {
  VkInstance_T* instance = nullptr;
  VkPhysicalDevice_T* physical_device = nullptr;
  VkDevice_T* device = nullptr;
  VkQueue_T* graphics_queue = nullptr;
  std::uint32_t graphics_family = 0;
  VulkanGetInstanceProcAddr get_instance_proc_addr = nullptr;
  // VK_KHR_present_id and VK_KHR_present_wait are enabled with their features
  // (asked for with VK_KHR_swapchain, taken only where the device offers them).
  bool present_wait = false;
};

struct VulkanRendererConfig {
  LayoutParams layout;                 // layout.width x layout.height is the target size
  std::uint32_t frames_in_flight = 2;  // 1 = synchronous; at most 8
  std::uint32_t layout_tasks = 1;      // parallel chunks of the layout pass
  ParallelFor pool;                    // empty: thread_split_parallel_for()
  HostMemoryPath layout_path = HostMemoryPath::kImport;
  HostMemoryPath result_path = HostMemoryPath::kImport;
  // The compute slots a FrameInput may name, imported for the GPU particle
  // pull (page-aligned, page-sized: the arena's compute A, B, C). A frame
  // whose slot is not one of them takes the CPU layout pass (kAuto) or fails (kGpu).
  ParticlePath particle_path = ParticlePath::kAuto;
  std::vector<std::span<std::byte>> compute_slots;
  bool readback = true;                // copy every frame into its result zone
  RasterPath raster = RasterPath::kAuto;
  // The compute splat renderer's tile lists: the longest one sorted in
  // shared memory (a power of two; longer ones sort in place in device
  // memory; 0: the most the device's shared memory holds, at most 8192), and
  // the entries of all tiles together (a tile whose list finds no room is
  // shaded by a scan of every record; 0: 8 per record or 256 per tile,
  // whichever is more, within one storage range). Tests shrink both.
  std::uint32_t splat_tile_list = 0;
  std::uint32_t splat_entries = 0;
  // kAuto measures on a software rasteriser too (tests; normally it takes quads there).
  bool raster_trial_on_cpu = false;
  std::array<float, 4> clear_color{0.0F, 0.0F, 0.0F, 1.0F};
  VulkanOptions vulkan;
  WaitWord* frame_ready_word = nullptr;  // e.g. in arena metadata; null: the renderer's own
  std::chrono::nanoseconds gpu_timeout = std::chrono::seconds(20);  // longer is a hang: error
  // Where render_start / render_end are stamped (TRIPTYCH_STAMP), keyed by the
  // frame token; null: not traced. Must outlive the renderer.
  trace::FrameTraceTable* trace = nullptr;
};

// How one zone is reached by the GPU.
struct ZoneBinding {
  bool imported = false;
  std::string note;  // why it fell back to staging, empty when imported
};

// The particle path a renderer took at create, and why, in words a host can print.
struct ParticlePathChoice {
  bool gpu = false;  // frames on an imported compute slot are pulled by the GPU
  std::string why;
};

// The raster path a renderer took at create, and why, in words a host can print.
struct RasterChoice {
  bool splat = false;  // frames are drawn by the compute splat renderer
  std::string why;
};

// Whether a renderer stamps its frames' GPU work (FrameInfo::gpu_begin_ns /
// gpu_end_ns) on CLOCK_MONOTONIC, and why, in words a host can print.
struct GpuTimingChoice {
  bool calibrated = false;  // timestamp queries converted through VK_EXT_calibrated_timestamps
  // vkGetCalibratedTimestampsEXT's maximum deviation at create: how far apart
  // the GPU and CPU reads of one calibration may be.
  std::uint64_t max_deviation_ns = 0;
  std::string why;
};

// FrameInput::result_zone for a frame whose result zone is named later with
// attach_result (the caller renders it before a result zone is free).
inline constexpr std::uint32_t kResultZoneLater = 0xFFFFFFFFu;

class VulkanRenderer {
 public:
  // Creates the instance, device, pipeline and per-frame resources, and binds
  // the zones (3 layout + 3 result for the arena's triple buffers; any count
  // >= 1). Result zones get their header written. Errors: kUnsupported (no
  // loader, no driver, no usable or matching device, no validation layer),
  // kInvalidArgument (config), kTooSmall (zones), kSystem (a Vulkan call,
  // named). Allocates; not for the hot path.
  [[nodiscard]] static Result<std::unique_ptr<VulkanRenderer>> create(
      VulkanRendererConfig config, std::span<const std::span<std::byte>> layout_zones,
      std::span<const std::span<std::byte>> result_zones);

  VulkanRenderer(const VulkanRenderer&) = delete;
  VulkanRenderer& operator=(const VulkanRenderer&) = delete;
  ~VulkanRenderer();  // waits for the GPU, joins the completion thread

  // RenderStage. submit blocks while the frame-in-flight slot, the layout
  // zone or the result zone it needs is still in use by an earlier ticket.
  [[nodiscard]] Result<std::uint64_t> submit(const FrameInput& input);
  [[nodiscard]] Result<FrameInfo> wait_frame(std::uint64_t ticket, std::chrono::nanoseconds timeout);
  // Names the result zone of a ticket submitted with kResultZoneLater and
  // submits its copy. Tickets must be attached in submission order, and a
  // deferred ticket blocks the completion of every later one until attached.
  // Blocks while an earlier ticket still uses that zone. kInvalidArgument
  // (not deferred, already attached, out of order), kOutOfRange (zone).
  [[nodiscard]] Result<void> attach_result(std::uint64_t ticket, std::uint32_t result_zone);
  // Blocks until the GPU no longer reads the compute slot of `ticket` (its
  // render submission is done; at once for a CPU layout pass, which copied
  // it). After it the caller may hand that slot back to its writer.
  [[nodiscard]] Result<void> wait_slot_released(std::uint64_t ticket, std::chrono::nanoseconds timeout);
  // The first failure recorded (GPU hang, device loss), or success. Any thread.
  [[nodiscard]] Result<void> health() const;
  [[nodiscard]] WaitWord& frame_ready() noexcept;
  [[nodiscard]] std::uint64_t completed() const noexcept;
  void set_frame_ready_callback(FrameReadyCallback callback);
  // Drains every submitted frame. kSystem if the GPU failed or hung.
  [[nodiscard]] Result<void> wait_idle(std::chrono::nanoseconds timeout);

  void set_presenter(Presenter* presenter) noexcept;
  [[nodiscard]] VulkanHandles handles() const noexcept;
  [[nodiscard]] const DeviceInfo& device() const noexcept;
  [[nodiscard]] const ZoneBinding& layout_binding(std::uint32_t zone) const;
  [[nodiscard]] const ZoneBinding& result_binding(std::uint32_t zone) const;
  [[nodiscard]] const ZoneBinding& compute_binding(std::uint32_t slot) const;
  [[nodiscard]] const ParticlePathChoice& particle_path() const noexcept;
  [[nodiscard]] const RasterChoice& raster_path() const noexcept;
  [[nodiscard]] const GpuTimingChoice& gpu_timing() const noexcept;
  [[nodiscard]] const VulkanRendererConfig& config() const noexcept;

  struct Impl;

 private:
  explicit VulkanRenderer(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

static_assert(RenderStage<VulkanRenderer>, "the Vulkan renderer is a RenderStage");

}  // namespace triptych::render
