// SPDX-License-Identifier: Apache-2.0
// PresentClock: the presenter's clock for a windowed run, which the frame
// loop keeps (EngineConfig::clock, kPresenter). Present deadlines are
// absolute, one period apart; before each, the frame is handed to the render
// thread at the presenter's wake-up, deadline - (rolling p99 of render work +
// margin), and its compute is issued earlier by the rolling p99 of compute
// and a slack. So one grid of deadlines sets every time and there is one
// phase. A frame that starts more than half a period after its issue time
// moves to the first deadline it can still meet, keeping the phase (no burst
// to catch up). The p99s are RollingP99s (core/rolling_p99.hpp). Pure
// arithmetic on CLOCK_MONOTONIC ns the caller passes in; no allocation, no
// atomics: one owner thread (the frame loop). Design: docs/pipeline.md
// ("Who owns the clock").
#pragma once

#include <algorithm>
#include <cstdint>

#include "triptych/core/rolling_p99.hpp"

namespace triptych::pipeline {

using triptych::RollingP99;  // core/rolling_p99.hpp, shared with the presenter's pacer

class PresentClock {
 public:
  // gamescope's safety margin between the presenter's work and its deadline.
  static constexpr std::uint64_t kMarginNs = 1'650'000;
  // Added to compute's p99: the frame loop's own wake-up latency.
  static constexpr std::uint64_t kIssueSlackNs = 250'000;
  // Frames whose work is first use, left out of both p99s (RollingP99's warm-up).
  static constexpr std::uint32_t kWarmupFrames = 10;

  // The first deadline is a period after `now_ns`. period_ns > 0.
  PresentClock(std::uint64_t period_ns, std::uint64_t now_ns) noexcept
      : period_ns_(period_ns), deadline_ns_(now_ns + period_ns) {}

  [[nodiscard]] std::uint64_t period_ns() const noexcept { return period_ns_; }
  // The present deadline of the frame to issue next.
  [[nodiscard]] std::uint64_t deadline_ns() const noexcept { return deadline_ns_; }
  // When the presenter takes the frame: deadline - (render p99 + margin).
  [[nodiscard]] std::uint64_t wake_ns(std::uint64_t render_p99_ns) const noexcept {
    return before(deadline_ns_, render_p99_ns + kMarginNs);
  }
  // When the frame's compute is issued: the wake-up - (compute p99 + slack).
  [[nodiscard]] std::uint64_t issue_ns(std::uint64_t render_p99_ns, std::uint64_t compute_p99_ns) const noexcept {
    return before(wake_ns(render_p99_ns), compute_p99_ns + kIssueSlackNs);
  }
  // The frame loop is about to issue at `now_ns`: when that is more than half
  // a period past the issue time, the deadline moves to the first slot whose
  // issue time is not yet past, on the same grid.
  void catch_up(std::uint64_t now_ns, std::uint64_t render_p99_ns, std::uint64_t compute_p99_ns) noexcept {
    const std::uint64_t issue = issue_ns(render_p99_ns, compute_p99_ns);
    if (now_ns <= issue + period_ns_ / 2) return;
    deadline_ns_ += ((now_ns - issue) / period_ns_ + 1) * period_ns_;
  }
  // The frame due at deadline_ns() was issued: the next one is due a period later.
  void next_frame() noexcept { deadline_ns_ += period_ns_; }

 private:
  static std::uint64_t before(std::uint64_t t, std::uint64_t lead) noexcept { return t > lead ? t - lead : 0; }
  std::uint64_t period_ns_;
  std::uint64_t deadline_ns_;
};

}  // namespace triptych::pipeline
