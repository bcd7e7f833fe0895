// SPDX-License-Identifier: Apache-2.0
// The adaptive core plan in the running engine (native host, CPU renderer):
// with an injected slow compute stage (a kernel that sleeps) a render CPU
// moves to compute, the compute workers and the render threads re-pin
// (read back from /proc/self/task/<tid>/status Cpus_allowed_list), the plan
// does not oscillate over 10 s, the move is in stats.json and the trace, and
// the accounting stays exact. A move needs 3 CPUs (each pool keeps one); on a
// 2-CPU machine that case is skipped and the wiring is checked with one CPU
// per pool, where nothing may move.
#include <dirent.h>
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "sched/proc_task.hpp"
#include "support/text_file.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

std::int32_t slow_kernel(const tp_kernel_ctx* ctx, std::uint32_t begin, std::uint32_t end) {
  if (begin == 0) std::this_thread::sleep_for(30ms);  // each frame's compute takes at least 30 ms
  return tp_kernel_step(ctx, begin, end);
}

// A plan by hand: compute on `compute`, render on `render`, nothing reserved
// (the frame loop runs unpinned).
sched::CorePlan explicit_plan(const sched::CpuSet& compute, const sched::CpuSet& render) {
  sched::CorePlan p;
  p.compute.name = "compute";
  p.compute.cpus = compute;
  p.compute.threads = compute.cpus();
  p.render.name = "render";
  p.render.cpus = render;
  p.render.threads = render.cpus();
  p.allowed = compute.unite(render);
  return p;
}

EngineConfig adaptive_config(const sched::CorePlan& plan, double seconds) {
  EngineConfig c;
  c.particles = 2000;
  c.grain = 1000;  // two chunks: both compute workers have work
  c.workers = 2;
  c.hz = 60;
  c.seconds = seconds;
  c.width = 160;
  c.height = 120;
  c.renderer = RendererKind::kCpu;
  c.native_kernel = &slow_kernel;
  c.plan = plan;
  c.governor = false;  // the governor would shed the frame rate: keep the stage times as they are
  c.adaptive_plan = true;
  c.adaptive_constants.hold_frames = 10;
  c.adaptive_constants.hold_ns = 200'000'000;
  c.adaptive_constants.cooldown_ns = 500'000'000;
  c.adaptive_constants.reverse_cooldown_ns = 4'000'000'000;
  return c;
}

// Cpus_allowed_list of each of this process's threads whose name starts with `prefix`.
std::vector<std::string> allowed_of_threads(const std::string& prefix) {
  std::vector<std::string> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task")) {
    const int tid = std::stoi(entry.path().filename().string());
    if (sched::proc_field(tid, "comm", "").rfind(prefix, 0) == 0) {
      out.push_back(sched::proc_field(tid, "status", "Cpus_allowed_list"));
    }
  }
  return out;
}

using test::read_text_file;

std::unique_ptr<Engine> start(const EngineConfig& c) {
  auto e = Engine::create(c);
  EXPECT_TRUE(e.ok()) << e.error().what();
  if (!e) return nullptr;
  std::unique_ptr<Engine> engine = std::move(e).value();
  EXPECT_TRUE(engine->start().ok());
  return engine;
}

void finish(Engine& engine, const EngineConfig& c) {
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(engine.wait_finished(60s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, c.seconds * 1s + 10s) << "well inside the 60 s timeout";
  engine.stop();
  const EngineStatus s = engine.status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed) << "issued = presented + dropped + failed";
  EXPECT_EQ(s.in_flight, 0U);
  EXPECT_EQ(s.failed, 0U);
}

TEST(AdaptivePlanEngine, SlowComputeDrawsARenderCpuAndRepinsWithoutOscillating) {
  const sched::CpuSet mine = sched::current_thread_affinity();
  if (mine.size() < 3) GTEST_SKIP() << "a move needs 3 CPUs (each pool keeps one); this process has " << mine.to_string();
  const std::uint32_t a = mine[0], b = mine[1], x = mine[2];
  const EngineConfig c = adaptive_config(explicit_plan({a}, {b, x}), 10.0);
  auto engine = start(c);
  ASSERT_NE(engine, nullptr);
  // The move, seen while running: the compute workers re-pin to {a, x}.
  const std::string both = sched::CpuSet{a, x}.to_string();
  const auto until = std::chrono::steady_clock::now() + 8s;
  bool moved = false;
  while (!moved && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(50ms);
    moved = engine->status().core_moves > 0;
  }
  ASSERT_TRUE(moved) << "no move within 8 s";
  std::this_thread::sleep_for(300ms);  // members re-pin at their next search: a frame at most
  const std::vector<std::string> compute = allowed_of_threads("tp-compute-");
  ASSERT_EQ(compute.size(), 2U);
  for (const auto& list : compute) EXPECT_EQ(list, both) << "a compute worker";
  for (const auto& list : allowed_of_threads("tp-render")) EXPECT_EQ(list, std::to_string(b)) << "a render thread";
  EXPECT_EQ(engine->status().compute_cpus, both);
  finish(*engine, c);

  // Over the 10 s run: one move (compute has two workers, so a third CPU
  // would be no gain, and render keeps its last), render -> compute.
  const auto moves = engine->core_moves();
  ASSERT_EQ(moves.size(), 1U);
  EXPECT_EQ(engine->status().core_moves, 1U);
  EXPECT_EQ(moves[0].cpu, x);
  EXPECT_EQ(moves[0].reason, CoreMoveReason::kComputeSlower);
  EXPECT_GT(moves[0].compute_ns, moves[0].render_ns);
  EXPECT_EQ(moves[0].compute_cpus, 2U);
  EXPECT_EQ(moves[0].render_cpus, 1U);

  const auto dir = std::filesystem::temp_directory_path() / ("tp_adaptive_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  Engine::Outputs out;
  out.stats_json = (dir / "stats.json").string();
  out.trace_json = (dir / "trace.json").string();
  ASSERT_TRUE(engine->write_outputs(out, {}).ok());
  const std::string stats = read_text_file(out.stats_json);
  EXPECT_NE(stats.find("\"core_plan\":[{"), std::string::npos) << stats.substr(0, 400);
  EXPECT_NE(stats.find("\"to\":\"compute\""), std::string::npos);
  EXPECT_NE(read_text_file(out.trace_json).find("\"cat\":\"core_plan\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

// One CPU per pool: the wiring runs (status, outputs), the slow compute stage
// wants a CPU, and none moves: a pool never empties.
TEST(AdaptivePlanEngine, OneCpuPerPoolNeverMoves) {
  const sched::CpuSet mine = sched::current_thread_affinity();
  if (mine.size() < 2) GTEST_SKIP() << "needs 2 CPUs; this process has " << mine.to_string();
  const EngineConfig c = adaptive_config(explicit_plan({mine[0]}, {mine[1]}), 3.0);
  auto engine = start(c);
  ASSERT_NE(engine, nullptr);
  EXPECT_TRUE(engine->status().adaptive_plan);
  finish(*engine, c);
  const EngineStatus s = engine->status();
  EXPECT_GT(s.presented, 20U);
  EXPECT_EQ(s.core_moves, 0U);
  EXPECT_TRUE(engine->core_moves().empty());
  EXPECT_EQ(s.compute_cpus, std::to_string(mine[0]));
  EXPECT_EQ(s.render_cpus, std::to_string(mine[1]));
  for (const auto& list : allowed_of_threads("tp-compute-")) EXPECT_EQ(list, std::to_string(mine[0]));
}

TEST(AdaptivePlanEngine, OffByDefaultAndABadGainIsRefused) {
  EXPECT_FALSE(EngineConfig{}.adaptive_plan);
  const sched::CpuSet mine = sched::current_thread_affinity();
  EngineConfig c = adaptive_config(explicit_plan({mine[0]}, {mine[mine.size() - 1]}), 1.0);
  for (const double gain : {0.0, 1.0, -0.5}) {
    c.adaptive_constants.min_gain = gain;
    auto e = Engine::create(c);
    ASSERT_FALSE(e.ok()) << gain;
    EXPECT_EQ(e.error().code, Errc::kInvalidArgument);
    EXPECT_NE(e.error().message.find("min_gain must lie in (0, 1)"), std::string::npos) << e.error().what();
  }
}

}  // namespace
}  // namespace triptych::pipeline
