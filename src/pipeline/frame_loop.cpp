// SPDX-License-Identifier: Apache-2.0
// The frame loop (`tp-frameloop`): paces frames (FramePacer), holds compute back for
// render (kWait backpressure and just-in-time dispatch), writes the kernel
// context, runs one parallel_for over the compute pool per frame and
// publishes the compute triple buffer. Blocking (sleeps, futex waits,
// parallel_for). Runs on its own thread only, started by Engine::start()
// (never for kCopyIn). Design: docs/pipeline.md, "Per frame".
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <string>

#include "engine_impl.hpp"
#include "triptych/pipeline/frame_pacer.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/trace/spans.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

// Margin by which a just-in-time frame should be ready before render frees up.
constexpr std::uint64_t kJustInTimeSlackNs = 500'000;

// The frame loop's CPU priority. On small machines it shares a core with the
// render thread (docs/scheduler.md); without a higher weight, CFS lets a busy
// render thread delay the loop's wake-up to the next scheduler tick (4 ms at
// HZ=250). A nice value below 0 needs CAP_SYS_NICE: without it we go on at
// the default priority and say so in the report.
constexpr int kFrameLoopNice = -10;

std::string raise_frame_loop_priority() {
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  if (setpriority(PRIO_PROCESS, tid, kFrameLoopNice) == 0) return "nice " + std::to_string(kFrameLoopNice);
  return std::string("default (nice ") + std::to_string(kFrameLoopNice) + " refused: " + std::strerror(errno) + ")";
}

void sleep_until(std::uint64_t deadline_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline_ns / 1'000'000'000u);
  ts.tv_nsec = static_cast<long>(deadline_ns % 1'000'000'000u);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

void Engine::Impl::frame_loop() {
  pin_this_thread(cfg.plan.reserved, "tp-frameloop");
  {
    std::lock_guard<std::mutex> lock(message_mu);
    frame_loop_priority = raise_frame_loop_priority();
  }
  trace::register_thread("frame loop");
  report::ThreadProbe probe;
  TripleBuffer& tb = arena->triple_buffer(FrameStage::kCompute);
  std::uint64_t last_output = 0;
  FramePacer pacer(period_ns, trace::now_ns());
  std::uint32_t divisor = 1;  // the governor's rate divisor the pacer runs at
  // A run of `seconds` ends on the wall clock, whatever rate it keeps.
  const std::uint64_t end_ns = cfg.frames == 0 && cfg.seconds > 0
                                   ? trace::now_ns() + static_cast<std::uint64_t>(cfg.seconds * 1e9)
                                   : 0;
  for (std::uint64_t i = 0; cfg.frames == 0 || i < cfg.frames; ++i) {
    if (stop_requested.load(std::memory_order_relaxed)) break;
    if (paused.load(std::memory_order_relaxed)) {  // the window's pause key
      if (!hold_while_paused(end_ns)) break;
      pacer = FramePacer(period_ns * divisor, trace::now_ns());  // no burst of missed deadlines after it
    }
    if (governor) {
      // The governor sheds frame rate last: pace at hz / divisor from now on.
      const std::uint32_t want =
          kGovernorLadder[governor_level.load(std::memory_order_relaxed)].rate_divisor;  // a setting
      if (want != divisor) {
        divisor = want;
        pacer = FramePacer(period_ns * divisor, trace::now_ns());
      }
    }
    if (pacer.paced()) {
      sleep_until(end_ns != 0 ? std::min(pacer.deadline_ns(), end_ns) : pacer.deadline_ns());
      pacer.start_frame(trace::now_ns());
    }
    if (end_ns != 0 && trace::now_ns() >= end_ns) break;
    if (cfg.lag == LagPolicy::kWait && !wait_for_render(tb)) break;
    const std::uint64_t frame = table->begin_frame(trace::now_ns());
    issued.fetch_add(1, std::memory_order_relaxed);
    frame_divisor[frame % kDivisorRing] = divisor;  // published with the frame (SYNC(tb-state))
    TRIPTYCH_STAMP(*table, frame, trace::Stage::kComputeStart);
    bool ok = false;
    {
      TRIPTYCH_SPAN("compute");
      ok = run_compute(frame, i, last_output);
    }
    TRIPTYCH_STAMP(*table, frame, trace::Stage::kComputeEnd);
    note_compute_time(frame);
    if (!ok) {
      // A failed frame is never published, so never shown.
      fail_frame(frame, {});
      continue;
    }
    if (const char* why = publish_compute(frame)) {
      fail_frame(frame, why);
      break;
    }
  }
  // The render thread notices within one kWaitSlice: it waits on the compute
  // buffer's publish word, which only a publish may bump.
  // SYNC(loop-done): publishes the loop's last compute publish to the render thread.
  loop_done.store(true, std::memory_order_release);
  (void)probe.finish();  // records this thread's counters for the report
}

// kWait: holds compute until render has taken the previous frame, then until
// just before render is expected to free up. False when a stop was requested.
bool Engine::Impl::wait_for_render(TripleBuffer& tb) {
  while (tb.has_new() && !stop_requested.load(std::memory_order_relaxed)) {
    // SYNC(consumed): acquire pairs with the render thread's bump after it
    // took the frame, so the has_new() re-check sees that take.
    const std::uint32_t seen = consumed.value.load(std::memory_order_acquire);
    if (!tb.has_new()) break;
    (void)report::timed_wait(consumed, seen, kWaitSlice);
  }
  if (stop_requested.load(std::memory_order_relaxed)) return false;
  // Just in time: when render is busy with the previous frame, start this one
  // so that it is ready as render frees up, not a whole render time early.
  // Otherwise a render-bound pipeline would show every frame one render time
  // stale (the overlap buys nothing when render is the bottleneck).
  // Heuristic only: estimates are relaxed EMAs.
  const std::uint64_t busy_since = render_busy_since.load(std::memory_order_relaxed);
  if (busy_since != 0) {
    const std::uint64_t render_ns = ema_render_ns.load(std::memory_order_relaxed);
    const std::uint64_t expected_free = busy_since + render_ns;
    // Slack grows with the render time, whose frame-to-frame variation it
    // absorbs: being early costs a little staleness, being late idles render.
    const std::uint64_t lead = ema_compute_ns + kJustInTimeSlackNs + render_ns / 8;
    if (expected_free > lead && expected_free - lead > trace::now_ns()) sleep_until(expected_free - lead);
  }
  return true;
}

// Runs one frame's compute. Returns true when every chunk succeeded.
bool Engine::Impl::run_compute(std::uint64_t frame, std::uint64_t index, std::uint64_t& last_output_offset) {
  TripleBuffer& tb = arena->triple_buffer(FrameStage::kCompute);
  const std::uint64_t output = kernel_offset_of(tb.write_slot());
  tp_kernel_ctx& c = *ctx;
  c.abi_version = TP_KERNEL_ABI_VERSION;
  c.item_count = cfg.particles;
  c.frame_id = frame + 1;
  c.item_bytes = sizeof(tp_particle);
  const double dt = period_ns != 0 ? static_cast<double>(period_ns) * 1e-9 : 1.0 / 120.0;
  c.dt = static_cast<float>(dt);
  c.time = static_cast<float>(static_cast<double>(index) * dt);
  c.seed = cfg.seed;
  c.flags = last_output_offset == 0 ? TP_CTX_FIRST_FRAME : 0u;
  c.input_offset = last_output_offset == 0 ? output : last_output_offset;
  c.output_offset = output;
  c.reserved = 0;
  // The frame id members report comes from here, never from the context,
  // which kernels can overwrite.
  dispatch_frame.store(frame + 1, std::memory_order_relaxed);
  // Only a failed frame leaves a cause behind, so only then is there
  // something to clear: a clean frame takes no lock.
  if (frame_failed.exchange(false, std::memory_order_relaxed)) {
    std::lock_guard<std::mutex> lock(message_mu);
    frame_cause.clear();
  }

  // The pool's dispatch publishes ctx, dispatch_frame and the cleared flag to
  // the members (SYNC(inbox)); for kExternal nobody but the members runs chunks.
  const NativeKernelStep kernel = cfg.native_kernel;
  Impl* self = this;
  compute_pool->parallel_for(
      0, cfg.particles, cfg.grain,
      [self, kernel, frame](std::size_t b, std::size_t e) {
        if (kernel == nullptr) return;
        const std::int32_t rc = kernel(self->ctx, static_cast<std::uint32_t>(b), static_cast<std::uint32_t>(e));
        if (rc != 0) {
          self->record_failure("native kernel returned " + std::to_string(rc) + " at frame " +
                               std::to_string(frame + 1) + ", chunk [" + std::to_string(b) + ", " +
                               std::to_string(e) + ")");
        }
      },
      &partitioner);
  // Every chunk's completion, failure flag included, happens before
  // parallel_for returns: SYNC(group-done).
  if (frame_failed.load(std::memory_order_relaxed)) return false;
  last_output_offset = output;
  return true;
}

// Folds this frame's compute time into the just-in-time estimate.
void Engine::Impl::note_compute_time(std::uint64_t frame) {
  trace::FrameSnapshot snap;
  if (table->try_read(frame, snap) == trace::ReadStatus::kOk && snap.at(trace::Stage::kComputeEnd) != 0) {
    const std::uint64_t d = snap.at(trace::Stage::kComputeEnd) - snap.at(trace::Stage::kComputeStart);
    ema_compute_ns = ema_compute_ns == 0 ? d : ema_compute_ns - ema_compute_ns / 8 + d / 8;
  }
}

}  // namespace triptych::pipeline
