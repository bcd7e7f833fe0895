// SPDX-License-Identifier: Apache-2.0
// The adaptive core plan's rules (include/triptych/pipeline/adaptive_plan.hpp):
// predict what moving one CPU does to the slower stage, move only when the
// gain held for a while and the cool-downs allow, never empty a pool. Pure
// arithmetic on the times the caller passes; wait-free, no allocation. One
// owner thread (the render thread). Design: docs/scheduler.md, "Adaptive core plan".
#include "triptych/pipeline/adaptive_plan.hpp"

#include <algorithm>

namespace triptych::pipeline {

std::string_view core_move_reason_text(CoreMoveReason reason) noexcept {
  switch (reason) {
    case CoreMoveReason::kComputeSlower: return "compute is the slower stage: a render CPU moves to compute";
    case CoreMoveReason::kRenderSlower: return "render is the slower stage: a compute CPU moves to render";
  }
  return "unknown";
}

AdaptivePlan::AdaptivePlan(const sched::CpuSet& compute, const sched::CpuSet& render, std::uint32_t compute_threads,
                           std::uint32_t render_threads, AdaptivePlanConstants constants)
    : k_(constants),
      frozen_(!compute.disjoint(render)),
      compute_threads_(compute_threads),
      render_threads_(render_threads),
      reverse_block_ns_(constants.reverse_cooldown_ns) {
  const std::size_t all = compute.size() + render.size();
  compute_.reserve(all);
  render_.reserve(all);
  compute_.assign(compute.begin(), compute.end());
  render_.assign(render.begin(), render.end());
}

double AdaptivePlan::scaled(std::uint64_t t, std::size_t cpus_now, std::size_t cpus_then,
                            std::uint32_t threads) noexcept {
  const auto usable = [threads](std::size_t n) {
    return static_cast<double>(threads == 0 ? n : std::min<std::size_t>(n, threads));
  };
  return static_cast<double>(t) * usable(cpus_now) / usable(cpus_then);
}

std::uint64_t AdaptivePlan::median(const std::array<std::uint64_t, kWindow>& ring, std::uint32_t n) noexcept {
  std::array<std::uint64_t, kWindow> copy = ring;
  const std::uint32_t m = std::min(n, kWindow);
  std::nth_element(copy.begin(), copy.begin() + m / 2, copy.begin() + m);
  return copy[m / 2];
}

std::optional<CoreMove> AdaptivePlan::observe(std::uint64_t frame, std::uint64_t compute_ns,
                                              std::uint64_t render_ns, std::uint64_t now_ns) noexcept {
  if (frozen_) return std::nullopt;
  if (seen_ < k_.warmup_frames) {
    ++seen_;
    moved_ns_ = now_ns;  // the cool-down clock starts after the warm-up
    return std::nullopt;
  }
  compute_ring_[count_ % kWindow] = compute_ns;
  render_ring_[count_ % kWindow] = render_ns;
  ++count_;
  if (count_ < kWindow / 2) return std::nullopt;  // a median of a few frames is one frame's noise

  const std::uint64_t c = median(compute_ring_, count_);
  const std::uint64_t r = median(render_ring_, count_);
  const std::size_t nc = compute_.size();
  const std::size_t nr = render_.size();
  const bool compute_slower = c > r;
  const double slower = static_cast<double>(std::max(c, r));
  double predicted = slower;  // a pool of one CPU gives none
  if (compute_slower && nr > 1) {
    predicted = std::max(scaled(c, nc, nc + 1, compute_threads_), scaled(r, nr, nr - 1, render_threads_));
  } else if (!compute_slower && nc > 1) {
    predicted = std::max(scaled(r, nr, nr + 1, render_threads_), scaled(c, nc, nc - 1, compute_threads_));
  }
  const CoreMoveReason reason = compute_slower ? CoreMoveReason::kComputeSlower : CoreMoveReason::kRenderSlower;
  if (!(predicted < (1.0 - k_.min_gain) * slower)) {
    wanted_.reset();
    wanted_frames_ = 0;
    return std::nullopt;
  }
  if (wanted_ != reason) {
    wanted_ = reason;
    wanted_frames_ = 0;
    wanted_since_ns_ = now_ns;
  }
  ++wanted_frames_;
  if (wanted_frames_ < k_.hold_frames || now_ns - wanted_since_ns_ < k_.hold_ns) return std::nullopt;
  if (now_ns - moved_ns_ < k_.cooldown_ns) return std::nullopt;
  const bool reverses = last_reason_.has_value() && *last_reason_ != reason;
  if (reverses && now_ns - moved_ns_ < reverse_block_ns_) return std::nullopt;

  // The donor gives its highest-numbered CPU (deterministic; the sets are sorted).
  std::vector<std::uint32_t>& donor = compute_slower ? render_ : compute_;
  std::vector<std::uint32_t>& receiver = compute_slower ? compute_ : render_;
  const std::uint32_t cpu = donor.back();
  donor.pop_back();
  receiver.insert(std::upper_bound(receiver.begin(), receiver.end(), cpu), cpu);  // reserved: no allocation

  if (reverses) reverse_block_ns_ *= 2;
  last_reason_ = reason;
  moved_ns_ = now_ns;
  count_ = 0;
  wanted_.reset();
  wanted_frames_ = 0;
  ++moves_;
  return CoreMove{.at_ns = now_ns,
                  .frame = frame,
                  .cpu = cpu,
                  .reason = reason,
                  .compute_ns = c,
                  .render_ns = r,
                  .predicted_ns = static_cast<std::uint64_t>(predicted),
                  .compute_cpus = static_cast<std::uint32_t>(compute_.size()),
                  .render_cpus = static_cast<std::uint32_t>(render_.size())};
}

}  // namespace triptych::pipeline
