// SPDX-License-Identifier: Apache-2.0
// PresentClock: the presenter's clock for a windowed run, which the frame
// loop keeps (EngineConfig::clock, kPresenter). Present deadlines are
// absolute, one period apart; before each, the frame is handed to the render
// thread at the presenter's wake-up, deadline - (rolling p99 of render work +
// margin), and its compute is issued earlier by the rolling p99 of compute
// and a slack. So one grid of deadlines sets every time and there is one
// phase. A frame that starts more than half a period after its issue time
// moves to the first deadline it can still meet, keeping the phase (no burst
// to catch up). RollingP99 keeps the newest kWindow durations, after a
// warm-up whose samples it ignores. Pure
// arithmetic on CLOCK_MONOTONIC ns the caller passes in; no allocation, no
// atomics: one owner thread (the frame loop). Design: docs/pipeline.md
// ("Who owns the clock").
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace triptych::pipeline {

// The 99th percentile of the newest kWindow durations recorded.
class RollingP99 {
 public:
  static constexpr std::size_t kWindow = 128;
  // The first `warmup` records are first use (a swapchain's first images,
  // page faults), not the steady cost: ignored. Until kWindow records a p99
  // is nearly the maximum, so one such outlier would set the lead for a
  // hundred frames and then, leaving the window, jump the phase.
  explicit RollingP99(std::uint32_t warmup = 0) noexcept : warmup_(warmup) {}
  void record(std::uint64_t ns) noexcept {
    if (warmup_ > 0) {
      --warmup_;
      return;
    }
    samples_[count_ % kWindow] = ns;
    ++count_;
  }
  // 0 before the first record.
  [[nodiscard]] std::uint64_t p99() const noexcept {
    const std::size_t n = std::min<std::uint64_t>(count_, kWindow);
    if (n == 0) return 0;
    std::array<std::uint64_t, kWindow> sorted{};
    std::copy_n(samples_.begin(), n, sorted.begin());
    const std::size_t rank = (n * 99 + 99) / 100 - 1;  // ceil(0.99 n) - 1
    std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(rank),
                     sorted.begin() + static_cast<std::ptrdiff_t>(n));
    return sorted[rank];
  }

 private:
  std::array<std::uint64_t, kWindow> samples_{};
  std::uint64_t count_ = 0;
  std::uint32_t warmup_;
};

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
