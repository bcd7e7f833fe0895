// SPDX-License-Identifier: Apache-2.0
// Isolation mode with the Vulkan renderer (lavapipe here): the render
// process renders with Vulkan when the engine's renderer is Vulkan, and its
// picture equals the in-process Vulkan one; SIGKILLs of Vulkan render
// processes are recovered from with nothing torn and every frame counted
// (recovery time warm against cold is printed: the standby holds Vulkan
// initialised); three crashes fall back to the in-process Vulkan renderer.
// Skips where no Vulkan device is usable. Design: docs/isolation.md.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_run.hpp"
#include "support/machine_plan.hpp"
#include "support/presented_pixels.hpp"
#include "support/process_probe.hpp"
#include "support/small_engine_config.hpp"
#include "triptych/isolate/render_session.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/render/vulkan_renderer.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

bool vulkan_usable() {
  auto devices = render::list_devices();
  return devices && render::choose_device(devices.value(), {}).ok();
}

EngineConfig vulkan_config() {
  EngineConfig c = test::small_engine_config();
  c.renderer = RendererKind::kVulkan;
  c.raster = RasterPath::kQuads;
  c.particle_path = ParticlePath::kCpu;
  c.frames_in_flight = 1;
  c.governor = false;
  return c;
}

TEST(IsolationVulkan, AnIsolatedVulkanRunRendersTheSameImageAsInProcessVulkan) {
  if (!vulkan_usable()) GTEST_SKIP() << "no usable Vulkan device";
  auto in_process = test::run_to_end(vulkan_config());
  ASSERT_TRUE(in_process);
  ASSERT_EQ(in_process->status().error, "");
  EngineConfig c = vulkan_config();
  c.isolate = true;
  auto isolated = test::run_to_end(c);
  ASSERT_TRUE(isolated);
  const EngineStatus s = isolated->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.presented, 30u);
  EXPECT_EQ(s.lost, 0u);
  EXPECT_NE(isolated->renderer_description().find("Vulkan in a render process"), std::string::npos)
      << isolated->renderer_description();
  const auto a = test::presented_pixels(*in_process);
  const auto b = test::presented_pixels(*isolated);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  int worst = 0;
  std::size_t differing = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const int d = std::abs(static_cast<int>(a[i]) - static_cast<int>(b[i]));
    worst = std::max(worst, d);
    differing += d != 0 ? 1U : 0U;
  }
  std::printf("isolated Vulkan against in-process Vulkan: %zu of %zu bytes differ, by at most %d\n", differing,
              a.size(), worst);
  EXPECT_EQ(worst, 0) << "the render process's Vulkan picture differs from the in-process one";
}

// SIGKILLs of Vulkan render processes against a running engine; returns the
// recovery times (kill -> a new frame at the host), sorted.
std::vector<double> kill_loop(bool warm, std::uint64_t kills) {
  std::vector<double> recovery_ms;
  EngineConfig c = vulkan_config();
  c.isolate = true;
  c.isolate_warm_standby = warm;
  c.isolate_test_mode = true;
  c.isolate_crash_limit = 1000;
  c.host_presents = true;
  c.frames = 0;
  c.seconds = 0;
  c.hz = 200;
  auto created = Engine::create(c);
  EXPECT_TRUE(created.ok()) << created.error().what();
  if (!created) return recovery_ms;
  auto engine = std::move(created).value();
  EXPECT_TRUE(engine->start().ok());
  std::vector<std::byte> pixels(std::size_t{c.width} * c.height * 4);
  std::uint64_t torn = 0;
  auto take = [&] {
    auto got = engine->copy_result(pixels);
    if (!got || !got.value()) return false;
    if (!isolate::frame_lines_hold(pixels, *got.value())) ++torn;
    return true;
  };
  for (std::uint64_t k = 0; k < kills; ++k) {
    // Let the new process (and, warm, its standby) settle: a standby warms
    // Vulkan up after its exec, and the next kill should find it ready.
    const auto run_until = Clock::now() + 300ms;
    std::int32_t pid = 0;
    while (Clock::now() < run_until || pid == 0) {
      (void)take();
      pid = engine->status().render_pid;
      std::this_thread::sleep_for(200us);
      if (Clock::now() - run_until > 10s) break;
    }
    EXPECT_NE(pid, 0) << "no render process before kill " << k;
    if (pid == 0) break;
    const auto killed_at = Clock::now();
    EXPECT_EQ(::kill(pid, SIGKILL), 0);
    bool recovered = false;
    while (Clock::now() - killed_at < 10s) {
      const EngineStatus s = engine->status();
      if (s.render_crashes == k + 1 && s.render_pid != 0 && s.render_pid != pid && take()) {
        recovered = true;
        break;
      }
      std::this_thread::sleep_for(100us);
    }
    EXPECT_TRUE(recovered) << "kill " << k << ": no new frame within 10 s";
    if (!recovered) break;
    recovery_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count());
    const EngineStatus s = engine->status();
    EXPECT_EQ(s.error, "");
    EXPECT_EQ(s.render_crashes_by_sigkill, k + 1);
    EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost + s.in_flight) << "after kill " << k;
  }
  engine->request_stop();
  test::wait_well_inside(*engine, 20s);
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost);
  EXPECT_EQ(s.render_crashes, kills);
  EXPECT_EQ(s.render_respawns, kills);
  if (warm) {
    EXPECT_GE(s.render_respawns_warm, kills * 8 / 10);
  } else {
    EXPECT_EQ(s.render_respawns_warm, 0u);
  }
  EXPECT_EQ(torn, 0u) << "torn frames reached the host";
  std::sort(recovery_ms.begin(), recovery_ms.end());
  if (!recovery_ms.empty()) {
    std::printf("Vulkan render process, SIGKILL -> next frame at the host (%s, %zu kills, %llu warm): p50 %.1f ms, "
                "p99 %.1f ms, max %.1f ms\n",
                warm ? "warm standby" : "cold respawn", recovery_ms.size(),
                static_cast<unsigned long long>(s.render_respawns_warm), recovery_ms[recovery_ms.size() / 2],
                recovery_ms[std::min(recovery_ms.size() - 1, recovery_ms.size() * 99 / 100)], recovery_ms.back());
  }
  return recovery_ms;
}

TEST(IsolationVulkan, SigkillsOfVulkanRenderProcessesAreRecoveredWarmAndCold) {
  if (!vulkan_usable()) GTEST_SKIP() << "no usable Vulkan device";
  const int fds_before = test::open_fd_count();
  const auto warm = kill_loop(true, 10);
  const auto cold = kill_loop(false, 10);
  ASSERT_EQ(warm.size(), 10u);
  ASSERT_EQ(cold.size(), 10u);
  EXPECT_LT(warm.back(), 5000.0);
  EXPECT_LT(cold.back(), 5000.0);
  EXPECT_EQ(test::open_fd_count(), fds_before) << "an fd leaked";
  EXPECT_TRUE(test::no_children()) << "a render process (or its zombie) outlived the engine";
}

TEST(IsolationVulkan, ThreeCrashesFallBackToTheInProcessVulkanRenderer) {
  if (!vulkan_usable()) GTEST_SKIP() << "no usable Vulkan device";
  EngineConfig c = vulkan_config();
  c.isolate = true;
  c.frames = 0;
  c.seconds = 0;
  c.hz = 100;
  auto created = Engine::create(c);
  ASSERT_TRUE(created.ok()) << created.error().what();
  auto engine = std::move(created).value();
  ASSERT_TRUE(engine->start().ok());
  const auto t0 = Clock::now();
  std::int32_t killed = 0;
  for (int k = 0; k < 3 && Clock::now() - t0 < 20s;) {
    const EngineStatus now = engine->status();
    if (now.render_pid != 0 && now.render_pid != killed && now.render_crashes == static_cast<std::uint64_t>(k) &&
        now.presented > 0) {
      killed = now.render_pid;
      ASSERT_EQ(::kill(killed, SIGKILL), 0);
      ++k;
    }
    std::this_thread::sleep_for(5ms);
  }
  while (engine->status().isolated && Clock::now() - t0 < 20s) std::this_thread::sleep_for(5ms);
  const EngineStatus fell = engine->status();
  EXPECT_FALSE(fell.isolated) << "no fall-back after 3 crashes";
  EXPECT_NE(fell.isolation_fallback.find("falling back to the in-process renderer"), std::string::npos);
  const std::string described = engine->renderer_description();
  EXPECT_EQ(described.rfind("Vulkan, in-process after", 0), 0u) << described;
  const std::uint64_t presented = fell.presented;
  while (engine->status().presented < presented + 5 && Clock::now() - t0 < 30s) std::this_thread::sleep_for(5ms);
  EXPECT_GE(engine->status().presented, presented + 5) << "the in-process Vulkan renderer presents nothing";
  engine->request_stop();
  test::wait_well_inside(*engine, 20s);
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost);
}

}  // namespace
}  // namespace triptych::pipeline
