// SPDX-License-Identifier: Apache-2.0
// The adaptive core plan: a pure controller that, between frames, moves one
// CPU at a time between the compute and the render pool when the measured
// stage times say the other pool would make the slower stage faster. It
// starts from the static plan's two CPU sets, keeps them disjoint, never
// leaves a pool without a CPU and never adds a CPU the plan did not give the
// pools, so it oversubscribes only where the plan itself did. Hysteresis: a
// move needs the predicted gain to hold for hold_frames frames and hold_ns,
// a cool-down follows each move, and moving a CPU back the way the last move
// came needs a longer, doubling cool-down, so the plan never oscillates. No
// clock, no allocation, no locks: the caller passes times in and applies the
// move (re-pins the pools). One owner thread (the engine's render thread).
// Design: docs/scheduler.md, "Adaptive core plan".
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "triptych/sched/cpuset.hpp"

namespace triptych::pipeline {

struct AdaptivePlanConstants {
  // A move must shrink the predicted slower stage by at least this share.
  // Predicted: with n the CPUs a stage can use (its CPUs, at most its
  // threads), the donor's time scales by n/(n-1), the receiver's by n/(n+1)
  // (as if the stage were all parallel: the receiver's gain is an upper
  // bound, the donor's loss a lower one for the move back).
  double min_gain = 0.15;
  // Frames (medians over the window) the move must keep paying for...
  std::uint32_t hold_frames = 30;
  // ... and for at least this long.
  std::uint64_t hold_ns = 500'000'000;
  // After any move, no other for this long (the pools re-pin, caches refill).
  std::uint64_t cooldown_ns = 2'000'000'000;
  // Undoing the last move waits this long after it, doubling each time.
  std::uint64_t reverse_cooldown_ns = 8'000'000'000;
  // The first frames pay for first use: they are not measured.
  std::uint32_t warmup_frames = 10;
};

enum class CoreMoveReason : std::uint8_t {
  kComputeSlower,  // compute's median stage time is the larger: a render CPU moves to compute
  kRenderSlower,   // render's is the larger: a compute CPU moves to render
};
[[nodiscard]] std::string_view core_move_reason_text(CoreMoveReason reason) noexcept;

// One move, with the figures that decided it.
struct CoreMove {
  std::uint64_t at_ns = 0;  // when it was decided (the caller's clock)
  std::uint64_t frame = 0;  // the frame whose sample decided it
  std::uint32_t cpu = 0;    // the CPU that moved
  CoreMoveReason reason = CoreMoveReason::kComputeSlower;
  std::uint64_t compute_ns = 0;    // median compute stage time over the window
  std::uint64_t render_ns = 0;     // median render stage time over the window
  std::uint64_t predicted_ns = 0;  // the slower stage's predicted time after the move
  std::uint32_t compute_cpus = 0;  // pool sizes after the move
  std::uint32_t render_cpus = 0;
};

class AdaptivePlan {
 public:
  static constexpr std::uint32_t kWindow = 32;

  // The static plan's pool CPU sets (each non-empty for a move to happen;
  // where they share CPUs, as a degraded or forced oversubscribed plan does,
  // nothing ever moves: a move could not keep them apart) and the threads each stage runs on: a stage uses at most that
  // many CPUs, so a CPU beyond them is no gain (0: no limit).
  AdaptivePlan(const sched::CpuSet& compute, const sched::CpuSet& render, std::uint32_t compute_threads = 0,
               std::uint32_t render_threads = 0, AdaptivePlanConstants constants = {});

  // One frame's compute and render stage times, and now. A move empties the
  // window: the next decision rests on frames measured after it (the few
  // frames already in flight at the move are outweighed by hold_frames).
  // Returns the move it decided, if any; compute()/render() then hold the
  // new sets. Wait-free, no allocation.
  std::optional<CoreMove> observe(std::uint64_t frame, std::uint64_t compute_ns, std::uint64_t render_ns,
                                  std::uint64_t now_ns) noexcept;

  // The current sets (allocates: call on a move, not per frame).
  [[nodiscard]] sched::CpuSet compute() const { return sched::CpuSet(compute_); }
  [[nodiscard]] sched::CpuSet render() const { return sched::CpuSet(render_); }
  [[nodiscard]] std::uint32_t moves() const noexcept { return moves_; }
  [[nodiscard]] const AdaptivePlanConstants& constants() const noexcept { return k_; }

 private:
  // The stage time `t`, measured on `now` usable CPUs, predicted on `then`.
  [[nodiscard]] static double scaled(std::uint64_t t, std::size_t cpus_now, std::size_t cpus_then,
                                     std::uint32_t threads) noexcept;
  [[nodiscard]] static std::uint64_t median(const std::array<std::uint64_t, kWindow>& ring, std::uint32_t n) noexcept;

  AdaptivePlanConstants k_;
  bool frozen_;  // the static sets overlap: no move
  std::uint32_t compute_threads_;
  std::uint32_t render_threads_;
  std::vector<std::uint32_t> compute_;  // capacity for every pool CPU: moves never allocate
  std::vector<std::uint32_t> render_;
  std::array<std::uint64_t, kWindow> compute_ring_{};
  std::array<std::uint64_t, kWindow> render_ring_{};
  std::uint32_t count_ = 0;   // samples since the last move
  std::uint32_t seen_ = 0;    // samples offered, up to warmup_frames
  std::uint32_t moves_ = 0;
  std::uint64_t moved_ns_ = 0;          // when the last move was decided (or the warm-up ended)
  std::uint64_t reverse_block_ns_ = 0;  // the current cool-down before undoing the last move
  std::optional<CoreMoveReason> last_reason_;
  std::optional<CoreMoveReason> wanted_;  // the move the recent frames keep predicting
  std::uint32_t wanted_frames_ = 0;
  std::uint64_t wanted_since_ns_ = 0;
};

}  // namespace triptych::pipeline
