// SPDX-License-Identifier: Apache-2.0
// Isolation mode end to end on the native host (--isolate: the render stage
// in a supervised render process): the same picture as in-process; 50
// SIGKILLs of the render process against a running engine with nothing torn
// accepted, exact accounting after each and nothing leaked; a hostile render
// process that forges DONEs and spoils results gets nothing accepted; three
// crashes in a window fall back to the in-process renderer.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support/engine_run.hpp"
#include "support/machine_plan.hpp"
#include "support/process_probe.hpp"
#include "triptych/isolate/render_session.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/render/render_stage.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

EngineConfig small_config() {
  EngineConfig c;
  c.particles = 1000;
  c.grain = 128;
  c.hz = 0;
  c.frames = 30;
  c.width = 96;
  c.height = 64;
  c.renderer = RendererKind::kCpu;
  c.governor = false;
  c.native_kernel = &tp_kernel_step;
  c.plan = test::this_machine_plan();
  return c;
}

// The presented picture: the front of the result buffer, pixels only.
std::vector<std::byte> front_pixels(Engine& engine) {
  TripleBuffer& tb = engine.arena().triple_buffer(FrameStage::kResult);
  const std::uint32_t r = tb.indices().reader;
  EXPECT_LT(r, 3u);
  const auto zone = engine.arena().zone(static_cast<ZoneId>(static_cast<std::uint32_t>(ZoneId::kResultA) + r % 3));
  const auto image = render::read_result_zone(zone);
  EXPECT_TRUE(image.ok());
  if (!image) return {};
  const auto pixels = zone.subspan(image->pixel_offset, std::size_t{image->row_bytes} * image->height);
  return {pixels.begin(), pixels.end()};
}

void expect_exact(const EngineStatus& s, const char* when) {
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost + s.in_flight) << when;
}

TEST(Isolation, AnIsolatedRunRendersTheSameImageAsInProcess) {
  auto in_process = test::run_to_end(small_config());
  ASSERT_TRUE(in_process);
  EngineConfig c = small_config();
  c.isolate = true;
  auto isolated = test::run_to_end(c);
  ASSERT_TRUE(isolated);
  const EngineStatus s = isolated->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.presented, 30u);
  EXPECT_EQ(s.lost, 0u);
  EXPECT_NE(isolated->renderer_description().find("render process"), std::string::npos);
  const auto a = front_pixels(*in_process);
  const auto b = front_pixels(*isolated);
  ASSERT_EQ(a.size(), b.size());
  ASSERT_FALSE(a.empty());
  EXPECT_TRUE(a == b) << "the isolated run's last frame differs from the in-process one";
}

// The pids of this process's children (every thread's).
std::vector<long> child_pids() {
  std::vector<long> pids;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(task.path() / "children");
    for (long pid = 0; in >> pid;) pids.push_back(pid);
  }
  return pids;
}

// A field of /proc/<pid>/status ("" when the process is gone).
std::string status_field(long pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) return line.substr(line.find_first_not_of(" \t", field.size() + 1));
  }
  return "";
}

TEST(Isolation, TheRenderProcessRendersInsideItsSandbox) {
  EngineConfig c = small_config();
  c.isolate = true;
  c.frames = 0;
  c.hz = 60;
  c.seconds = 3;
  auto e = Engine::create(c);
  ASSERT_TRUE(e) << e.error().what();
  auto& engine = *e.value();
  ASSERT_TRUE(engine.start());
  const auto until = Clock::now() + 2s;
  while (engine.status().presented < 5 && Clock::now() < until) std::this_thread::sleep_for(5ms);
  ASSERT_GE(engine.status().presented, 5u) << "the render process presented nothing within 2 s";
  // The serving child is sandboxed (a warm standby enters it once attached).
  int sandboxed = 0;
  for (const long pid : child_pids()) {
    if (status_field(pid, "Seccomp") == "2" && status_field(pid, "NoNewPrivs") == "1") ++sandboxed;
  }
  EXPECT_GE(sandboxed, 1) << "no render process runs under its seccomp filter with no_new_privs";
  engine.request_stop();
  test::wait_well_inside(engine, 20s);
  engine.stop();
  EXPECT_EQ(engine.status().error, "");
}

// Takes every frame the engine finishes (host_presents) and checks each line
// carries the frame's id: a torn frame shows here whatever the host checked.
struct FrameTaker {
  Engine& engine;
  std::vector<std::byte> pixels;
  std::uint64_t taken = 0;
  std::uint64_t torn = 0;
  explicit FrameTaker(Engine& e) : engine(e), pixels(std::size_t{e.config().width} * e.config().height * 4) {}
  // True when a new frame was taken.
  bool take() {
    auto got = engine.copy_result(pixels);
    EXPECT_TRUE(got.ok());
    if (!got || !got.value()) return false;
    ++taken;
    if (!isolate::frame_lines_hold(pixels, *got.value())) ++torn;
    return true;
  }
};

// SIGKILLs of the render process at random times against a running engine,
// with (warm) or without a standby; reports the recovery time.
void kill_loop(bool warm, const std::uint64_t kKills) {
  const int fds_before = test::open_fd_count();
  std::vector<double> recovery_ms;
  {
    EngineConfig c = small_config();
    c.isolate = true;
    c.isolate_warm_standby = warm;
    c.isolate_test_mode = true;
    c.isolate_crash_limit = 1000;  // never fall back here: every kill must be recovered from
    c.host_presents = true;
    c.frames = 0;
    c.seconds = 0;
    c.hz = 500;
    auto created = Engine::create(c);
    ASSERT_TRUE(created.ok()) << created.error().what();
    auto engine = std::move(created).value();
    ASSERT_TRUE(engine->start().ok());
    FrameTaker taker(*engine);
    int maps_after_warmup = 0;
    std::uint64_t rss_after_warmup = 0;
    std::mt19937 rng(18);
    std::uniform_int_distribution<int> pause_us(0, 20000);
    for (std::uint64_t k = 0; k < kKills; ++k) {
      // Let it run a random while, taking frames, then kill whatever render process serves now.
      const auto run_until = Clock::now() + std::chrono::microseconds(pause_us(rng));
      std::int32_t pid = 0;
      while (Clock::now() < run_until || pid == 0) {
        (void)taker.take();
        pid = engine->status().render_pid;
        std::this_thread::sleep_for(200us);
        ASSERT_LT(Clock::now() - run_until, 5s) << "no render process after kill " << k;
      }
      const auto killed_at = Clock::now();
      ASSERT_EQ(::kill(pid, SIGKILL), 0);
      // Recovered: the supervisor counted this death, a new process serves,
      // and a new frame reached the host.
      bool recovered = false;
      while (Clock::now() - killed_at < 5s) {
        const EngineStatus s = engine->status();
        if (s.render_crashes == k + 1 && s.render_pid != 0 && s.render_pid != pid && taker.take()) {
          recovered = true;
          break;
        }
        std::this_thread::sleep_for(100us);
      }
      ASSERT_TRUE(recovered) << "kill " << k << ": no new frame within 5 s";
      recovery_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count());
      const EngineStatus s = engine->status();
      ASSERT_EQ(s.error, "");
      EXPECT_EQ(s.render_crashes, k + 1);
      EXPECT_EQ(s.render_crashes_by_sigkill, k + 1);
      EXPECT_LE(s.in_flight, 3u) << "after kill " << k;
      EXPECT_LE(s.lost, k + 1) << "a kill costs at most the frame the process held";
      expect_exact(s, "after a kill");
      if (k == 9) {  // the host's steady state: later crashes must not grow it
        maps_after_warmup = test::mapping_count();
        rss_after_warmup = test::resident_bytes();
      }
    }
    const int maps_growth = test::mapping_count() - maps_after_warmup;
    const double rss_growth_kib =
        (static_cast<double>(test::resident_bytes()) - static_cast<double>(rss_after_warmup)) / 1024.0;
    std::printf("host after kills 10..%llu: mappings %+d, RSS %+.0f KiB\n", static_cast<unsigned long long>(kKills),
                maps_growth, rss_growth_kib);
    // Under ASan the allocator's quarantine holds freed memory (RSS grows by
    // design) and LeakSanitizer checks leaks at exit instead: the bounds hold
    // for the plain build only.
    if (!TRIPTYCH_SANITIZED) {
      EXPECT_LE(maps_growth, 2) << "the host maps more with every crash";
      EXPECT_LT(rss_growth_kib, 1024.0) << "the host's RSS grows with every crash";
    }
    engine->request_stop();
    test::wait_well_inside(*engine, 10s);
    engine->stop();
    // The render thread is gone now: a render process it spawned must not
    // die with it (PR_SET_PDEATHSIG follows the spawning thread). Give the
    // supervisor time to see such a death before counting.
    std::this_thread::sleep_for(200ms);
    const EngineStatus s = engine->status();
    EXPECT_EQ(s.error, "");
    EXPECT_NE(s.render_pid, 0) << "the render process died with the render thread";
    EXPECT_EQ(s.in_flight, 0u);
    EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost);
    EXPECT_EQ(s.failed, 0u) << "no result was refused: nothing torn was offered";
    EXPECT_EQ(s.render_crashes, kKills);
    EXPECT_EQ(s.render_respawns, kKills);
    // A standby is started right after each attach: it is ready long before
    // the next kill, unless a kill lands within its exec.
    if (warm) {
      EXPECT_GE(s.render_respawns_warm, kKills * 8 / 10);
    } else {
      EXPECT_EQ(s.render_respawns_warm, 0u);
    }
    EXPECT_EQ(taker.torn, 0u) << "torn frames reached the host";
    EXPECT_GT(taker.taken, kKills);
    std::sort(recovery_ms.begin(), recovery_ms.end());
    std::printf("recovery SIGKILL -> next frame at the host (%s, %zu kills, %llu warm): p50 %.2f ms, p99 %.2f ms, "
                "max %.2f ms; lost to the crashes: %llu frames\n",
                warm ? "warm standby" : "cold respawn", recovery_ms.size(),
                static_cast<unsigned long long>(s.render_respawns_warm), recovery_ms[recovery_ms.size() / 2],
                recovery_ms[std::min(recovery_ms.size() - 1, recovery_ms.size() * 99 / 100)], recovery_ms.back(),
                static_cast<unsigned long long>(s.lost));
    EXPECT_LT(recovery_ms.back(), 2000.0) << "a generous bound: recovery is reported, not tuned, here";
  }
  EXPECT_EQ(test::open_fd_count(), fds_before) << "an fd leaked";
  EXPECT_TRUE(test::no_children()) << "a render process (or its zombie) outlived the engine";
}

TEST(Isolation, FiftySigkillsOfTheRenderProcessLeaveTheHostWholeAndCountEveryFrame) { kill_loop(true, 50); }

TEST(Isolation, TwentySigkillsWithColdRespawnsOnly) { kill_loop(false, 20); }

TEST(Isolation, AStoppedRenderProcessIsKilledAsAHangAndReplaced) {
  EngineConfig c = small_config();
  c.isolate = true;
  c.isolate_crash_limit = 1000;
  c.isolate_hang_timeout_s = 0.1;
  c.frames = 0;
  c.seconds = 0;
  c.hz = 200;
  auto created = Engine::create(c);
  ASSERT_TRUE(created.ok()) << created.error().what();
  auto engine = std::move(created).value();
  ASSERT_TRUE(engine->start().ok());
  const double hang_ms = 100.0 * (TRIPTYCH_SANITIZED ? 2 : 1);
  std::int32_t stopped = 0;
  for (std::uint64_t k = 0; k < 5; ++k) {
    auto t0 = Clock::now();
    std::int32_t pid = 0;
    while (((pid = engine->status().render_pid) == 0 || pid == stopped) && Clock::now() - t0 < 5s) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_TRUE(pid != 0 && pid != stopped) << "no new render process before stop " << k;
    const std::uint64_t presented = engine->status().presented;
    stopped = pid;
    t0 = Clock::now();
    ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    while (engine->status().render_hangs_killed != k + 1 && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
    const double killed_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ASSERT_EQ(engine->status().render_hangs_killed, k + 1) << "stop " << k << " was never killed";
    // The supervisor's own test holds it to T_hang + 50 ms; here the engine's
    // threads share the 2 CPUs with it, so the bound is looser.
    EXPECT_LT(killed_ms, hang_ms + 250.0) << "stop " << k;
    while (engine->status().presented <= presented + 1 && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
    EXPECT_GT(engine->status().presented, presented + 1) << "no frame after stop " << k;
  }
  engine->request_stop();
  test::wait_well_inside(*engine, 10s);
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.render_crashes, 5u);
  EXPECT_EQ(s.render_hangs_killed, 5u);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost);
}

TEST(Isolation, AHostileRenderProcessGetsNothingAcceptedAndEveryViolationCounted) {
  const int fds_before = test::open_fd_count();
  EngineConfig c = small_config();
  c.isolate = true;
  c.isolate_test_mode = true;
  c.isolate_hostile = true;
  c.host_presents = true;
  c.frames = 40;
  c.hz = 200;
  auto created = Engine::create(c);
  ASSERT_TRUE(created.ok()) << created.error().what();
  auto engine = std::move(created).value();
  ASSERT_TRUE(engine->start().ok());
  FrameTaker taker(*engine);
  const auto t0 = Clock::now();
  while (!engine->finished() && Clock::now() - t0 < 30s) {
    (void)taker.take();
    std::this_thread::sleep_for(200us);
  }
  (void)taker.take();
  EXPECT_LT(Clock::now() - t0, 15s) << "the run must finish well inside its 30 s wait";
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(taker.torn, 0u) << "a spoiled result reached the host";
  EXPECT_GT(taker.taken, 0u);
  // Every render: three forged DONEs (a frame never granted, another
  // generation, one more with an fd: two violations).
  const std::uint64_t renders = s.presented + s.dropped + s.failed;
  EXPECT_GE(s.render_violations, 4 * (renders - 1));
  // Every other result is spoiled after its seal: refused, and counted failed.
  EXPECT_GE(s.render_results_refused, renders / 2 - 1);
  EXPECT_EQ(s.failed, s.render_results_refused);
  EXPECT_EQ(s.render_crashes, 0u);
  EXPECT_EQ(s.lost, 0u);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost);
  engine.reset();
  EXPECT_EQ(test::open_fd_count(), fds_before) << "an fd the render process sent was kept";
}

TEST(Isolation, ThreeCrashesWithinTheWindowFallBackToTheInProcessRenderer) {
  EngineConfig c = small_config();
  c.isolate = true;
  c.frames = 0;
  c.seconds = 0;
  c.hz = 200;
  auto created = Engine::create(c);
  ASSERT_TRUE(created.ok()) << created.error().what();
  auto engine = std::move(created).value();
  ASSERT_TRUE(engine->start().ok());
  std::int32_t killed = 0;
  for (std::uint64_t k = 0; k < 3; ++k) {
    const auto t0 = Clock::now();
    std::int32_t pid = 0;
    while (((pid = engine->status().render_pid) == 0 || pid == killed) && Clock::now() - t0 < 5s) {
      std::this_thread::sleep_for(1ms);
    }
    ASSERT_TRUE(pid != 0 && pid != killed) << "no new render process before kill " << k;
    killed = pid;
    ASSERT_EQ(::kill(pid, SIGKILL), 0);
    while (engine->status().render_crashes != k + 1 && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
    ASSERT_EQ(engine->status().render_crashes, k + 1);
  }
  // The third crash is seen at the next frame: then the in-process renderer takes over.
  const auto t0 = Clock::now();
  while (engine->status().isolated && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
  EXPECT_LT(Clock::now() - t0, 2500ms) << "the fall-back must come well inside its 5 s wait";
  const std::uint64_t presented = engine->status().presented;
  while (engine->status().presented < presented + 10 && Clock::now() - t0 < 5s) std::this_thread::sleep_for(1ms);
  engine->request_stop();
  test::wait_well_inside(*engine, 10s);
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_FALSE(s.isolated);
  EXPECT_NE(s.isolation_fallback.find("falling back to the in-process renderer"), std::string::npos)
      << s.isolation_fallback;
  EXPECT_GE(s.presented, presented + 10) << "the in-process renderer goes on presenting";
  EXPECT_NE(engine->renderer_description().find("in-process after"), std::string::npos);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.lost);
}

}  // namespace
}  // namespace triptych::pipeline
