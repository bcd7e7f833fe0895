// SPDX-License-Identifier: Apache-2.0
// Frames in flight in the engine (Vulkan, under the validation layer): with
// 2 or 3 in flight the render of frame N+1 is submitted before frame N's
// pixels have landed (seen in the trace records: N+1's render start precedes
// N's render end), never with 1; every frame stays accounted for and every
// complete record's six stamps are in order, under --lag wait and drop, on
// the GPU particle pull and the CPU layout pass. docs/pipeline.md, "Frames in flight".
#include <gtest/gtest.h>

#include <memory>

#include "triptych/pipeline/engine.hpp"
#include "triptych/report/export.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

EngineConfig vulkan_config(std::uint32_t frames_in_flight, LagPolicy lag, ParticlePath path) {
  EngineConfig c;
  c.particles = 20000;
  c.grain = 2048;
  c.hz = 0;
  c.frames = 60;
  c.width = 320;
  c.height = 240;
  c.renderer = RendererKind::kVulkan;
  c.validation = true;
  c.lag = lag;
  c.particle_path = path;
  c.frames_in_flight = frames_in_flight;
  c.native_kernel = &tp_kernel_step;
  auto topo = sched::Topology::load();
  EXPECT_TRUE(topo.ok());
  auto plan = sched::plan_cores(topo.value());
  EXPECT_TRUE(plan.ok());
  c.plan = plan.value();
  return c;
}

struct RunResult {
  EngineStatus status;
  report::TraceReport trace;
  std::uint64_t overlapped = 0;  // presented frames whose render started before the previous one's ended
};

RunResult run(const EngineConfig& c) {
  RunResult out;
  auto e = Engine::create(c);
  EXPECT_TRUE(e.ok()) << e.error().what();
  if (!e) return out;
  std::unique_ptr<Engine> engine = std::move(e).value();
  EXPECT_TRUE(engine->start().ok());
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(engine->wait_finished(120s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100s) << "the run finished well inside its timeout";
  engine->stop();
  out.status = engine->status();
  out.trace = report::collect_report(*engine->arena().trace());
  const trace::FrameSnapshot* previous = nullptr;
  for (const trace::FrameSnapshot& f : out.trace.frames) {
    if (f.at(trace::Stage::kPresented) == 0) continue;
    if (previous != nullptr && f.at(trace::Stage::kRenderStart) < previous->at(trace::Stage::kRenderEnd)) {
      ++out.overlapped;
    }
    previous = &f;
  }
  return out;
}

void expect_exact_accounting(const RunResult& r, const EngineConfig& c) {
  const EngineStatus& s = r.status;
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.issued, c.frames);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed);
  EXPECT_EQ(s.in_flight, 0U);
  EXPECT_EQ(s.failed, 0U);
  if (c.lag == LagPolicy::kWait) {
    EXPECT_EQ(s.dropped, 0U);
  }
  EXPECT_EQ(r.trace.stats.complete, s.presented);
  EXPECT_EQ(r.trace.stats.dropped, s.dropped);
  EXPECT_EQ(r.trace.stats.in_flight, 0U);
  EXPECT_EQ(r.trace.stats.invalid, 0U) << "every record's six stamps are in order";
  // Presented in frame order, each after its own render.
  std::uint64_t last_presented = 0;
  for (const trace::FrameSnapshot& f : r.trace.frames) {
    const std::uint64_t p = f.at(trace::Stage::kPresented);
    if (p == 0) continue;
    EXPECT_GT(p, last_presented) << "frame " << f.frame;
    EXPECT_GE(p, f.at(trace::Stage::kRenderEnd)) << "frame " << f.frame;
    last_presented = p;
  }
}

class FramesInFlight : public ::testing::TestWithParam<ParticlePath> {};

TEST_P(FramesInFlight, TwoInFlightOverlapInTheTraceAndAccountExactly) {
  for (const LagPolicy lag : {LagPolicy::kWait, LagPolicy::kDrop}) {
    const EngineConfig c = vulkan_config(2, lag, GetParam());
    const RunResult r = run(c);
    SCOPED_TRACE(lag == LagPolicy::kWait ? "lag wait" : "lag drop");
    expect_exact_accounting(r, c);
    EXPECT_GT(r.overlapped, 0U) << "render N+1 submitted while N's pixels were still on their way";
  }
}

TEST_P(FramesInFlight, ThreeInFlightAccountExactly) {
  const EngineConfig c = vulkan_config(3, LagPolicy::kDrop, GetParam());
  const RunResult r = run(c);
  expect_exact_accounting(r, c);
  EXPECT_GT(r.overlapped, 0U);
}

TEST_P(FramesInFlight, OneInFlightNeverOverlaps) {
  const EngineConfig c = vulkan_config(1, LagPolicy::kDrop, GetParam());
  const RunResult r = run(c);
  expect_exact_accounting(r, c);
  EXPECT_EQ(r.overlapped, 0U);
}

INSTANTIATE_TEST_SUITE_P(Pipeline, FramesInFlight, ::testing::Values(ParticlePath::kGpu, ParticlePath::kCpu),
                         [](const auto& p) { return p.param == ParticlePath::kGpu ? "GpuPull" : "CpuLayout"; });

TEST(Pipeline, FramesInFlight_OutOfRangeIsRefusedByPrepare) {
  for (const std::uint32_t n : {0U, 4U}) {
    auto setup = Engine::prepare(vulkan_config(n, LagPolicy::kWait, ParticlePath::kAuto));
    ASSERT_FALSE(setup.ok()) << n;
    EXPECT_NE(setup.error().message.find("frames"), std::string::npos) << setup.error().message;
  }
}

}  // namespace
}  // namespace triptych::pipeline
