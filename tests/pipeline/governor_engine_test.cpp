// SPDX-License-Identifier: Apache-2.0
// The deadline governor and the renderer auto-choice in the running engine
// (native host, lavapipe or the CPU reference): an overloaded scene is shed
// (on Vulkan under validation, so scaled frames are validation-clean) and
// every decision is logged and exported; a scene that fits sees no change;
// an injected render stall is shed and then restored; --governor off
// keeps every frame at full cost; the accounting stays exact throughout; and
// --renderer auto keeps the faster of a fake slow and a fake fast renderer
// and says so. Convergence times are the benchmark's, not asserted here.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/engine_run.hpp"
#include "support/machine_plan.hpp"
#include "support/small_engine_config.hpp"
#include "support/text_file.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/pipeline/governor.hpp"
#include "triptych/render/vulkan_renderer.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

using test::run_to_end;
using test::this_machine_plan;
using test::wait_well_inside;

EngineConfig governed_config() {
  EngineConfig c = test::small_engine_config();
  c.particles = 2000;
  c.grain = 512;
  c.hz = 60;
  c.frames = 0;
  c.seconds = 3;
  c.width = 160;
  c.height = 120;
  c.governor = true;
  return c;
}

void expect_exact_accounting(const EngineStatus& s) {
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed) << "issued = presented + dropped + failed";
  EXPECT_EQ(s.in_flight, 0U);
  EXPECT_EQ(s.failed, 0U);
}

// Every decision in order, from where the last one left: a restore climbs
// one step; a shed may jump (an urgent drop goes to the level predicted to fit).
void expect_logged_in_order(const std::vector<GovernorDecision>& ds, const EngineStatus& s) {
  EXPECT_EQ(ds.size(), s.governor_changes) << "every decision is in the log";
  std::uint32_t level = 0;
  for (const auto& d : ds) {
    EXPECT_EQ(d.from_level, level);
    EXPECT_NE(d.to_level, d.from_level);
    if (d.to_level < d.from_level) {
      EXPECT_EQ(d.from_level - d.to_level, 1U) << "a restore is one step";
    }
    if (d.reason != GovernorReason::kConsecutiveOverBudget) {
      EXPECT_EQ(d.to_level > d.from_level ? d.to_level - d.from_level : d.from_level - d.to_level, 1U);
    }
    EXPECT_NE(d.budget_ns, 0U);
    level = d.to_level;
  }
  EXPECT_EQ(level, s.governor_level);
}

// The decisions in words, for failure messages.
std::string decisions_text(const std::vector<GovernorDecision>& ds) {
  std::string out;
  for (const auto& d : ds) {
    char line[160];
    std::snprintf(line, sizeof line, "\n  frame %llu: %u -> %u (%s: %.1f ms of %.1f ms)",
                  static_cast<unsigned long long>(d.frame), d.from_level, d.to_level,
                  std::string(governor_reason_text(d.reason)).c_str(), static_cast<double>(d.measured_ns) * 1e-6,
                  static_cast<double>(d.budget_ns) * 1e-6);
    out += line;
  }
  return out;
}

using test::read_text_file;

TEST(Governor, Engine_OverloadedSceneIsShedAndEveryDecisionIsTraced) {
  EngineConfig c = governed_config();
  c.hz = 120;
  c.renderer = RendererKind::kVulkan;
  c.validation = true;  // scaled frames and their readback are validation-clean
  // Under a sanitizer each validated frame costs far more: a longer run
  // still gives the governor its warm-up and window.
  if (TRIPTYCH_SANITIZED) c.seconds = 10;
  // A fake renderer 25 ms slow at full cost, whose cost scales with the
  // level's (as a fill-bound renderer's does): 3x over the 8.3 ms budget.
  c.test_render_stall = [](std::uint64_t, RendererKind, double cost) {
    return static_cast<std::uint64_t>(25e6 * cost);
  };
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  expect_exact_accounting(s);
  EXPECT_TRUE(s.governor);
  EXPECT_GE(s.governor_level, 1U) << "the overload was shed";
  const auto ds = engine->governor_decisions();
  ASSERT_FALSE(ds.empty());
  expect_logged_in_order(ds, s);
  EXPECT_EQ(ds.front().from_level, 0U);
  EXPECT_GT(ds.front().to_level, ds.front().from_level) << "it sheds first";

  const auto dir = std::filesystem::temp_directory_path() / ("tp-governor-" + std::to_string(trace::now_ns()));
  std::filesystem::create_directories(dir);
  Engine::Outputs out;
  out.trace_json = (dir / "trace.json").string();
  out.stats_json = (dir / "stats.json").string();
  ASSERT_TRUE(engine->write_outputs(out, {}));
  const std::string trace = read_text_file(out.trace_json);
  const std::string stats = read_text_file(out.stats_json);
  std::size_t in_trace = 0;
  for (std::size_t p = trace.find("\"cat\":\"governor\""); p != std::string::npos;
       p = trace.find("\"cat\":\"governor\"", p + 1)) {
    ++in_trace;
  }
  EXPECT_EQ(in_trace, ds.size()) << "one trace event per decision";
  EXPECT_NE(stats.find(std::string(governor_reason_text(ds.front().reason))), std::string::npos)
      << "stats.json names the reason";
  EXPECT_NE(stats.find("\"delivered\""), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Governor, Engine_FittingSceneSeesNoChange) {
  EngineConfig c = governed_config();
  c.hz = 30;
  c.particles = 500;
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  expect_exact_accounting(s);
  EXPECT_EQ(s.governor_changes, 0U) << decisions_text(engine->governor_decisions());
  EXPECT_EQ(s.governor_level, 0U);
  EXPECT_NE(engine->delivery_summary().find("30 Hz at 1.00x resolution, every particle drawn"), std::string::npos)
      << engine->delivery_summary();
}

// A render stall from 0.4 s to 1.2 s into the run: shed, then restored.
struct StallWindow {
  std::shared_ptr<std::atomic<std::uint64_t>> start = std::make_shared<std::atomic<std::uint64_t>>(0);
  std::uint64_t operator()(std::uint64_t, RendererKind, double cost) const {
    const std::uint64_t now = trace::now_ns();
    std::uint64_t t0 = start->load(std::memory_order_relaxed);
    if (t0 == 0) start->compare_exchange_strong(t0, now, std::memory_order_relaxed);
    t0 = start->load(std::memory_order_relaxed);
    const bool stalled = now - t0 > 400'000'000 && now - t0 < 1'200'000'000;
    return stalled ? static_cast<std::uint64_t>(80e6 * cost) : 0;
  }
};

TEST(Governor, Engine_InjectedRenderStallIsShedAndRestored) {
  EngineConfig c = governed_config();
  c.hz = 30;  // a 33 ms budget: 80 ms of stall at full cost, 20 ms at half resolution
  // Restoring steps down one level per headroom window: under TSan the last
  // step was still pending at 5 s (level 1 of 4), so sanitized runs get 10 s.
  c.seconds = TRIPTYCH_SANITIZED ? 10 : 5;
  c.test_render_stall = StallWindow{};
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  expect_exact_accounting(s);
  const auto ds = engine->governor_decisions();
  expect_logged_in_order(ds, s);
  bool shed = false;
  bool restored = false;
  for (const auto& d : ds) {
    shed = shed || d.to_level > d.from_level;
    restored = restored || (shed && d.reason == GovernorReason::kHeadroom);
  }
  EXPECT_TRUE(shed) << "the stall was shed";
  EXPECT_TRUE(restored) << "and restored once it ended" << decisions_text(ds);
  EXPECT_EQ(s.governor_level, 0U) << "back at full cost: " << engine->delivery_summary() << decisions_text(ds);
}

TEST(Governor, Engine_OffKeepsEveryFrameAtFullCost) {
  EngineConfig c = governed_config();
  c.governor = false;
  c.seconds = 2;
  c.test_render_stall = [](std::uint64_t, RendererKind, double cost) {
    EXPECT_EQ(cost, 1.0) << "no level was applied";
    return std::uint64_t{25'000'000};
  };
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  expect_exact_accounting(s);
  EXPECT_FALSE(s.governor);
  EXPECT_EQ(s.governor_changes, 0U);
  EXPECT_GT(s.late, 0U) << "today's behaviour: an overloaded run is late";
  EXPECT_NE(engine->delivery_summary().find("(governor off)"), std::string::npos);
}

// --renderer auto is only measured where the only Vulkan device is software.
bool only_software_vulkan() {
  auto devices = render::list_devices();
  if (!devices) return false;
  auto pick = render::choose_device(devices.value(), {});
  return pick && devices.value()[pick->index].type == "cpu";
}

// `frames` as fast as possible with `renderer`, ungoverned.
EngineConfig unpaced_config(RendererKind renderer, std::uint64_t frames) {
  EngineConfig c = governed_config();
  c.renderer = renderer;
  c.governor = false;
  c.hz = 0;
  c.seconds = 0;
  c.frames = frames;
  return c;
}

struct AutoChoice {
  std::string description;
  std::vector<RendererKind> stages;  // the stage of every frame drawn, start-up probe first
};

AutoChoice auto_choice(RendererKind slow) {
  EngineConfig c = unpaced_config(RendererKind::kAuto, 40);
  // Under a sanitizer lavapipe itself slows to tens of ms a frame: the fake
  // slow stage must stand clear of that.
  constexpr std::uint64_t kSlowNs = TRIPTYCH_SANITIZED ? 80'000'000 : 15'000'000;
  auto stages = std::make_shared<std::vector<RendererKind>>();
  c.test_render_stall = [slow, stages](std::uint64_t, RendererKind stage, double) {
    stages->push_back(stage);  // creation and the render thread never call it at once
    return stage == slow ? kSlowNs : std::uint64_t{0};
  };
  auto engine = run_to_end(c);
  if (!engine) return {};
  expect_exact_accounting(engine->status());
  EXPECT_EQ(engine->status().presented, 40U);
  return {engine->renderer_description(), *stages};
}

// The start-up probe draws 2 + 2 * 8 frames, alternating; then every frame of
// the run goes to the stage it picked.
void expect_probe_then_one_stage(const AutoChoice& got, RendererKind picked) {
  constexpr std::size_t kProbeFrames = 18;
  ASSERT_EQ(got.stages.size(), kProbeFrames + 40) << got.description;
  for (std::size_t i = 0; i < kProbeFrames; ++i) {
    EXPECT_EQ(got.stages[i], i % 2 == 0 ? RendererKind::kVulkan : RendererKind::kCpu) << "probe frame " << i;
  }
  for (std::size_t i = kProbeFrames; i < got.stages.size(); ++i) {
    EXPECT_EQ(got.stages[i], picked) << "run frame " << i - kProbeFrames;
  }
}

TEST(RendererChoice, Engine_AutoPicksTheFasterOfAFakeSlowAndAFakeFastRenderer) {
  if (!only_software_vulkan()) GTEST_SKIP() << "a hardware Vulkan device: auto takes it without measuring";
  const AutoChoice slow_vulkan = auto_choice(RendererKind::kVulkan);
  EXPECT_NE(slow_vulkan.description.find("auto picked the CPU reference"), std::string::npos)
      << slow_vulkan.description;
  EXPECT_NE(slow_vulkan.description.find("at start-up, median render"), std::string::npos)
      << "it says why: " << slow_vulkan.description;
  expect_probe_then_one_stage(slow_vulkan, RendererKind::kCpu);
  const AutoChoice slow_cpu = auto_choice(RendererKind::kCpu);
  EXPECT_NE(slow_cpu.description.find("auto picked Vulkan"), std::string::npos) << slow_cpu.description;
  expect_probe_then_one_stage(slow_cpu, RendererKind::kVulkan);
}

TEST(RendererChoice, Engine_VulkanStillForcesVulkan) {
  EngineConfig c = unpaced_config(RendererKind::kVulkan, 5);
  c.test_render_stall = [](std::uint64_t, RendererKind stage, double) {
    EXPECT_EQ(stage, RendererKind::kVulkan);
    return std::uint64_t{0};
  };
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  EXPECT_EQ(engine->renderer_description().rfind("Vulkan: ", 0), 0U) << engine->renderer_description();
}

}  // namespace
}  // namespace triptych::pipeline
