// SPDX-License-Identifier: Apache-2.0
// The deadline governor: a pure controller that watches each presented
// frame's end-to-end latency against the frame budget and moves along one
// ladder of levels, shedding in a declared order: the renderer's cost first
// (resolution scale, then a deterministic subset of the particles drawn),
// then the frame rate (the next lower divisor of the target rate). It never
// touches the simulation's state or the kernel's particle count. Shedding is
// fast (two consecutive over-budget frames, or a window near the budget);
// restoring is slow and predicted (headroom held for a while, the cost at the
// lighter level scaled up to the heavier one must still fit), and a restore
// that had to be undone raises the bar for that level for a growing time, so
// the level never oscillates. No clock, no allocation per frame, no locks: the caller
// passes times in. One owner thread (the engine's render thread); the
// decisions it returns are copied out by the caller. Constants against their
// anchors (Unreal, Unity HDRP, Filament): docs/pipeline.md, "Deadline governor".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

namespace triptych::pipeline {

// What one level of the ladder sheds.
struct GovernorLevel {
  float resolution_scale = 1.0F;  // the render size is width x height times this
  std::uint32_t draw_stride = 1;  // draw every n-th particle (all are still validated)
  std::uint32_t rate_divisor = 1; // frames are paced at hz / rate_divisor
  // The renderer's relative cost at this level (1 at level 0): pixels x
  // particles drawn. Used only to predict, conservatively, what a restore costs.
  [[nodiscard]] constexpr double render_cost() const noexcept {
    return static_cast<double>(resolution_scale) * resolution_scale / draw_stride;
  }
};

// The ladder, lightest last. Order is the declared shedding order.
inline constexpr std::array<GovernorLevel, 9> kGovernorLadder{{
    {1.0F, 1, 1},
    {0.85F, 1, 1},
    {0.7F, 1, 1},
    {0.5F, 1, 1},
    {0.5F, 2, 1},
    {0.5F, 4, 1},
    {0.5F, 4, 2},
    {0.5F, 4, 3},
    {0.5F, 4, 4},
}};

struct GovernorConstants {
  // Shed when the window's p95 latency is above this share of the budget
  // (Unreal: 10 % headroom). p95, not p99: over a window of at most 64
  // frames a p99 is the maximum, and one scheduler hiccup would shed.
  double shed_fraction = 0.90;
  // Restore only when the heavier level's predicted p95 stays below this
  // share of its budget: the gap to shed_fraction is the hysteresis.
  double restore_fraction = 0.75;
  // Shed at once after this many consecutive frames over the budget (Unreal:
  // 2), straight to the first level predicted to fit (the lighter of those
  // frames, its render share scaled by the level's cost ratio, under
  // restore_fraction of that level's budget), as Unreal's dynamic resolution
  // jumps to the scale the GPU time asks for. A frame far over budget falls
  // in one decision, not one step per pair of frames.
  std::uint32_t urgent_frames = 2;
  // Frames seen at a level before an ordinary (window) change or a restore
  // (Unreal: 8). 20, so that the window's p95 ignores one outlier: over
  // fewer than 20 frames it is the maximum.
  std::uint32_t min_frames_between = 20;
  // The run's first frames pay for first use (pipeline creation, page
  // faults, a JIT warming up): they are not held against the budget. The
  // warm-up ends after warmup_frames frames or warmup_ns after the first,
  // whichever comes first: a scene at 10 fps must not run a second over
  // budget before the governor may act.
  std::uint32_t warmup_frames = 10;
  std::uint64_t warmup_ns = 200'000'000;
  // Headroom must hold this long (and for min_frames_between frames) before
  // each restore step: the whole ladder climbs back in about 2 s.
  std::uint64_t restore_hold_ns = 250'000'000;
  // A restore undone within this long failed: for a while that level is
  // restored to only with a much larger margin (the load has clearly gone)...
  std::uint64_t probation_ns = 2'000'000'000;
  double blocked_restore_fraction = 0.50;
  // ... for this long, doubling with each further failure.
  std::uint64_t failed_restore_block_ns = 8'000'000'000;
};

enum class GovernorReason : std::uint8_t {
  kConsecutiveOverBudget,  // shed: urgent_frames frames in a row past the budget
  kWindowNearBudget,       // shed: window p95 above shed_fraction of the budget
  kHeadroom,               // restore: predicted p95 below restore_fraction of the heavier level's budget
};
[[nodiscard]] std::string_view governor_reason_text(GovernorReason reason) noexcept;

// One change of level, with the figures that decided it.
struct GovernorDecision {
  std::uint64_t at_ns = 0;       // when it was decided (the caller's clock)
  std::uint64_t frame = 0;       // the frame whose sample decided it
  std::uint32_t from_level = 0;
  std::uint32_t to_level = 0;
  GovernorReason reason = GovernorReason::kWindowNearBudget;
  std::uint64_t measured_ns = 0;  // the latency that decided (p95, the last frame, or the predicted p95)
  std::uint64_t budget_ns = 0;    // the budget it was held to (of the level moved to, on a restore)
};

class Governor {
 public:
  // Samples kept for the window (the frames since the last change).
  static constexpr std::uint32_t kWindow = 64;

  // period_ns: the target frame period (must be > 0).
  explicit Governor(std::uint64_t period_ns, GovernorConstants constants = {}) noexcept
      : period_ns_(period_ns), k_(constants) {}

  // One presented frame: when it was queued, its latency (queued ->
  // presented) and the renderer's share of it, and now. Frames queued before
  // the last change were made under the old level and are ignored. Returns
  // the change it decided, if any. Wait-free, no allocation.
  std::optional<GovernorDecision> observe(std::uint64_t frame, std::uint64_t queued_ns, std::uint64_t latency_ns,
                                          std::uint64_t render_ns, std::uint64_t now_ns) noexcept;

  [[nodiscard]] std::uint32_t level() const noexcept { return level_; }
  [[nodiscard]] const GovernorLevel& settings() const noexcept { return kGovernorLadder[level_]; }
  // The budget at `level`: period x its rate divisor.
  [[nodiscard]] std::uint64_t budget_ns(std::uint32_t level) const noexcept {
    return period_ns_ * kGovernorLadder[level].rate_divisor;
  }
  [[nodiscard]] const GovernorConstants& constants() const noexcept { return k_; }

 private:
  std::optional<GovernorDecision> change_to(std::uint32_t to, GovernorReason why, std::uint64_t frame,
                                            std::uint64_t measured, std::uint64_t now) noexcept;
  [[nodiscard]] std::uint64_t window_percentile(std::uint32_t pct, bool predicted) const noexcept;
  [[nodiscard]] std::uint32_t urgent_target() const noexcept;

  std::uint64_t period_ns_;
  GovernorConstants k_;
  std::uint32_t level_ = 0;
  std::uint64_t changed_ns_ = 0;   // when the level last changed
  std::uint32_t count_ = 0;        // samples since the change (window holds the last kWindow)
  std::uint32_t seen_ = 0;         // samples offered, up to warmup_frames
  std::uint64_t first_seen_ns_ = 0;  // when the first sample was offered (0: none yet)
  std::uint32_t over_in_row_ = 0;
  std::array<std::uint64_t, kWindow> latency_{};
  std::array<std::uint64_t, kWindow> render_{};
  // Restore bookkeeping: when each level was last restored to, and until
  // when a failed restore blocks it (0: never), with its current block length.
  std::array<std::uint64_t, kGovernorLadder.size()> restored_at_{};
  std::array<std::uint64_t, kGovernorLadder.size()> blocked_until_{};
  std::array<std::uint64_t, kGovernorLadder.size()> block_ns_{};
};

}  // namespace triptych::pipeline
