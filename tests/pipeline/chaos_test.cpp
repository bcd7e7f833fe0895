// SPDX-License-Identifier: Apache-2.0
// The chaos kernels of tests/node/chaos.test.mjs as native kernels on the
// native host, so ASan and UBSan watch the engine read garbage compute slots:
// a kernel that scribbles anywhere in the kernel's memory, overruns or
// underruns its range, or writes non-finite particles. A native kernel has no
// WASM bounds check, so each stray write outside the kernel's memory is
// turned into what WASM does with it: the chunk "traps" (returns an error)
// and its frame fails. Every frame must be accounted, no failed frame
// presented, and the engine must report no error. Not labelled concurrency:
// the stray writes race with the render stage's reads on purpose (a kernel
// spoiling its own picture), which is what ASan must see survive.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <array>
#include <chrono>
#include <atomic>
#include <cstdio>
#include <vector>
#include <string>

#include "triptych/pipeline/engine.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/report/export.hpp"
#include "triptych/report/stats.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

enum class Chaos { kScribble, kOverrun, kUnderrun, kNonfinite };

// The misbehaviour of the current run. Written before Engine::start(), whose
// thread creation publishes it to the kernel's threads.
struct ChaosRun {
  Chaos kind = Chaos::kScribble;
  std::uint32_t count = 0;  // bytes (scribble) or particles (overrun, underrun)
  std::byte* kernel_memory = nullptr;
  std::size_t kernel_bytes = 0;
};
ChaosRun g_run;
// Frames (by kernel frame id) a chunk of which the kernel failed.
constexpr std::size_t kMaxFrames = 4096;
std::array<std::atomic<bool>, kMaxFrames> g_failed_frame{};

std::int32_t fail_frame(const tp_kernel_ctx* ctx) {
  g_failed_frame[ctx->frame_id % kMaxFrames].store(true, std::memory_order_relaxed);
  return -1;
}

// xorshift32 (never 0 from a non-zero seed): any cheap stream will do.
std::uint32_t mix(std::uint32_t x) {
  x |= 1U;
  x ^= x << 13;
  x ^= x >> 17;
  return x ^ (x << 5);
}

// Writes `bytes` at `at` if the range lies in the kernel's memory; false is a
// WASM out-of-bounds trap.
bool stray_write(std::uintptr_t at, const void* bytes, std::size_t n) {
  const auto lo = reinterpret_cast<std::uintptr_t>(g_run.kernel_memory);
  if (at < lo || at - lo > g_run.kernel_bytes || n > g_run.kernel_bytes - (at - lo)) return false;
  std::memcpy(reinterpret_cast<void*>(at), bytes, n);
  return true;
}

std::int32_t chaos_step(const tp_kernel_ctx* ctx, std::uint32_t begin, std::uint32_t end) {
  const std::int32_t rc = tp_kernel_step(ctx, begin, end);
  if (rc != 0) return rc;
  std::uint32_t rng = mix(static_cast<std::uint32_t>(ctx->frame_id) * 0x85ebca6bU ^ begin);
  const auto out = static_cast<std::uintptr_t>(ctx->kernel_base + ctx->output_offset);
  switch (g_run.kind) {
    case Chaos::kScribble:
      for (std::uint32_t k = 0; k < g_run.count; ++k) {
        rng = mix(rng + 1);
        const auto at = reinterpret_cast<std::uintptr_t>(g_run.kernel_memory) + rng % g_run.kernel_bytes;
        const auto value = static_cast<std::uint8_t>(mix(rng));
        if (!stray_write(at, &value, 1)) return fail_frame(ctx);
      }
      break;
    case Chaos::kOverrun:
    case Chaos::kUnderrun: {
      const std::int64_t first = g_run.kind == Chaos::kOverrun ? std::int64_t{end} : std::int64_t{begin} - g_run.count;
      tp_particle p{0.5F, -0.5F, 0.0F, 0.0F, 0.01F, 0xff00ffffU, TP_SHAPE_CIRCLE, 0};
      for (std::uint32_t k = 0; k < g_run.count; ++k) {
        const std::int64_t index = first + k;
        const auto at = out + static_cast<std::uintptr_t>(index * static_cast<std::int64_t>(sizeof(tp_particle)));
        if (!stray_write(at, &p, sizeof(p))) return fail_frame(ctx);
      }
      break;
    }
    case Chaos::kNonfinite: {
      auto* particles = reinterpret_cast<tp_particle*>(out);
      for (std::uint32_t i = begin; i < end; ++i) {
        switch (mix(i ^ static_cast<std::uint32_t>(ctx->frame_id)) % 8U) {
          case 0: particles[i].x = std::nanf(""); break;
          case 1: particles[i].y = INFINITY; break;
          case 2: particles[i].size = 3.0e38F; break;
          case 3: particles[i].size = -1.0F; break;
          case 4: particles[i].shape = 0xdeadbeefU; break;
          default: break;
        }
      }
      break;
    }
  }
  return 0;
}

struct Case {
  const char* name;
  Chaos kind;
  std::uint32_t count;
};

class PipelineChaos : public testing::TestWithParam<Case> {};

TEST_P(PipelineChaos, KernelSpoilsOnlyItsOwnFrames) {
  const Case& c = GetParam();
  auto topo = sched::Topology::load();
  ASSERT_TRUE(topo.ok());
  auto plan = sched::plan_cores(topo.value());
  ASSERT_TRUE(plan.ok());
  EngineConfig cfg;
  cfg.particles = 1000;
  cfg.grain = 128;
  cfg.hz = 0;
  cfg.frames = TRIPTYCH_SANITIZED ? 300 : 2000;
  cfg.width = 48;
  cfg.height = 48;
  cfg.renderer = RendererKind::kCpu;
  cfg.native_kernel = &chaos_step;
  cfg.plan = plan.value();
  auto e = Engine::create(cfg);
  ASSERT_TRUE(e.ok()) << e.error().what();
  std::unique_ptr<Engine> engine = std::move(e).value();
  g_run = ChaosRun{c.kind, c.count, engine->arena().kernel_base(), engine->arena().kernel_bytes()};
  for (auto& f : g_failed_frame) f.store(false, std::memory_order_relaxed);
  std::vector<std::byte> header(engine->arena().base(), engine->arena().base() + sizeof(ArenaHeader));
  const auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(engine->start().ok());
  ASSERT_TRUE(engine->wait_finished(120s));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 60s) << "the run must end well inside the 120 s wait";
  engine->stop();

  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.issued, cfg.frames);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed) << "every frame is accounted";
  EXPECT_EQ(std::memcmp(header.data(), engine->arena().base(), header.size()), 0)
      << "the engine's memory header is untouched";
  // No failed frame is presented: the trace's complete frames are exactly
  // the presented count, and none of them is one the kernel failed.
  const report::TraceReport r = report::collect_report(*engine->arena().trace());
  EXPECT_EQ(r.stats.complete, s.presented);
  std::uint64_t kernel_failed = 0;
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    // Trace frames count from 0, the kernel's frame ids from 1.
    const bool failed = g_failed_frame[(r.frames[i].frame + 1) % kMaxFrames].load(std::memory_order_relaxed);
    kernel_failed += failed ? 1 : 0;
    if (failed) {
      EXPECT_NE(r.verdicts[i], report::FrameVerdict::kComplete) << "failed frame " << r.frames[i].frame << " was presented";
    }
  }
  EXPECT_EQ(kernel_failed, s.failed) << "the engine failed exactly the frames the kernel failed";
  if (c.kind == Chaos::kNonfinite) {
    EXPECT_EQ(s.failed, 0u) << "non-finite particles are the render stage's to cull, not a failure";
    EXPECT_GT(s.particles_rejected, 0u) << "the render stage counts the particles it drops";
  }
  std::printf("%s: presented %llu, failed %llu, dropped %llu\n", c.name,
              static_cast<unsigned long long>(s.presented), static_cast<unsigned long long>(s.failed),
              static_cast<unsigned long long>(s.dropped));
}

INSTANTIATE_TEST_SUITE_P(Kernels, PipelineChaos,
                         testing::Values(Case{"Scribble", Chaos::kScribble, 64}, Case{"Overrun1", Chaos::kOverrun, 1},
                                         Case{"Overrun32", Chaos::kOverrun, 32},
                                         Case{"Overrun256", Chaos::kOverrun, 256},
                                         Case{"Overrun4096", Chaos::kOverrun, 4096},
                                         Case{"Underrun1", Chaos::kUnderrun, 1},
                                         Case{"Underrun32", Chaos::kUnderrun, 32},
                                         Case{"Underrun256", Chaos::kUnderrun, 256},
                                         Case{"Underrun4096", Chaos::kUnderrun, 4096},
                                         Case{"Nonfinite", Chaos::kNonfinite, 0}),
                         [](const testing::TestParamInfo<Case>& param) { return std::string(param.param.name); });

}  // namespace
}  // namespace triptych::pipeline
