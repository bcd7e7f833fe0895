// SPDX-License-Identifier: Apache-2.0
// The render thread (`tp-render`): takes compute frames and hands them to the
// render stage (the GPU particle pull or the layout pass on the render pool,
// GPU or CPU raster, readback into the result triple buffer) with up to
// frames_in_flight of them in the stage at once, publishes and presents each
// as it completes, in order, and at the end accounts for a computed frame
// nobody will render; it feeds the deadline governor. Blocking (futex waits on render_wake, the stage's waits). Runs on its own thread only, started by Engine::start(). Design:
// docs/pipeline.md, "Per frame", "Frames in flight" and "Orderings".
#include <algorithm>
#include <array>
#include <climits>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>

#include "engine_impl.hpp"
#include "triptych/sched/pinning.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/trace/spans.hpp"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

// A frame the GPU has not finished in this long is a hang: the run fails.
constexpr auto kRenderTimeout = 20s;

}  // namespace

void Engine::Impl::render_loop() {
  pin_this_thread(cfg.plan.render.cpus, "tp-render");
  trace::register_thread("render");
  report::ThreadProbe probe;
  TripleBuffer& compute_tb = arena->triple_buffer(FrameStage::kCompute);
  // The CPU reference and the isolated stage render synchronously: one frame
  // at a time (and so does isolation's in-process Vulkan fall-back).
  const std::uint32_t depth =
      vulkan && !use_cpu && !isolated ? std::clamp<std::uint32_t>(cfg.frames_in_flight, 1, kMaxFramesInFlight) : 1U;
  if (vulkan) {
    vulkan->set_frame_ready_callback([this](const render::FrameInfo&) {
      // SYNC(render-wake): the render thread re-checks completed() after this bump.
      (void)fetch_add_and_wake(render_wake, 1, 1);
    });
  }
  // In flight, oldest first. Only the oldest may own the result buffer's
  // write zone; the others wait for it (kResultZoneLater) and get it, in
  // order, as each one before them is published.
  std::array<RenderInFlight, kMaxFramesInFlight> ring{};
  std::uint32_t head = 0;
  std::uint32_t count = 0;
  std::uint64_t ticket = 0;
  for (;;) {
    // SYNC(render-wake): read before the checks, so a publish or completion
    // between them ends the wait below at once.
    const std::uint32_t seen = render_wake.value.load(std::memory_order_acquire);
    bool progressed = false;
    bool stopped = false;
    // 1. Present what the stage finished, oldest first.
    while (count > 0 && stage_completed(ring[head]) > ring[head].ticket) {
      const RenderInFlight done = ring[head];
      head = (head + 1) % kMaxFramesInFlight;
      --count;
      if (!finish(done)) {
        stopped = true;
        break;
      }
      progressed = true;
      if (count > 0) {
        render_busy_since.store(ring[head].taken_ns, std::memory_order_relaxed);
        if (!ring[head].zone_attached && !attach_result_zone(ring[head])) {
          stopped = true;
          break;
        }
      }
    }
    if (stopped) {
      fail_in_flight(ring, head, count);
      break;
    }
    // 2. Take the newest compute frame while the stage has room.
    if (count < depth && compute_tb.has_new()) {
      // With the GPU particle pull the stage still reads the slot this take
      // hands back to the compute writer: wait until it no longer does.
      if (count > 0) {
        const RenderInFlight& newest = ring[(head + count - 1) % kMaxFramesInFlight];
        if (auto released = vulkan->wait_slot_released(newest.ticket, kRenderTimeout); !released) {
          set_fatal("render failed at frame " + std::to_string(newest.frame + 1) + ": " + released.error().what());
          fail_in_flight(ring, head, count);
          break;
        }
      }
      if (window != nullptr) handle_window_input();  // Esc, Q, pause, step
      RenderInFlight& next = ring[(head + count) % kMaxFramesInFlight];
      const Take took = take_and_submit(compute_tb, ticket, count == 0, next);
      if (took == Take::kFailed) {
        fail_in_flight(ring, head, count);
        break;
      }
      if (took == Take::kSubmitted) {
        ++count;
        ++ticket;
      }
      continue;
    }
    if (progressed) continue;
    if (count == 0) {
      // Leave only once the loop is done (it stops promptly on a stop
      // request) and its last publish has been taken: every computed frame
      // is then presented or counted dropped.
      // SYNC(loop-done): acquire pairs with the loop's release after its last
      // publish, so the has_new() re-check below sees that frame.
      if (loop_done.load(std::memory_order_acquire)) {
        if (!compute_tb.has_new()) break;
        continue;
      }
    } else if (auto health = ring[head].on_cpu || ring[head].isolated ? Result<void>{} : vulkan->health();
               !health) {  // a failed stage completes nothing more
      const RenderInFlight& oldest = ring[head];
      set_fatal("render failed at frame " + std::to_string(oldest.frame + 1) + ": " + health.error().what());
      fail_in_flight(ring, head, count);
      break;
    }
    if (window != nullptr) handle_window_input();  // keys while no frame comes (paused)
    (void)report::timed_wait(render_wake, seen, kWaitSlice, SpinPolicy{}, report::WaitKind::kIdle);
  }
  leave_render_thread(compute_tb, probe);
}

// How many frames the stage that took `f` has finished.
std::uint64_t Engine::Impl::stage_completed(const RenderInFlight& f) const {
  return f.isolated ? isolated->completed() : f.on_cpu ? cpu->completed() : vulkan->completed();
}

// Takes the newest compute frame and submits it to the render stage, into
// the result buffer's write zone when `result_zone_free`, else with its
// result zone named later. kFailed is fatal (said and counted).
Engine::Impl::Take Engine::Impl::take_and_submit(TripleBuffer& compute_tb, std::uint64_t ticket,
                                                 bool result_zone_free, RenderInFlight& out) {
  TRIPTYCH_SPAN("render submit");
  const TripleBuffer::Frame input = compute_tb.acquire_latest();
  if (!input.is_new) return Take::kNothing;
  const std::uint32_t r = compute_tb.indices().reader;
  if (!slot_index_ok(r, "compute reader")) return Take::kFailed;
  const std::uint64_t frame = slot_frame[r];
  const std::uint64_t taken_ns = trace::now_ns();
  render_busy_since.store(taken_ns, std::memory_order_relaxed);
  // SYNC(consumed): publishes the take above to the frame loop's backpressure wait.
  (void)fetch_add_and_wake(consumed, 1, 1);

  render::FrameInput in;
  in.frame = frame;
  in.compute_slot = input.data;
  in.particle_count = slot_particles[r];  // written before the publish (SYNC(tb-state))
  in.layout_zone = static_cast<std::uint32_t>(ticket % 3);
  in.result_zone = render::kResultZoneLater;
  if (result_zone_free) {
    in.result_zone = arena->triple_buffer(FrameStage::kResult).indices().writer;
    if (!slot_index_ok(in.result_zone, "result writer")) {
      drop_frame(frame);
      return Take::kFailed;
    }
  }
  if (governor) {
    in.resolution_scale = governor->settings().resolution_scale;
    in.draw_stride = governor->settings().draw_stride;
  }
  const bool on_isolated = use_isolated.load(std::memory_order_relaxed);
  const Result<std::uint64_t> t = on_isolated ? isolated->submit(in) : use_cpu ? cpu->submit(in) : vulkan->submit(in);
  if (!t && on_isolated && isolated_frame_lost(frame, t.error())) return Take::kNothing;
  if (!t) {
    fail_frame(frame, std::string("render failed: ") + t.error().what());
    set_fatal("render failed at frame " + std::to_string(frame + 1) + ": " + t.error().what());
    return Take::kFailed;
  }
  out = RenderInFlight{t.value(), frame,       taken_ns,           in.result_zone, result_zone_free,
                       use_cpu,    on_isolated, in.resolution_scale, in.draw_stride};
  return Take::kSubmitted;
}

// The render stage finished `f`: count it, stamp it, publish and present it.
// False (fatal, said and counted) when the stage or the result buffer failed.
bool Engine::Impl::finish(const RenderInFlight& f) {
  TRIPTYCH_SPAN("render finish");
  const Result<render::FrameInfo> info =
      f.isolated ? isolated->wait_frame(f.ticket, kRenderTimeout)
      : f.on_cpu ? cpu->wait_frame(f.ticket, kRenderTimeout)
                 : vulkan->wait_frame(f.ticket, kRenderTimeout);
  if (!info) {
    fail_frame(f.frame, std::string("render failed: ") + info.error().what());
    set_fatal("render failed at frame " + std::to_string(f.frame + 1) + ": " + info.error().what());
    return false;
  }
  stall_for_test(f);
  if (!stretch_if_scaled(f, info.value())) {
    drop_frame(f.frame);
    return false;
  }
  note_render(f.frame, info.value(), f.taken_ns);
  const std::uint64_t render_ns = trace::now_ns() - f.taken_ns;
  if (!present(f.frame, f.result_zone)) return false;
  if (window != nullptr) {
    if (presenter_clock) {
      // The presenter's work for the clock: take -> present return.
      render_work.record(trace::now_ns() - f.taken_ns);
      render_p99_ns.store(render_work.p99(), std::memory_order_relaxed);  // an estimate: see its declaration
    }
    feed_hud(f.frame, info.value());
  }
  govern(f.frame, render_ns);
  adapt_plan(f.frame, render_ns);
  return true;
}

// The oldest frame in flight gets the result buffer's write zone its
// predecessor's publish freed. False (fatal, said) on a refusal.
bool Engine::Impl::attach_result_zone(RenderInFlight& f) {
  const std::uint32_t zone = arena->triple_buffer(FrameStage::kResult).indices().writer;
  if (!slot_index_ok(zone, "result writer")) return false;
  if (auto ok = vulkan->attach_result(f.ticket, zone); !ok) {
    set_fatal("render failed at frame " + std::to_string(f.frame + 1) + ": " + ok.error().what());
    return false;
  }
  f.result_zone = zone;
  f.zone_attached = true;
  return true;
}

// The run stopped with frames still in the render stage: none will be
// presented, so each counts failed (never unaccounted).
void Engine::Impl::fail_in_flight(const std::array<RenderInFlight, kMaxFramesInFlight>& ring, std::uint32_t head,
                                  std::uint32_t count) {
  for (std::uint32_t i = 0; i < count; ++i) {
    fail_frame(ring[(head + i) % kMaxFramesInFlight].frame, "render failed: the run stopped with this frame in flight");
  }
}

// Counts the stage's validation verdicts, stamps the stage's own times and
// folds this render into the just-in-time estimate.
void Engine::Impl::note_render(std::uint64_t frame, const render::FrameInfo& info, std::uint64_t taken_ns) {
  particles_rejected.fetch_add(info.stats.dropped(), std::memory_order_relaxed);
  particles_clamped.fetch_add(info.stats.clamped, std::memory_order_relaxed);
  (void)table->stamp(frame, trace::Stage::kRenderStart, static_cast<std::uint64_t>(info.render_start_ns));
  (void)table->stamp(frame, trace::Stage::kRenderEnd, static_cast<std::uint64_t>(info.render_end_ns));
  const std::uint64_t d = trace::now_ns() - taken_ns;
  const std::uint64_t e = ema_render_ns.load(std::memory_order_relaxed);
  ema_render_ns.store(e == 0 ? d : e - e / 8 + d / 8, std::memory_order_relaxed);
  render_busy_since.store(0, std::memory_order_relaxed);
}

// A fake slow renderer for tests (EngineConfig::test_render_stall).
void Engine::Impl::stall_for_test(const RenderInFlight& f) {
  if (!cfg.test_render_stall) return;
  const double cost = static_cast<double>(f.resolution_scale) * f.resolution_scale / f.draw_stride;
  const std::uint64_t ns = cfg.test_render_stall(f.frame, f.on_cpu ? RendererKind::kCpu : RendererKind::kVulkan, cost);
  if (ns != 0) std::this_thread::sleep_for(std::chrono::nanoseconds(ns));
}

// A frame drawn at a governor's resolution scale fills the top-left corner
// of its result image: stretch it over the image before anyone sees it.
// False (fatal) when the zone refuses, which only a corrupt header can make it.
bool Engine::Impl::stretch_if_scaled(const RenderInFlight& f, const render::FrameInfo& info) {
  // The GPU particle pull draws at full size (a shed frame under --particle-path
  // gpu keeps it): only a frame the layout pass drew scaled is stretched.
  if (f.resolution_scale >= 1.0F || info.particles_on_gpu) return true;
  const render::LayoutParams drawn = render::scaled_layout(layout, f.resolution_scale, f.draw_stride);
  const auto result = zone(static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kResultA) + f.result_zone));
  if (auto ok = render::stretch_result_zone(result, drawn.width, drawn.height); !ok) {
    set_fatal(std::string("cannot stretch a scaled frame over its result zone: ") + ok.error().what());
    return false;
  }
  return true;
}

// Feeds the governor this presented frame's latency and render time, and
// applies and records what it decides.
void Engine::Impl::govern(std::uint64_t frame, std::uint64_t render_ns) {
  if (!governor) return;
  trace::FrameSnapshot snap;
  if (table->try_read(frame, snap) != trace::ReadStatus::kOk) return;
  const std::uint64_t queued = snap.at(trace::Stage::kQueued);
  const std::uint64_t now = trace::now_ns();
  // With host_presents the host stamps later: the render's end stands in.
  const std::uint64_t shown_ns = snap.at(trace::Stage::kPresented) != 0 ? snap.at(trace::Stage::kPresented) : now;
  if (queued == 0 || shown_ns < queued) return;
  const auto decision = governor->observe(frame, queued, shown_ns - queued, render_ns, now);
  if (!decision) return;
  governor_level.store(decision->to_level, std::memory_order_relaxed);  // a setting: see its declaration
  governor_changes.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(message_mu);
  if (governor_log.size() < kKeptDecisions) governor_log.push_back(*decision);  // reserved: no allocation
}

// Feeds the adaptive core plan this frame's compute time (from its trace
// stamps) and render time. On a move (rare: seconds apart) it publishes the
// new sets to both pools, whose members re-pin themselves at their next
// search, and re-pins this thread to the render set; only then does it
// allocate or lock.
void Engine::Impl::adapt_plan(std::uint64_t frame, std::uint64_t render_ns) {
  if (!adaptive) return;
  trace::FrameSnapshot snap;
  if (table->try_read(frame, snap) != trace::ReadStatus::kOk) return;
  const std::uint64_t start = snap.at(trace::Stage::kComputeStart);
  const std::uint64_t end = snap.at(trace::Stage::kComputeEnd);
  if (start == 0 || end < start) return;
  const auto move = adaptive->observe(frame, end - start, render_ns, trace::now_ns());
  if (!move) return;
  const sched::CpuSet compute_cpus = adaptive->compute();
  const sched::CpuSet render_cpus = adaptive->render();
  (void)compute_pool->repin(compute_cpus);
  (void)render_pool->repin(render_cpus);
  // A refused pin keeps this thread where it was: it still runs.
  (void)sched::pin_current_thread(render_cpus, {});
  core_move_count.fetch_add(1, std::memory_order_relaxed);  // a count: see its declaration
  std::lock_guard<std::mutex> lock(message_mu);
  compute_cpus_now = compute_cpus;
  render_cpus_now = render_cpus;
  if (core_move_log.size() < kKeptDecisions) core_move_log.push_back(*move);  // reserved: no allocation
}

// Publishes the rendered frame and presents it (or, with host_presents,
// leaves it for copy_result). False (fatal) when the result buffer refused.
bool Engine::Impl::present(std::uint64_t frame, std::uint32_t result_zone) {
  TripleBuffer& result_tb = arena->triple_buffer(FrameStage::kResult);
  result_frame[result_zone] = frame;
  if (cfg.host_presents) {
    // The host copies frames out and stamps them; one it never took before
    // this one replaced it was rendered but never shown: dropped.
    return publish_counting_drop(result_tb, result_frame, "result writer");
  }
  if (result_tb.publish() == 0) {
    fail_frame(frame, "render failed: the result triple buffer refused the publish");
    set_fatal("the result writer was refused a publish: its triple buffer's control block is corrupt or "
              "the role was taken over");
    return false;
  }
  // Present: headless, the engine itself is the result buffer's reader; the
  // frame it takes is the one a window or UI would show.
  (void)result_tb.acquire_latest();
  mark_presented(frame);
  return true;
}

// Stops the run, waits for the frame loop, counts a frame it published that
// nobody will render dropped, and says "finished".
void Engine::Impl::leave_render_thread(TripleBuffer& compute_tb, report::ThreadProbe& probe) {
  stop_requested.store(true, std::memory_order_relaxed);  // a flag: see its declaration
  (void)fetch_add_and_wake(consumed, 1, INT_MAX);
  (void)probe.finish();  // records this thread's counters for the report
  // Wait for the loop before saying "finished": it may still be dispatching.
  // SYNC(loop-done): acquire side, as above.
  while (!loop_done.load(std::memory_order_acquire)) {
    // `consumed` is only a wake channel here: loop_done carries the ordering.
    (void)wait(consumed, consumed.value.load(std::memory_order_relaxed), kWaitSlice);
  }
  // After a render failure the loop may have published a frame nobody will
  // render: it was computed, never shown, so it is dropped (never unaccounted).
  if (compute_tb.has_new() && compute_tb.acquire_latest().is_new) {
    const std::uint32_t r = compute_tb.indices().reader;
    if (slot_index_ok(r, "compute reader")) drop_frame(slot_frame[r]);
  }
  // SYNC(finished): publishes this run's final accounting to whoever sees finished().
  (void)store_and_wake(finished, 1, INT_MAX);
}

}  // namespace triptych::pipeline
