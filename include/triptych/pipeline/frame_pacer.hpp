// SPDX-License-Identifier: Apache-2.0
// FramePacer: the frame pacing rule, defined once. Deadlines are absolute
// (period after period from the start, so sleeps do not accumulate drift);
// a frame that starts late moves the next deadline to now rather than letting
// the loop fire a burst of catch-up frames. Pure arithmetic on CLOCK_MONOTONIC
// nanoseconds the caller passes in; waiting is the caller's (the native frame
// loop sleeps, the copy baseline's JS loop awaits). Wait-free; one owner
// thread. Used by src/pipeline/frame_loop.cpp and, through the addon's
// FramePacer, by node/lib/baseline.mjs. Design: docs/pipeline.md ("Per frame").
#pragma once

#include <algorithm>
#include <cstdint>

namespace triptych::pipeline {

class FramePacer {
 public:
  // period_ns 0: unpaced (every frame starts at once).
  FramePacer(std::uint64_t period_ns, std::uint64_t now_ns) noexcept
      : period_ns_(period_ns), deadline_ns_(now_ns + period_ns) {}

  [[nodiscard]] bool paced() const noexcept { return period_ns_ != 0; }
  // When the next frame is due.
  [[nodiscard]] std::uint64_t deadline_ns() const noexcept { return deadline_ns_; }
  // The frame due at deadline_ns() starts at now_ns: the next one is due a
  // period later, or at now_ns when that is already past.
  void start_frame(std::uint64_t now_ns) noexcept { deadline_ns_ = std::max(deadline_ns_ + period_ns_, now_ns); }

 private:
  std::uint64_t period_ns_;
  std::uint64_t deadline_ns_;
};

}  // namespace triptych::pipeline
