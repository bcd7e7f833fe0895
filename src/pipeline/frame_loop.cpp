// SPDX-License-Identifier: Apache-2.0
// The frame loop (`tp-frameloop`): paces frames (FramePacer, or in a window
// with --clock presenter the presenter's PresentClock, whose hand-over it
// also waits for), holds compute back for render (kWait backpressure and
// just-in-time dispatch), applies the particle count the keys ask for, writes
// the kernel context, runs parallel_for over the compute pool (twice on a
// frame whose count grew) and publishes the compute triple buffer. Blocking
// (sleeps, futex waits, parallel_for). Runs on its own thread only, started by
// Engine::start() (never for kCopyIn). Design: docs/pipeline.md, "Per frame",
// "Who owns the clock", "Particle count".
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include "engine_impl.hpp"
#include "triptych/pipeline/frame_pacer.hpp"
#include "triptych/pipeline/present_clock.hpp"
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
  // ClockOwner::kPresenter in a window: the presenter's deadlines set when
  // each frame is issued and handed over, instead of `pacer`.
  std::optional<PresentClock> clock;
  if (presenter_clock && period_ns != 0) clock.emplace(period_ns, trace::now_ns());
  RollingP99 compute_work(PresentClock::kWarmupFrames);
  std::uint32_t divisor = 1;  // the governor's rate divisor the clock runs at
  std::uint32_t count = cfg.particles;  // particles the frames simulate now
  std::uint32_t last_count = 0;         // ... and the last published output holds
  // A run of `seconds` ends on the wall clock, whatever rate it keeps.
  const std::uint64_t end_ns = cfg.frames == 0 && cfg.seconds > 0
                                   ? trace::now_ns() + static_cast<std::uint64_t>(cfg.seconds * 1e9)
                                   : 0;
  const auto sleep_within_run = [end_ns](std::uint64_t t) { sleep_until(end_ns != 0 ? std::min(t, end_ns) : t); };
  // Both clocks start afresh from now at `period` (no burst of missed deadlines).
  const auto restart_clock = [&](std::uint64_t period) {
    pacer = FramePacer(period, trace::now_ns());
    if (clock) clock.emplace(period, trace::now_ns());
  };
  for (std::uint64_t i = 0; cfg.frames == 0 || i < cfg.frames; ++i) {
    if (stop_requested.load(std::memory_order_relaxed)) break;
    if (paused.load(std::memory_order_relaxed)) {  // the window's pause key
      if (!hold_while_paused(end_ns)) break;
      restart_clock(period_ns * divisor);
    }
    if (governor) {
      // The governor sheds frame rate last: pace at hz / divisor from now on.
      const std::uint32_t want =
          kGovernorLadder[governor_level.load(std::memory_order_relaxed)].rate_divisor;  // a setting
      if (want != divisor) {
        divisor = want;
        restart_clock(period_ns * divisor);
      }
    }
    std::uint64_t handover_ns = 0;  // the presenter's wake-up for this frame (presenter clock)
    if (clock) {
      const std::uint64_t render_p99 = render_p99_ns.load(std::memory_order_relaxed);  // an estimate
      const std::uint64_t compute_p99 = compute_work.p99();
      clock->catch_up(trace::now_ns(), render_p99, compute_p99);
      sleep_within_run(clock->issue_ns(render_p99, compute_p99));
      handover_ns = clock->wake_ns(render_p99);
      clock->next_frame();
    } else if (pacer.paced()) {
      sleep_within_run(pacer.deadline_ns());
      pacer.start_frame(trace::now_ns());
    }
    if (end_ns != 0 && trace::now_ns() >= end_ns) break;
    if (cfg.lag == LagPolicy::kWait && !wait_for_render(tb, !clock)) break;
    const std::uint64_t frame = table->begin_frame(trace::now_ns());
    issued.fetch_add(1, std::memory_order_relaxed);
    frame_divisor[frame % kDivisorRing].store(divisor, std::memory_order_relaxed);
    count = apply_particle_count(frame, count);
    frame_particles[frame % kDivisorRing].store(count, std::memory_order_relaxed);
    TRIPTYCH_STAMP(*table, frame, trace::Stage::kComputeStart);
    bool ok = false;
    {
      TRIPTYCH_SPAN("compute");
      // Items beyond the last output's count hold no state of that frame.
      ok = run_compute(frame, i, count, last_output == 0 ? 0 : std::min(last_count, count), last_output);
    }
    TRIPTYCH_STAMP(*table, frame, trace::Stage::kComputeEnd);
    if (const std::uint64_t d = note_compute_time(frame); d != 0) compute_work.record(d);
    if (!ok) {
      // A failed frame is never published, so never shown.
      fail_frame(frame, {});
      continue;
    }
    last_count = count;
    // The presenter takes the frame at its wake-up, not before.
    if (handover_ns != 0) sleep_within_run(handover_ns);
    if (const char* why = publish_compute(frame, count)) {
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

// kWait: holds compute until render has taken the previous frame, then (when
// `just_in_time`) until just before render is expected to free up. False
// when a stop was requested.
bool Engine::Impl::wait_for_render(TripleBuffer& tb, bool just_in_time) {
  while (tb.has_new() && !stop_requested.load(std::memory_order_relaxed)) {
    // SYNC(consumed): acquire pairs with the render thread's bump after it
    // took the frame, so the has_new() re-check sees that take.
    const std::uint32_t seen = consumed.value.load(std::memory_order_acquire);
    if (!tb.has_new()) break;
    (void)report::timed_wait(consumed, seen, kWaitSlice);
  }
  if (stop_requested.load(std::memory_order_relaxed)) return false;
  // The presenter's clock already issues each frame its compute time before
  // the render thread takes it.
  if (!just_in_time) return true;
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
bool Engine::Impl::run_compute(std::uint64_t frame, std::uint64_t index, std::uint32_t count,
                               std::uint32_t fresh_from, std::uint64_t& last_output_offset) {
  TripleBuffer& tb = arena->triple_buffer(FrameStage::kCompute);
  const std::uint64_t output = kernel_offset_of(tb.write_slot());
  tp_kernel_ctx& c = *ctx;
  c.abi_version = TP_KERNEL_ABI_VERSION;
  c.item_count = count;
  c.frame_id = frame + 1;
  c.item_bytes = sizeof(tp_particle);
  const double dt = period_ns != 0 ? static_cast<double>(period_ns) * 1e-9 : 1.0 / 120.0;
  c.dt = static_cast<float>(dt);
  c.time = static_cast<float>(static_cast<double>(index) * dt);
  c.seed = cfg.seed;
  c.flags = fresh_from == 0 ? TP_CTX_FIRST_FRAME : 0u;
  c.input_offset = fresh_from == 0 ? output : last_output_offset;
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
  dispatch_kernel(frame, 0, fresh_from == 0 ? count : fresh_from);
  if (fresh_from != 0 && fresh_from < count && !frame_failed.load(std::memory_order_relaxed)) {
    // The count grew: the new items are initialised, as on a first frame.
    // parallel_for returned, so no member reads the context while it changes.
    c.flags = TP_CTX_FIRST_FRAME;
    c.input_offset = output;
    dispatch_kernel(frame, fresh_from, count);
  }
  // Every chunk's completion, failure flag included, happens before
  // parallel_for returns: SYNC(group-done).
  if (frame_failed.load(std::memory_order_relaxed)) return false;
  last_output_offset = output;
  return true;
}

// One parallel_for of the kernel over items [begin, end) with the context as
// written. The pool's dispatch publishes ctx, dispatch_frame and the cleared
// flag to the members (SYNC(inbox)); for kExternal nobody but the members
// runs chunks.
void Engine::Impl::dispatch_kernel(std::uint64_t frame, std::uint32_t begin, std::uint32_t end) {
  const NativeKernelStep kernel = cfg.native_kernel;
  Impl* self = this;
  compute_pool->parallel_for(
      begin, end, cfg.grain,
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
}

// The keys' wish (particles_wanted), clamped to [particle_floor, capacity],
// holds from `frame` on; a change is logged and said in status().
std::uint32_t Engine::Impl::apply_particle_count(std::uint64_t frame, std::uint32_t current) {
  const std::uint32_t wanted = std::clamp(particles_wanted.load(std::memory_order_relaxed),  // a setting
                                          particle_floor(cfg.particles), cfg.particles);
  if (wanted == current) return current;
  particles_now.store(wanted, std::memory_order_relaxed);  // a setting: see its declaration
  std::lock_guard<std::mutex> lock(message_mu);  // a key press, never a steady frame
  if (particle_log.size() < kKeptDecisions) particle_log.emplace_back(frame, wanted);  // reserved: no allocation
  return wanted;
}

// Folds this frame's compute time into the just-in-time estimate.
std::uint64_t Engine::Impl::note_compute_time(std::uint64_t frame) {
  trace::FrameSnapshot snap;
  if (table->try_read(frame, snap) != trace::ReadStatus::kOk || snap.at(trace::Stage::kComputeEnd) == 0) return 0;
  const std::uint64_t d = snap.at(trace::Stage::kComputeEnd) - snap.at(trace::Stage::kComputeStart);
  ema_compute_ns = ema_compute_ns == 0 ? d : ema_compute_ns - ema_compute_ns / 8 + d / 8;
  return d;
}

}  // namespace triptych::pipeline
