// SPDX-License-Identifier: Apache-2.0
// Compute members: threads the engine did not create (Node workers running
// the WASM kernel) that join the compute pool to run chunks, the failures
// they and the host report, and the drainer abandon_compute() starts when no
// worker will come back. take() blocks up to its timeout (futex); the rest
// returns at once. join_compute() from any thread that becomes a worker; a
// ComputeMember is used by that thread only; abandon_compute() and
// fail_current_frame() from any thread. Design: docs/pipeline.md, "Failure
// behaviour".
#include <pthread.h>

#include <string>
#include <thread>
#include <utility>

#include "engine_impl.hpp"
#include "triptych/sched/pinning.hpp"

namespace triptych::pipeline {

// Wakes members parked in take() (a no-op task each runs and hands back), so
// they see the engine finished now rather than at their timeout.
void Engine::Impl::wake_members() noexcept {
  if (cfg.compute != ComputeBackend::kExternal) return;
  try {
    for (std::uint32_t i = 0; i < cfg.workers; ++i) (void)compute_pool->submit([] {});
  } catch (...) {  // out of memory: members still see the end at their next timeout
  }
}

// The drainer's body: a native member that hands every chunk back as failed
// without running it, so a parallel_for no worker will serve returns. It
// needs a free member slot: it retries until a dead worker's slot is free or
// the loop is done (the surviving members skip a failed frame's chunks
// themselves).
void Engine::Impl::drain_compute() {
  (void)sched::pin_current_thread({}, "tp-drainer");  // names it; a name is cosmetic
  // SYNC(loop-done): acquire side; once the loop is done no chunk will come.
  while (!loop_done.load(std::memory_order_acquire)) {
    auto member = compute_pool->join();
    if (!member) {
      std::this_thread::sleep_for(kWaitSlice);
      continue;
    }
    while (!loop_done.load(std::memory_order_acquire)) {  // SYNC(loop-done): as above
      auto job = member->take(kWaitSlice);
      if (!job) continue;
      if (!job->is_chunk()) job->run();
      frame_failed.store(true, std::memory_order_relaxed);  // ordered by SYNC(group-done)
      member->complete(std::move(*job));
    }
    member->leave();
  }
}

void Engine::abandon_compute(const std::string& reason) {
  Impl& m = *impl_;
  m.set_fatal(reason);
  m.record_failure(reason);
  request_stop();
  if (m.cfg.compute != ComputeBackend::kExternal || m.draining.exchange(true, std::memory_order_relaxed)) return;
  m.drainer = std::thread([&m] { m.drain_compute(); });
}

void Engine::fail_current_frame(const std::string& cause) { impl_->record_failure(cause); }

Result<ComputeMember> Engine::join_compute() {
  if (impl_->cfg.compute != ComputeBackend::kExternal) {
    return make_error(Errc::kInvalidArgument, "this engine computes natively; it has no external slots");
  }
  auto member = impl_->compute_pool->join();
  if (!member) return member.error();
  return ComputeMember(this, std::move(member).value());
}

ComputeMember::~ComputeMember() { leave(); }

std::optional<ComputeJob> ComputeMember::take(std::chrono::nanoseconds timeout) {
  if (left_ || job_) return std::nullopt;
  Engine::Impl& m = *engine_->impl_;
  // SYNC(loop-done): acquire side; no chunk will come once the loop is done.
  if (m.loop_done.load(std::memory_order_acquire)) return std::nullopt;
  auto job = member_.take(timeout);
  if (!job) return std::nullopt;
  if (!job->is_chunk()) {  // not ours to interpret: run it natively and look again
    job->run();
    member_.complete(std::move(*job));
    return std::nullopt;
  }
  // A chunk of a frame that already failed (a trap, a passed deadline, a lost
  // worker) is handed back unrun: the frame is never shown, and a kernel that
  // hangs on it must not cost another deadline. Relaxed: the flag is all we
  // read, and the frame's reset of it reached us with the chunk (SYNC(inbox)).
  if (m.frame_failed.load(std::memory_order_relaxed)) {
    member_.complete(std::move(*job));
    return std::nullopt;
  }
  ComputeJob out;
  out.begin = static_cast<std::uint32_t>(job->begin());
  out.end = static_cast<std::uint32_t>(job->end());
  out.frame = m.dispatch_frame.load(std::memory_order_relaxed);
  out.ctx_address = m.ctx_address;
  job_ = std::move(job);
  return out;
}

void ComputeMember::complete(std::int32_t status, const std::string& message) {
  if (!job_) return;
  if (status != 0) {
    Engine::Impl& m = *engine_->impl_;
    m.record_failure(message.empty() ? "kernel returned " + std::to_string(status) + " at frame " +
                                           std::to_string(m.dispatch_frame.load(std::memory_order_relaxed)) + ", chunk [" +
                                           std::to_string(job_->begin()) + ", " + std::to_string(job_->end()) + ")"
                                     : message);
  }
  // record_failure's store happens before the chunk's completion, which the
  // frame loop acquires when parallel_for returns (SYNC(group-done)).
  member_.complete(std::move(*job_));
  job_.reset();
}

void ComputeMember::leave(const std::string& reason) {
  if (left_) return;
  if (job_) complete(-1, reason);
  member_.leave();
  left_ = true;
}

}  // namespace triptych::pipeline
