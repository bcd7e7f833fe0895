// SPDX-License-Identifier: Apache-2.0
// The deadline governor's rules (include/triptych/pipeline/governor.hpp):
// shed fast, restore slowly and only when the prediction fits, and raise the
// bar for a level whose restore had to be undone. Pure arithmetic on the times the
// caller passes; wait-free, no allocation. One owner thread (the render
// thread). Design: docs/pipeline.md, "Deadline governor".
#include "triptych/pipeline/governor.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>

namespace triptych::pipeline {

std::string_view governor_reason_text(GovernorReason reason) noexcept {
  switch (reason) {
    case GovernorReason::kConsecutiveOverBudget: return "consecutive frames over budget";
    case GovernorReason::kWindowNearBudget: return "p95 latency near budget";
    case GovernorReason::kHeadroom: return "headroom: the heavier level's p95 is predicted to fit";
  }
  return "unknown";
}

std::optional<GovernorDecision> Governor::observe(std::uint64_t frame, std::uint64_t queued_ns,
                                                  std::uint64_t latency_ns, std::uint64_t render_ns,
                                                  std::uint64_t now_ns) noexcept {
  if (first_seen_ns_ == 0) first_seen_ns_ = now_ns;
  if (seen_ < k_.warmup_frames && now_ns - first_seen_ns_ < k_.warmup_ns) {
    ++seen_;
    changed_ns_ = now_ns;  // the clock starts after the warm-up
    return std::nullopt;
  }
  seen_ = k_.warmup_frames;
  if (queued_ns < changed_ns_) return std::nullopt;  // made under the previous level
  latency_[count_ % kWindow] = latency_ns;
  render_[count_ % kWindow] = std::min(render_ns, latency_ns);
  ++count_;
  const std::uint64_t budget = budget_ns(level_);
  const bool last_level = level_ + 1 == kGovernorLadder.size();

  over_in_row_ = latency_ns > budget ? over_in_row_ + 1 : 0;
  if (!last_level && over_in_row_ >= k_.urgent_frames) {
    return change_to(urgent_target(), GovernorReason::kConsecutiveOverBudget, frame, latency_ns, now_ns);
  }
  if (count_ < k_.min_frames_between) return std::nullopt;
  const std::uint64_t p95 = window_percentile(95, false);
  if (!last_level && static_cast<double>(p95) > k_.shed_fraction * static_cast<double>(budget)) {
    return change_to(level_ + 1, GovernorReason::kWindowNearBudget, frame, p95, now_ns);
  }
  if (level_ == 0 || now_ns - changed_ns_ < k_.restore_hold_ns) return std::nullopt;
  const std::uint32_t heavier = level_ - 1;
  const double bar = now_ns < blocked_until_[heavier] ? k_.blocked_restore_fraction : k_.restore_fraction;
  const std::uint64_t predicted = window_percentile(95, true);
  if (static_cast<double>(predicted) < bar * static_cast<double>(budget_ns(heavier))) {
    return change_to(heavier, GovernorReason::kHeadroom, frame, predicted, now_ns);
  }
  return std::nullopt;
}

std::optional<GovernorDecision> Governor::change_to(std::uint32_t to, GovernorReason why, std::uint64_t frame,
                                                    std::uint64_t measured, std::uint64_t now) noexcept {
  GovernorDecision d;
  d.at_ns = now;
  d.frame = frame;
  d.from_level = level_;
  d.to_level = to;
  d.reason = why;
  d.measured_ns = measured;
  d.budget_ns = budget_ns(why == GovernorReason::kHeadroom ? to : level_);
  if (to > level_) {
    // Shedding from a level restored to only recently: that restore failed.
    // Raise its bar, for longer each time, so the pair can never flap.
    if (restored_at_[level_] != 0 && now - restored_at_[level_] < k_.probation_ns) {
      block_ns_[level_] = block_ns_[level_] == 0 ? k_.failed_restore_block_ns : 2 * block_ns_[level_];
      blocked_until_[level_] = now + block_ns_[level_];
    }
  } else {
    restored_at_[to] = now;
  }
  level_ = to;
  changed_ns_ = now;
  count_ = 0;
  over_in_row_ = 0;
  return d;
}

// The first lighter level where the lightest of the last urgent_frames
// frames, its render share scaled to that level's cost, fits under
// restore_fraction of that level's budget (below the hysteresis band, so the
// prediction's error does not call for a second shed); the last level if
// none does.
std::uint32_t Governor::urgent_target() const noexcept {
  const std::uint32_t recent = std::min({k_.urgent_frames, count_, kWindow});
  std::uint64_t other = 0;
  std::uint64_t render = 0;
  std::uint64_t lightest = std::numeric_limits<std::uint64_t>::max();
  for (std::uint32_t i = 1; i <= recent; ++i) {
    const std::uint32_t at = (count_ - i) % kWindow;
    if (latency_[at] < lightest) {
      lightest = latency_[at];
      render = render_[at];
      other = latency_[at] - render_[at];
    }
  }
  const double cost_now = kGovernorLadder[level_].render_cost();
  for (std::uint32_t to = level_ + 1; to < kGovernorLadder.size(); ++to) {
    const double predicted =
        static_cast<double>(other) + static_cast<double>(render) * kGovernorLadder[to].render_cost() / cost_now;
    if (predicted < k_.restore_fraction * static_cast<double>(budget_ns(to))) return to;
  }
  return static_cast<std::uint32_t>(kGovernorLadder.size() - 1);
}

// The `pct` percentile (nearest rank) of the window's latencies; `predicted`:
// each one with its render share scaled to the next heavier level's cost.
std::uint64_t Governor::window_percentile(std::uint32_t pct, bool predicted) const noexcept {
  const std::uint32_t n = std::min(count_, kWindow);
  std::array<std::uint64_t, kWindow> v{};
  const double grow = predicted && level_ > 0
                          ? kGovernorLadder[level_ - 1].render_cost() / kGovernorLadder[level_].render_cost()
                          : 1.0;
  for (std::uint32_t i = 0; i < n; ++i) {
    const std::uint64_t other = latency_[i] - render_[i];
    v[i] = other + static_cast<std::uint64_t>(static_cast<double>(render_[i]) * grow);
  }
  const std::uint32_t rank = std::max<std::uint32_t>(1, (n * pct + 99) / 100);  // ceil(pct % of n), 1-based
  const auto it = v.begin() + (rank - 1);
  std::nth_element(v.begin(), it, v.begin() + n);
  return *it;
}

}  // namespace triptych::pipeline
