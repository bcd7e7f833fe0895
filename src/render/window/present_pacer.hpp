// SPDX-License-Identifier: Apache-2.0
// The window presenter's clock: absolute present deadlines one period apart,
// and the wake-up before each, deadline - (rolling p99 of the presenter's own
// work + a margin), so a present returns close to its deadline whatever the
// swapchain's present mode does (FIFO does not throttle under Xvfb, and GLFW
// reports a 0 Hz monitor there). A present that returns more than half a
// period late is a miss; the next deadline then skips to the first slot after
// it, keeping the phase. Plain state, no allocation, no atomics: one thread
// (the presenter's). docs/presenter.md ("Pacing").
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "triptych/core/rolling_p99.hpp"

namespace triptych::render {

class PresentPacer {
 public:
  // Work durations the p99 is taken over: the last 128 presents.
  static constexpr std::size_t kWorkWindow = RollingP99::kWindow;

  // hz <= 0: unpaced (wake_ns is always "now").
  PresentPacer(double hz, std::int64_t margin_ns) noexcept
      : period_ns_(hz > 0 ? static_cast<std::int64_t>(1e9 / hz) : 0), margin_ns_(margin_ns) {}  // as FramePacer

  [[nodiscard]] bool paced() const noexcept { return period_ns_ > 0; }
  [[nodiscard]] std::int64_t period_ns() const noexcept { return period_ns_; }
  [[nodiscard]] std::int64_t deadline_ns() const noexcept { return deadline_ns_; }

  // When to start the next present's work (CLOCK_MONOTONIC ns). The first
  // call wakes at once and sets the deadline grid's phase from `now_ns`, so
  // frames that arrive at the same rate (the engine's frame loop paces at the
  // same hz) land on their wake-ups instead of waiting most of a period.
  [[nodiscard]] std::int64_t wake_ns(std::int64_t now_ns) noexcept {
    if (!paced()) return now_ns;
    const std::int64_t lead_ns = p99_work_ns() + margin_ns_;
    if (deadline_ns_ == 0) deadline_ns_ = now_ns + lead_ns;
    return deadline_ns_ - lead_ns;
  }

  // A present's work ran from `work_start_ns` to its return at `presented_ns`.
  // Records the work and moves to the next deadline; true when this one was missed.
  bool presented(std::int64_t work_start_ns, std::int64_t presented_ns) noexcept {
    work_.record(static_cast<std::uint64_t>(std::max<std::int64_t>(0, presented_ns - work_start_ns)));
    if (!paced()) return false;
    const bool missed = presented_ns > deadline_ns_ + period_ns_ / 2;
    deadline_ns_ += period_ns_;
    if (deadline_ns_ <= presented_ns) {
      deadline_ns_ += ((presented_ns - deadline_ns_) / period_ns_ + 1) * period_ns_;
    }
    return missed;
  }

  // The 99th percentile of the recorded work (0 before the first present).
  [[nodiscard]] std::int64_t p99_work_ns() const noexcept { return static_cast<std::int64_t>(work_.p99()); }

 private:
  std::int64_t period_ns_;
  std::int64_t margin_ns_;
  std::int64_t deadline_ns_ = 0;
  RollingP99 work_;
};

}  // namespace triptych::render
