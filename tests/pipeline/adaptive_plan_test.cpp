// SPDX-License-Identifier: Apache-2.0
// The adaptive core plan's controller (include/triptych/pipeline/adaptive_plan.hpp)
// against synthetic stage times: a model machine where each stage's time is
// its work divided by the CPUs its pool holds. A slow compute stage draws
// CPUs from render until the stages balance; a balanced scene sees no move;
// a noisy edge never oscillates over 10 s; a pool never empties; the sets
// stay disjoint and their union is the static plan's; pools that share CPUs
// never move. Pure: no clock, no threads.
#include "triptych/pipeline/adaptive_plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace triptych::pipeline {
namespace {

constexpr std::uint64_t kMs = 1'000'000;
constexpr std::uint64_t kPeriod = 16'666'667;  // one frame at 60 Hz

// Stage work in CPU-milliseconds; a stage takes work / its CPUs.
struct Model {
  double compute_work = 8.0;
  double render_work = 8.0;
  std::uint64_t jitter = 0;  // added to every third frame's compute time
};

struct SimulatedRun {
  AdaptivePlan plan;
  std::uint64_t now = 1'000 * kMs;
  std::uint64_t frame = 0;
  std::vector<CoreMove> moves;

  explicit SimulatedRun(AdaptivePlanConstants k = {})
      : plan(sched::CpuSet{0, 1, 2, 3}, sched::CpuSet{4, 5, 6, 7}, 0, 0, k) {}

  void run(const Model& m, double seconds) {
    const auto frames = static_cast<std::uint64_t>(seconds * 1e9 / static_cast<double>(kPeriod));
    for (std::uint64_t i = 0; i < frames; ++i) {
      ++frame;
      now += kPeriod;
      const auto nc = static_cast<double>(plan.compute().size());
      const auto nr = static_cast<double>(plan.render().size());
      const auto c = static_cast<std::uint64_t>(m.compute_work / nc * kMs) + (frame % 3 == 0 ? m.jitter : 0);
      const auto r = static_cast<std::uint64_t>(m.render_work / nr * kMs);
      if (auto mv = plan.observe(frame, c, r, now)) moves.push_back(*mv);
    }
  }
  void expect_consistent() const {
    const sched::CpuSet c = plan.compute();
    const sched::CpuSet r = plan.render();
    EXPECT_FALSE(c.empty());
    EXPECT_FALSE(r.empty());
    EXPECT_TRUE(c.disjoint(r));
    EXPECT_EQ(c.unite(r), (sched::CpuSet{0, 1, 2, 3, 4, 5, 6, 7}));
  }
};

TEST(AdaptivePlan, SlowComputeDrawsCpusFromRender) {
  SimulatedRun run;
  run.run({.compute_work = 40.0, .render_work = 8.0}, 20.0);
  ASSERT_FALSE(run.moves.empty());
  for (const CoreMove& m : run.moves) {
    EXPECT_EQ(m.reason, CoreMoveReason::kComputeSlower);
    EXPECT_GT(m.compute_ns, m.render_ns);
    EXPECT_LT(m.predicted_ns, m.compute_ns);
  }
  // 40/n vs 8/m over 8 CPUs: 6+2 (6.7 vs 4 ms) is where a seventh compute
  // CPU (5.7 vs 8 ms) stops paying.
  EXPECT_EQ(run.plan.compute().size(), 6U);
  EXPECT_EQ(run.plan.render().size(), 2U);
  EXPECT_EQ(run.moves.back().compute_cpus, 6U);
  run.expect_consistent();
  // Moves are spaced by the cool-down.
  for (std::size_t i = 1; i < run.moves.size(); ++i) {
    EXPECT_GE(run.moves[i].at_ns - run.moves[i - 1].at_ns, run.plan.constants().cooldown_ns);
  }
}

TEST(AdaptivePlan, SlowRenderDrawsCpusFromCompute) {
  SimulatedRun run;
  run.run({.compute_work = 4.0, .render_work = 30.0}, 20.0);
  ASSERT_FALSE(run.moves.empty());
  EXPECT_EQ(run.moves.front().reason, CoreMoveReason::kRenderSlower);
  EXPECT_GT(run.plan.render().size(), 4U);
  run.expect_consistent();
}

TEST(AdaptivePlan, BalancedSceneSeesNoMove) {
  SimulatedRun run;
  run.run({.compute_work = 9.0, .render_work = 8.0, .jitter = 2 * kMs}, 10.0);
  EXPECT_TRUE(run.moves.empty());
  EXPECT_EQ(run.plan.compute(), (sched::CpuSet{0, 1, 2, 3}));
}

TEST(AdaptivePlan, NoMoveBeforeTheImbalanceHeld) {
  SimulatedRun run;
  run.run({.compute_work = 40.0, .render_work = 8.0}, 0.5);  // warm-up + 20 frames: short of the hold
  EXPECT_TRUE(run.moves.empty());
}

// A load whose balance flips every 1.5 s: the plan follows at most once per
// reverse cool-down, so over 10 s it moves a few times, never back and forth
// frame after frame.
TEST(AdaptivePlan, FlippingLoadNeverOscillates) {
  SimulatedRun run;
  for (int i = 0; i < 7; ++i) {
    run.run(i % 2 == 0 ? Model{.compute_work = 40.0, .render_work = 8.0} : Model{.compute_work = 8.0, .render_work = 40.0},
            1.5);
  }
  EXPECT_GE(run.moves.size(), 1U);  // it does follow the load
  EXPECT_LE(run.moves.size(), 4U);
  for (std::size_t i = 1; i < run.moves.size(); ++i) {
    const std::uint64_t gap = run.moves[i].at_ns - run.moves[i - 1].at_ns;
    EXPECT_GE(gap, run.plan.constants().cooldown_ns);
    if (run.moves[i].reason != run.moves[i - 1].reason) {
      EXPECT_GE(gap, run.plan.constants().reverse_cooldown_ns);
    }
  }
  run.expect_consistent();
}

// At the balance point a move either way predicts a loss: a slow compute
// stage settles and stays settled for 10 s more with noise on top.
TEST(AdaptivePlan, SettledPlanStaysPut) {
  SimulatedRun run;
  run.run({.compute_work = 40.0, .render_work = 8.0}, 20.0);
  const std::size_t settled = run.moves.size();
  run.run({.compute_work = 40.0, .render_work = 8.0, .jitter = 3 * kMs}, 10.0);
  EXPECT_EQ(run.moves.size(), settled);
}

// Compute runs on 5 threads: a sixth CPU would sit idle, so it stops at 5.
TEST(AdaptivePlan, NoCpuBeyondTheStageThreads) {
  AdaptivePlan plan(sched::CpuSet{0, 1, 2, 3}, sched::CpuSet{4, 5, 6, 7}, 5, 0);
  std::uint64_t now = 0;
  for (std::uint64_t f = 1; f < 2000; ++f) {
    now += kPeriod;
    const auto nc = static_cast<double>(std::min<std::size_t>(plan.compute().size(), 5));
    const auto c = static_cast<std::uint64_t>(40.0 / nc * kMs);
    const auto r = static_cast<std::uint64_t>(8.0 / static_cast<double>(plan.render().size()) * kMs);
    (void)plan.observe(f, c, r, now);
  }
  EXPECT_EQ(plan.compute().size(), 5U);
  EXPECT_EQ(plan.moves(), 1U);
}

TEST(AdaptivePlan, APoolNeverEmpties) {
  AdaptivePlan plan(sched::CpuSet{0}, sched::CpuSet{1});
  std::uint64_t now = 0;
  for (std::uint64_t f = 1; f < 2000; ++f) {
    now += kPeriod;
    EXPECT_FALSE(plan.observe(f, 50 * kMs, 1 * kMs, now).has_value());
  }
  EXPECT_EQ(plan.compute(), sched::CpuSet{0});
  EXPECT_EQ(plan.render(), sched::CpuSet{1});
}

// A degraded or forced plan whose pools share CPUs: a move could not keep
// them apart, so none happens however uneven the stages.
TEST(AdaptivePlan, OverlappingStaticSetsNeverMove) {
  AdaptivePlan plan(sched::CpuSet{0, 1, 2}, sched::CpuSet{2, 3, 4});
  std::uint64_t now = 0;
  for (std::uint64_t f = 1; f < 2000; ++f) {
    now += kPeriod;
    EXPECT_FALSE(plan.observe(f, 50 * kMs, 1 * kMs, now).has_value());
  }
  EXPECT_EQ(plan.compute(), (sched::CpuSet{0, 1, 2}));
}

}  // namespace
}  // namespace triptych::pipeline
