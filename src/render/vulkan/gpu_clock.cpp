// SPDX-License-Identifier: Apache-2.0
// GPU times of each frame on the CPU's clock: two timestamp queries per frame
// slot around the frame's render command buffer, converted to CLOCK_MONOTONIC
// through VK_EXT_calibrated_timestamps (a DEVICE and a CLOCK_MONOTONIC read
// taken together, with the driver's maximum deviation between them), so the
// GPU's begin and end land in FrameInfo and the trace beside the CPU spans.
// Without the extension, its two time domains or timestamps on the graphics
// queue: no queries, no GPU times, gpu_timing() says why. create_gpu_clock
// runs once in create (creating thread); record_* on the render thread;
// calibrate (again, once a second) and read_gpu_times on the completion
// thread. Blocking calls only at create; no allocation per frame.
// docs/render-stage.md ("GPU times").
#include <algorithm>
#include <array>

#include "render/vulkan/renderer_impl.hpp"
#include "triptych/trace/trace.hpp"

namespace triptych::render {

namespace {

// Clocks drift apart by parts per million: calibrating once a second keeps
// the conversion within microseconds without a driver call every frame.
constexpr std::int64_t kRecalibrateNs = 1'000'000'000;

}  // namespace

std::int64_t gpu_ticks_to_monotonic_ns(const GpuCalibration& c, std::uint64_t ticks) noexcept {
  const std::uint64_t mask = c.valid_bits >= 64 ? ~std::uint64_t{0} : (std::uint64_t{1} << c.valid_bits) - 1;
  const std::uint64_t since = (ticks - c.ticks) & mask;
  // More than half the clock's range "after" it is a stamp before it.
  const bool before = since > (mask >> 1);
  const double ns = static_cast<double>(before ? ((c.ticks - ticks) & mask) : since) * c.tick_ns;
  return c.monotonic_ns + static_cast<std::int64_t>(before ? -ns : ns);
}

Result<void> VulkanRenderer::Impl::create_gpu_clock() {
  gpu_timing = GpuTimingChoice{};
  if (!calibration_enabled) {
    gpu_timing.why = "no GPU times: the device does not offer VK_EXT_calibrated_timestamps";
    return {};
  }
  auto domains_fn = reinterpret_cast<PFN_vkGetPhysicalDeviceCalibrateableTimeDomainsEXT>(
      ctx.library.global().vkGetInstanceProcAddr(ctx.instance, "vkGetPhysicalDeviceCalibrateableTimeDomainsEXT"));
  std::array<VkTimeDomainEXT, 8> domains{};
  auto n = static_cast<std::uint32_t>(domains.size());
  // VK_INCOMPLETE only drops domains past the eighth of the four there are.
  if (domains_fn == nullptr || domains_fn(physical, &n, domains.data()) < 0) n = 0;
  const auto has = [&](VkTimeDomainEXT d) { return std::find(domains.begin(), domains.begin() + n, d) != domains.begin() + n; };
  if (!has(VK_TIME_DOMAIN_DEVICE_EXT) || !has(VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT)) {
    gpu_timing.why = "no GPU times: VK_EXT_calibrated_timestamps cannot calibrate the device's clock to CLOCK_MONOTONIC";
    return {};
  }
  std::uint32_t qn = 0;
  ctx.fns.vkGetPhysicalDeviceQueueFamilyProperties(physical, &qn, nullptr);
  std::vector<VkQueueFamilyProperties> q(qn);
  ctx.fns.vkGetPhysicalDeviceQueueFamilyProperties(physical, &qn, q.data());
  const std::uint32_t valid_bits = graphics_family < qn ? q[graphics_family].timestampValidBits : 0;
  VkPhysicalDeviceProperties props{};
  ctx.fns.vkGetPhysicalDeviceProperties(physical, &props);
  if (valid_bits == 0 || props.limits.timestampPeriod <= 0.0F) {
    gpu_timing.why = "no GPU times: the graphics queue has no timestamps";
    return {};
  }
  calibration.tick_ns = static_cast<double>(props.limits.timestampPeriod);
  calibration.valid_bits = std::min<std::uint32_t>(valid_bits, 64);
  auto qci = vk::make<VkQueryPoolCreateInfo>(VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO);
  qci.queryType = VK_QUERY_TYPE_TIMESTAMP;
  qci.queryCount = 2 * vk::kMaxFramesInFlight;
  TRIPTYCH_VK_TRY(fn.vkCreateQueryPool(device, &qci, nullptr, &timestamps));
  std::uint64_t deviation = 0;
  if (auto r = calibrate(deviation); !r) return r;
  gpu_timing.calibrated = true;
  gpu_timing.max_deviation_ns = deviation;
  gpu_timing.why = "GPU times calibrated to CLOCK_MONOTONIC (VK_EXT_calibrated_timestamps, max deviation " +
                   std::to_string(deviation) + " ns)";
  return {};
}

Result<void> VulkanRenderer::Impl::calibrate(std::uint64_t& max_deviation_ns) {
  std::array<VkCalibratedTimestampInfoEXT, 2> infos{};
  infos[0] = vk::make<VkCalibratedTimestampInfoEXT>(VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT);
  infos[0].timeDomain = VK_TIME_DOMAIN_DEVICE_EXT;
  infos[1] = vk::make<VkCalibratedTimestampInfoEXT>(VK_STRUCTURE_TYPE_CALIBRATED_TIMESTAMP_INFO_EXT);
  infos[1].timeDomain = VK_TIME_DOMAIN_CLOCK_MONOTONIC_EXT;
  std::array<std::uint64_t, 2> stamps{};
  std::uint64_t deviation = 0;
  TRIPTYCH_VK_TRY(fn.vkGetCalibratedTimestampsEXT(device, 2, infos.data(), stamps.data(), &deviation));
  calibration.ticks = stamps[0];
  calibration.monotonic_ns = static_cast<std::int64_t>(stamps[1]);
  max_deviation_ns = deviation;
  return {};
}

// Outside any render pass: the reset and the first stamp open the command buffer.
void VulkanRenderer::Impl::record_gpu_begin(VkCommandBuffer cb, std::uint32_t slot) {
  if (timestamps == VK_NULL_HANDLE) return;
  fn.vkCmdResetQueryPool(cb, timestamps, 2 * slot, 2);
  fn.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, timestamps, 2 * slot);
}

void VulkanRenderer::Impl::record_gpu_end(VkCommandBuffer cb, std::uint32_t slot) {
  if (timestamps == VK_NULL_HANDLE) return;
  fn.vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, timestamps, 2 * slot + 1);
}

// After `copied` reached the frame (its render is done, so both queries are).
void VulkanRenderer::Impl::read_gpu_times(std::uint32_t slot, FrameInfo& frame) {
  if (timestamps == VK_NULL_HANDLE) return;
  const std::int64_t now = now_ns();
  if (now - calibration.monotonic_ns > kRecalibrateNs) {
    std::uint64_t deviation = 0;
    static_cast<void>(calibrate(deviation));  // a failed read keeps the last calibration
  }
  std::array<std::uint64_t, 2> ticks{};
  if (fn.vkGetQueryPoolResults(device, timestamps, 2 * slot, 2, sizeof ticks, ticks.data(), sizeof ticks[0],
                               VK_QUERY_RESULT_64_BIT) != VK_SUCCESS) {
    return;  // not available: the frame keeps no GPU times
  }
  frame.gpu_begin_ns = gpu_ticks_to_monotonic_ns(calibration, ticks[0]);
  frame.gpu_end_ns = gpu_ticks_to_monotonic_ns(calibration, ticks[1]);
#if TRIPTYCH_TRACE
  static constexpr trace::SourceLocation kGpuRender{"GPU render", __func__, __FILE__, __LINE__};
  if (trace::enabled()) {
    (void)trace::this_thread_trace().push(trace::SpanEvent{&kGpuRender, static_cast<std::uint64_t>(frame.gpu_begin_ns),
                                                           static_cast<std::uint64_t>(frame.gpu_end_ns), 0, 0});
  }
#endif
}

}  // namespace triptych::render
