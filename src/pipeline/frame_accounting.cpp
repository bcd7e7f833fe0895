// SPDX-License-Identifier: Apache-2.0
// Frame accounting: how each frame ends up counted (computed, failed,
// dropped, presented, late), fatal errors and failure causes, and the
// range checks on triple-buffer indices that come from shared memory.
// Counters are relaxed atomics (wait-free); causes and the fatal message take
// message_mu, on the failure path only. Called from the frame loop, the render
// thread, compute members and the host thread. Design: docs/pipeline.md,
// "Invariants".
#include <algorithm>
#include <mutex>
#include <string>
#include <utility>

#include "engine_impl.hpp"
#include "triptych/trace/clock.hpp"

namespace triptych::pipeline {
namespace {

// Failed frames whose cause is kept for the outputs; later ones are counted.
constexpr std::size_t kKeptFailures = 256;

}  // namespace

void Engine::Impl::set_fatal(const std::string& message) {
  std::lock_guard<std::mutex> lock(message_mu);
  if (fatal.empty()) fatal = message;
  stop_requested.store(true, std::memory_order_relaxed);  // a flag: see its declaration
}

void Engine::Impl::record_failure(const std::string& message) {
  frame_failed.store(true, std::memory_order_relaxed);  // ordered by SYNC(group-done)
  std::lock_guard<std::mutex> lock(message_mu);
  last_failure = message;
  if (frame_cause.empty()) frame_cause = message;
}

// Counts `frame` failed, flags its record and keeps its cause (or the first
// failure recorded while it ran).
void Engine::Impl::fail_frame(std::uint64_t frame, const std::string& cause) {
  failed.fetch_add(1, std::memory_order_relaxed);
  (void)table->mark_failed(frame);
  std::lock_guard<std::mutex> lock(message_mu);
  std::string why = cause.empty() ? frame_cause : cause;
  if (why.empty()) why = "failed (no cause recorded)";
  if (failure_log.size() < kKeptFailures) {
    failure_log.push_back(report::FrameFailure{frame, std::move(why)});
  } else {
    ++failures_not_kept;
  }
}

// Counts a computed frame that will never be shown dropped and flags it.
void Engine::Impl::drop_frame(std::uint64_t frame) {
  dropped.fetch_add(1, std::memory_order_relaxed);
  (void)table->mark_dropped(frame);
}

// Slot indices come from control blocks in shared memory, so each is
// range-checked where it is used; one out of range fails the run.
bool Engine::Impl::slot_index_ok(std::uint32_t index, const char* what) {
  if (index < 3) return true;
  set_fatal(std::string("corrupt triple buffer: ") + what + " index " + std::to_string(index) +
            " is out of range");
  return false;
}

// Publishes; when that overwrote an unread frame (kDrop, or a host that did
// not take its frame), counts it dropped. The new write slot is the one that
// held it. False (fatal) on an out-of-range index.
bool Engine::Impl::publish_counting_drop(TripleBuffer& tb, const std::array<std::uint64_t, 3>& frames,
                                         const char* what) {
  const std::uint64_t dropped_before = tb.dropped();
  if (tb.publish() == 0) {
    set_fatal(std::string("the ") + what + " was refused a publish: its triple buffer's control block is "
              "corrupt or the role was taken over");
    return false;
  }
  if (tb.dropped() == dropped_before) return true;
  const std::uint32_t w = tb.indices().writer;
  if (!slot_index_ok(w, what)) return false;
  drop_frame(frames[w]);
  return true;
}

// Records which frame the compute write slot holds and publishes it (frame
// loop or host_frame). Returns nullptr, or why the frame could not be
// published (fatal already).
const char* Engine::Impl::publish_compute(std::uint64_t frame, std::uint32_t particles) {
  TripleBuffer& tb = arena->triple_buffer(FrameStage::kCompute);
  const std::uint32_t w = tb.indices().writer;
  if (!slot_index_ok(w, "compute writer")) return "the compute triple buffer is corrupt";
  slot_frame[w] = frame;
  slot_particles[w] = particles;
  if (!publish_counting_drop(tb, slot_frame, "compute writer")) {
    return "the compute triple buffer refused the publish";
  }
  computed.fetch_add(1, std::memory_order_relaxed);
  // SYNC(render-wake): the render thread re-checks has_new() after this bump.
  (void)fetch_add_and_wake(render_wake, 1, 1);
  return nullptr;
}

// The rate divisor `frame` was paced at (1 when the loop never paced it).
std::uint32_t Engine::Impl::divisor_of(std::uint64_t frame) const {
  const std::uint32_t d = frame_divisor[frame % kDivisorRing].load(std::memory_order_relaxed);
  return d == 0 ? 1 : d;
}

// Stamps `frame` presented, counts it (late when it took longer than a frame
// period end to end) and records its latency for status().
void Engine::Impl::mark_presented(std::uint64_t frame) {
  std::uint64_t now = trace::now_ns();
  trace::FrameSnapshot snap;
  const bool read = table->try_read(frame, snap) == trace::ReadStatus::kOk;
  // In a window: when its present returned, or when the GPU finished it if
  // that was later (the screen cannot show it sooner).
  const std::int64_t shown = window != nullptr ? window->presented_at(frame) : 0;
  if (shown > 0) now = std::max(static_cast<std::uint64_t>(shown), read ? snap.at(trace::Stage::kRenderEnd) : 0);
  (void)table->stamp(frame, trace::Stage::kPresented, now);
  presented.fetch_add(1, std::memory_order_relaxed);
  if (read) {
    const std::uint64_t latency = now - snap.at(trace::Stage::kQueued);
    // Late against the period the frame was paced at (a governor may have
    // divided the rate).
    if (period_ns != 0 && latency > period_ns * divisor_of(frame)) late.fetch_add(1, std::memory_order_relaxed);
    const std::uint64_t n = recent_count.load(std::memory_order_relaxed);
    recent_latency[n % kRecent].store(latency, std::memory_order_relaxed);
    recent_presented[n % kRecent].store(now, std::memory_order_relaxed);
    // SYNC(recent): publishes the latency and time entries above to status().
    recent_count.store(n + 1, std::memory_order_release);
  }
}

}  // namespace triptych::pipeline
