// SPDX-License-Identifier: Apache-2.0
// The completion side of a frame: the completion thread waits on the `copied`
// timeline semaphore for each ticket in order, copies readback pixels into the
// result zone, stores the zone header and the FrameInfo, then publishes the
// ticket through `completed` (with its calibrated GPU times, gpu_clock.cpp) and the frame-ready WaitWord and runs the
// callback; wait_completed is how the render thread (and wait_frame) block on
// it, and fail() records the first error for every later call. Blocking;
// completion_loop runs on the completion thread only, the rest on the render
// thread. docs/render-stage.md ("Frame lifecycle and synchronisation").
#include <algorithm>
#include <array>
#include <climits>
#include <cstring>

#include "render/vulkan/renderer_impl.hpp"
#include "triptych/trace/trace.hpp"

namespace triptych::render {

namespace {

// Futex waits are sliced so a failure on the completion thread is noticed
// even though it does not change the WaitWord (liveness re-check).
constexpr auto kWaitSlice = std::chrono::milliseconds(20);
constexpr std::uint64_t kGpuWaitSliceNs = 50'000'000;

}  // namespace

// The GPU particle pull's verdicts, counted by particle_count.comp: read once
// into a copy; the CPU already set input and overflow at submit.
void VulkanRenderer::Impl::read_gpu_counts(const vk::Slot& s, LayoutStats& stats) const {
  std::array<std::uint32_t, vk::kVerdictCounters> c{};
  std::memcpy(c.data(), s.counts.mapped, sizeof c);
  stats.drawn = c[0];
  stats.culled = c[1];
  stats.nonfinite = c[2];
  stats.bad_size = c[3];
  stats.bad_shape = c[4];
  stats.clamped = c[5];
}

Error VulkanRenderer::Impl::fail(Error e) {
  {
    std::lock_guard lk(mu);
    if (!failure) failure = e;
  }
  failed.store(true, std::memory_order_release);  // SYNC(failed): publishes `failure` (also under mu)
  return e;
}

Result<void> VulkanRenderer::Impl::wait_completed(std::uint64_t target, std::chrono::nanoseconds timeout) {
  const auto deadline = timeout == kWaitForever ? std::chrono::steady_clock::time_point::max()
                                                : std::chrono::steady_clock::now() + timeout;
  for (;;) {
    // Read the futex word before the condition so a completion in between changes it.
    const std::uint32_t seen = ready->value.load(std::memory_order_acquire);
    // SYNC(frame-complete): acquires the FrameInfo, result pixels and header of every ticket < completed.
    if (completed.load(std::memory_order_acquire) >= target) return {};
    if (failed.load(std::memory_order_acquire)) {  // SYNC(failed)
      std::lock_guard lk(mu);
      return *failure;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return make_error(Errc::kSystem, "timed out waiting for ticket " + std::to_string(target - 1) +
                                           " (completed " + std::to_string(completed.load(std::memory_order_acquire)) + ")");
    }
    const auto left = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - now);
    (void)wait(*ready, seen, std::min<std::chrono::nanoseconds>(left, kWaitSlice));
  }
}

void VulkanRenderer::Impl::completion_loop() {
#if TRIPTYCH_TRACE
  // Its "GPU render" spans (read_gpu_times) go on this thread's ring: made now, off the frame path.
  if (gpu_timing.calibrated) trace::register_thread("render completion (GPU times)");
#endif
  for (std::uint64_t t = 0;; ++t) {
    {
      std::unique_lock lk(mu);
      // A ticket waiting for its result zone (attach_result) is not yet on the
      // GPU's `copied` timeline: its hang clock starts when its copy is in.
      cv.wait(lk, [&] { return stop || copies_submitted > t; });
      if (copies_submitted <= t) return;
    }
    const vk::Slot& s = slots[t % fif];
    FrameInfo done = s.pending;
    const std::uint64_t value = t + 1;
    auto wi = vk::make<VkSemaphoreWaitInfo>(VK_STRUCTURE_TYPE_SEMAPHORE_WAIT_INFO);
    wi.semaphoreCount = 1;
    wi.pSemaphores = &copied;
    wi.pValues = &value;
    const std::int64_t give_up = now_ns() + cfg.gpu_timeout.count();
    for (;;) {
      const VkResult r = fn.vkWaitSemaphores(device, &wi, kGpuWaitSliceNs);
      if (r == VK_SUCCESS) break;
      if (r != VK_TIMEOUT) {
        (void)fail(vk::call_error("vkWaitSemaphores", r));
        fetch_add_and_wake(*ready, 0, INT_MAX);
        return;
      }
      if (now_ns() > give_up) {
        (void)fail(make_error(Errc::kSystem, "the GPU did not finish ticket " + std::to_string(t) + " within " +
                                                 std::to_string(cfg.gpu_timeout.count() / 1'000'000) + " ms (hang?)"));
        return;
      }
    }
    if (done.particles_on_gpu) read_gpu_counts(s, done.stats);
    if (done.splat) read_splat_stats(static_cast<std::uint32_t>(t % fif), done);
    read_gpu_times(static_cast<std::uint32_t>(t % fif), done);
    if (cfg.readback) {
      vk::Zone& rz = result_zones[done.result_zone];
      if (!rz.binding.imported) {
        std::memcpy(rz.bytes.data() + kZonePayloadOffset, s.readback.mapped, pixel_bytes);
      }
      auto* header = reinterpret_cast<ResultZoneHeader*>(rz.bytes.data());
      // SYNC(result-frame): publishes the pixels of frame `done.frame` in this zone.
      header->frame.store(done.frame + 1, std::memory_order_release);
    }
    done.render_end_ns = now_ns();
    if (cfg.trace != nullptr) TRIPTYCH_STAMP(*cfg.trace, done.frame, trace::Stage::kRenderEnd);
    std::shared_ptr<const FrameReadyCallback> cb;
    {
      std::lock_guard lk(mu);
      history[t % kFrameHistory] = done;
      cb = callback;
    }
    // SYNC(frame-complete): publishes the FrameInfo, result pixels and header of ticket t.
    completed.store(t + 1, std::memory_order_release);
    store_and_wake(*ready, static_cast<std::uint32_t>(t + 1), INT_MAX);
    if (cb && *cb) (*cb)(done);
  }
}

}  // namespace triptych::render
