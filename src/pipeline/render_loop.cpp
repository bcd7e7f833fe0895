// SPDX-License-Identifier: Apache-2.0
// The render thread (`tp-render`): waits for a compute frame, runs the render
// stage on it (layout pass on the render pool, GPU or CPU raster, readback
// into the result triple buffer), publishes and presents the result, and at
// the end accounts for a computed frame nobody will render. Blocking (futex
// waits, the stage's wait_frame). Runs on its own thread only, started by
// Engine::start(). Design: docs/pipeline.md, "Per frame" and "Orderings".
#include <climits>
#include <string>

#include "engine_impl.hpp"
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
  TripleBuffer& result_tb = arena->triple_buffer(FrameStage::kResult);
  std::uint64_t ticket = 0;
  for (;;) {
    if (!compute_tb.has_new()) {
      // Leave only once the loop is done (it stops promptly on a stop
      // request) and its last publish has been taken: every computed frame
      // is then presented or counted dropped.
      // SYNC(loop-done): acquire pairs with the loop's release after its last
      // publish, so the has_new() re-check below sees that frame.
      if (loop_done.load(std::memory_order_acquire)) {
        if (!compute_tb.has_new()) break;
        continue;
      }
      WaitWord& published = compute_tb.control().publish_word;
      // SYNC(tb-wake): acquire pairs with publish()'s bump of the publish word.
      (void)report::timed_wait(published, published.value.load(std::memory_order_acquire), kWaitSlice,
                              SpinPolicy{}, report::WaitKind::kIdle);
      continue;
    }
    const TripleBuffer::Frame input = compute_tb.acquire_latest();
    if (!input.is_new) continue;
    const std::uint32_t r = compute_tb.indices().reader;
    if (!slot_index_ok(r, "compute reader")) break;
    const std::uint64_t frame = slot_frame[r];
    const std::uint64_t taken_ns = trace::now_ns();
    render_busy_since.store(taken_ns, std::memory_order_relaxed);
    // SYNC(consumed): publishes the take above to the frame loop's backpressure wait.
    (void)fetch_add_and_wake(consumed, 1, 1);

    render::FrameInput in;
    in.frame = frame;
    in.compute_slot = input.data;
    in.particle_count = cfg.particles;
    in.layout_zone = static_cast<std::uint32_t>(ticket % 3);
    in.result_zone = result_tb.indices().writer;
    if (!slot_index_ok(in.result_zone, "result writer")) {
      drop_frame(frame);
      break;
    }
    ++ticket;
    const Result<render::FrameInfo> info = render_frame(in);
    if (!info) {
      fail_frame(frame, std::string("render failed: ") + info.error().what());
      set_fatal("render failed at frame " + std::to_string(frame + 1) + ": " + info.error().what());
      break;
    }
    note_render(frame, info.value(), taken_ns);
    if (!present(frame, in.result_zone)) break;
  }
  leave_render_thread(compute_tb, probe);
}

// Submits one frame to the render stage and waits for it.
Result<render::FrameInfo> Engine::Impl::render_frame(const render::FrameInput& in) {
  TRIPTYCH_SPAN("render");
  if (vulkan) {
    auto t = vulkan->submit(in);
    if (!t) return t.error();
    return vulkan->wait_frame(t.value(), kRenderTimeout);
  }
  auto t = cpu->submit(in);
  if (!t) return t.error();
  return cpu->wait_frame(t.value(), kRenderTimeout);
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
