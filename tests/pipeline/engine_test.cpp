// SPDX-License-Identifier: Apache-2.0
// The engine end to end on the native host: every frame accounted for (on
// time, late, dropped or failed), failed frames never shown, external members
// (the way Node workers run WASM) including one that dies mid-chunk, the
// Vulkan path under validation, and bad configurations.
#include "triptych/pipeline/engine.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>

#include "support/host_memory.hpp"
#include "support/engine_run.hpp"
#include "support/machine_plan.hpp"
#include "support/small_engine_config.hpp"
#include "triptych/render/scene.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/report/export.hpp"
#include "triptych_kernel.h"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;

using test::run_to_end;
using test::this_machine_plan;
using test::wait_well_inside;

EngineConfig small_config() { return test::small_engine_config(); }

TEST(Pipeline, Engine_EveryFrameIsPresentedWhenNothingFails) {
  auto engine = run_to_end(small_config());
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.issued, 30u);
  EXPECT_EQ(s.computed, 30u);
  EXPECT_EQ(s.presented, 30u);
  EXPECT_EQ(s.failed, 0u);
  EXPECT_EQ(s.dropped, 0u);
  const report::TraceReport r = report::collect_report(*engine->arena().trace());
  EXPECT_EQ(r.stats.complete, 30u);
  EXPECT_EQ(r.stats.invalid, 0u);
}

std::atomic<int> g_fail_every{0};
std::int32_t failing_kernel(const tp_kernel_ctx* ctx, std::uint32_t begin, std::uint32_t end) {
  const int every = g_fail_every.load(std::memory_order_relaxed);
  if (every != 0 && ctx->frame_id % static_cast<std::uint64_t>(every) == 0 && begin == 0) return 7;
  return tp_kernel_step(ctx, begin, end);
}

TEST(Pipeline, Engine_FailedComputeFramesAreNeverPresented) {
  g_fail_every.store(5, std::memory_order_relaxed);
  EngineConfig c = small_config();
  c.native_kernel = &failing_kernel;
  auto engine = run_to_end(c);
  g_fail_every.store(0, std::memory_order_relaxed);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.failed, 6u);  // kernel frame ids 5, 10, ..., 30
  EXPECT_EQ(s.presented, 24u);
  EXPECT_NE(s.last_failure.find("returned 7"), std::string::npos) << s.last_failure;
  const report::TraceReport r = report::collect_report(*engine->arena().trace());
  ASSERT_EQ(r.frames.size(), r.verdicts.size());
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    const bool failed = (r.frames[i].frame + 1) % 5 == 0;
    EXPECT_EQ(r.verdicts[i] == report::FrameVerdict::kComplete, !failed) << "frame " << r.frames[i].frame;
    EXPECT_EQ(r.verdicts[i] == report::FrameVerdict::kFailed, failed) << "failed, never 'dropped'";
    EXPECT_EQ(r.frames[i].at(trace::Stage::kPresented) != 0, !failed) << "frame " << r.frames[i].frame;
  }
  // One accounting: the engine's counters and the trace's verdicts agree.
  EXPECT_EQ(r.stats.failed, s.failed);
  EXPECT_EQ(r.stats.dropped, s.dropped);
  EXPECT_EQ(r.stats.complete, s.presented);
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed + s.in_flight);
  // Each failed frame keeps its cause.
  std::uint64_t not_kept = 0;
  const auto causes = engine->failure_causes(not_kept);
  ASSERT_EQ(causes.size(), 6u);
  EXPECT_EQ(not_kept, 0u);
  for (const auto& [frame, cause] : causes) {
    EXPECT_EQ((frame + 1) % 5, 0u);
    EXPECT_NE(cause.find("returned 7 at frame " + std::to_string(frame + 1)), std::string::npos) << cause;
  }
}

TEST(Pipeline, Engine_StopBeforeStartFinishesAtOnceAndStartRefuses) {
  auto e = Engine::create(small_config());
  ASSERT_TRUE(e.ok()) << e.error().what();
  std::unique_ptr<Engine> engine = std::move(e).value();
  const auto t0 = std::chrono::steady_clock::now();
  engine->request_stop();
  EXPECT_TRUE(engine->finished());
  engine->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms) << "stop() of an engine that never ran must not wait";
  EXPECT_FALSE(engine->start().ok());
  EXPECT_EQ(engine->status().issued, 0u);
}

TEST(Pipeline, Engine_DropPolicyAccountsForEveryFrame) {
  EngineConfig c = small_config();
  c.lag = LagPolicy::kDrop;
  c.frames = 200;
  c.width = 512;  // render slower than compute, so some frames are overwritten
  c.height = 512;
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.issued, s.computed + s.failed);
  EXPECT_EQ(s.computed, s.presented + s.dropped);
  const report::TraceReport r = report::collect_report(*engine->arena().trace());
  EXPECT_EQ(r.stats.complete, s.presented);
  EXPECT_EQ(r.stats.dropped, s.dropped);
}

// Stands in for a Node worker: joins as an external member and runs the kernel
// itself, translating the kernel's addresses (relative to the host memory's
// start, as in WASM) into this process's. Fails frame `trap_frame` as a trap would.
void member_loop(Engine& engine, std::byte* memory_base, std::atomic<bool>& stop, std::uint64_t trap_frame,
                 std::atomic<std::uint64_t>& chunks) {
  auto joined = engine.join_compute();
  ASSERT_TRUE(joined.ok()) << joined.error().what();
  ComputeMember member = std::move(joined).value();
  while (!stop.load(std::memory_order_acquire)) {
    auto job = member.take(5ms);
    if (!job) continue;
    tp_kernel_ctx ctx = *reinterpret_cast<const tp_kernel_ctx*>(memory_base + job->ctx_address);
    ctx.kernel_base += reinterpret_cast<std::uintptr_t>(memory_base);
    if (ctx.frame_id == trap_frame) {
      member.complete(-1, "RuntimeError: unreachable at frame " + std::to_string(ctx.frame_id));
      continue;
    }
    member.complete(tp_kernel_step(&ctx, job->begin, job->end));
    chunks.fetch_add(1, std::memory_order_relaxed);
  }
}

using test::HostMemory;

// The two memories a Node host allocates: the kernel's and the engine's.
struct TwoMemories {
  HostMemory kernel;
  HostMemory engine;
  ExternalMemory external(std::uint64_t ctx_address = 64) {
    return ExternalMemory{HostMemories{kernel.mem.get(), kernel.bytes, engine.mem.get(), engine.bytes, 0}, ctx_address};
  }
};

TwoMemories host_for(const ZoneMap& l) {
  return TwoMemories{HostMemory(static_cast<std::size_t>(l.kernel_bytes)),
                       HostMemory(static_cast<std::size_t>(l.total_bytes))};
}

EngineConfig external_config() {
  EngineConfig c = small_config();
  c.compute = ComputeBackend::kExternal;
  c.native_kernel = nullptr;
  c.workers = 2;
  c.kernel_static_bytes = 4096;  // the ctx lives at address 64 of it
  c.worker_stack_bytes = 16384;
  return c;
}

TEST(Pipeline, Engine_ExternalMembersRunEveryChunkAndATrapFailsOnlyItsFrame) {
  const EngineConfig c = external_config();
  auto setup = Engine::prepare(c);
  ASSERT_TRUE(setup.ok()) << setup.error().what();
  TwoMemories host = host_for(setup->zone_map);
  auto e = Engine::create(setup.value(), host.external());
  ASSERT_TRUE(e.ok()) << e.error().what();
  std::unique_ptr<Engine> engine = std::move(e).value();
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> chunks{0};
  std::byte* kernel = host.kernel.mem.get();
  std::thread a(member_loop, std::ref(*engine), kernel, std::ref(stop), 12, std::ref(chunks));
  std::thread b(member_loop, std::ref(*engine), kernel, std::ref(stop), 12, std::ref(chunks));
  ASSERT_TRUE(engine->start().ok());
  wait_well_inside(*engine, 60s);
  engine->stop();
  stop.store(true, std::memory_order_release);
  a.join();
  b.join();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.presented, 29u);
  EXPECT_NE(s.last_failure.find("unreachable at frame 12"), std::string::npos) << s.last_failure;
  EXPECT_GE(chunks.load(std::memory_order_relaxed), 29u * ((c.particles + c.grain - 1) / c.grain));
}

TEST(Pipeline, Engine_MemberThatDiesMidChunkFailsTheFrameAndAReplacementGoesOn) {
  EngineConfig c = external_config();
  c.workers = 1;
  auto setup = Engine::prepare(c);
  ASSERT_TRUE(setup.ok());
  TwoMemories host = host_for(setup->zone_map);
  auto e = Engine::create(setup.value(), host.external());
  ASSERT_TRUE(e.ok()) << e.error().what();
  std::unique_ptr<Engine> engine = std::move(e).value();
  ASSERT_TRUE(engine->start().ok());
  // The first member takes one chunk and vanishes holding it (a terminated
  // worker): leaving completes it as failed, so the frame fails, not hangs.
  {
    auto joined = engine->join_compute();
    ASSERT_TRUE(joined.ok());
    ComputeMember doomed = std::move(joined).value();
    std::optional<ComputeJob> job;
    while (!(job = doomed.take(5ms))) {
    }
    EXPECT_TRUE(doomed.busy());
    doomed.leave("worker terminated: frame deadline passed");
  }
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> chunks{0};
  std::thread replacement(member_loop, std::ref(*engine), host.kernel.mem.get(), std::ref(stop), 0, std::ref(chunks));
  wait_well_inside(*engine, 60s);
  engine->stop();
  stop.store(true, std::memory_order_release);
  replacement.join();
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.failed, 1u);
  EXPECT_EQ(s.presented, 29u);
  EXPECT_NE(s.last_failure.find("deadline"), std::string::npos) << s.last_failure;
}

TEST(Pipeline, Engine_VulkanPathIsValidationClean) {
  EngineConfig c = small_config();
  c.renderer = RendererKind::kVulkan;
  c.validation = true;
  c.frames = 10;
  auto engine = run_to_end(c);
  ASSERT_TRUE(engine);
  const EngineStatus s = engine->status();
  EXPECT_EQ(s.error, "");
  EXPECT_EQ(s.presented, 10u);
}

// The copy-based baseline's native half: the host computes, copies each frame
// in, and copies each result out; staging buffers instead of imports.
TEST(Pipeline, Engine_HostFedFramesAreRenderedAndCopiedOut) {
  EngineConfig c = small_config();
  c.compute = ComputeBackend::kCopyIn;
  c.native_kernel = nullptr;
  c.frames = 0;
  c.staging = true;
  c.host_presents = true;
  c.renderer = RendererKind::kVulkan;
  auto e = Engine::create(c);
  ASSERT_TRUE(e.ok()) << e.error().what();
  std::unique_ptr<Engine> engine = std::move(e).value();
  ASSERT_TRUE(engine->start().ok());
  std::vector<tp_particle> a(c.particles), b(c.particles);
  tp_kernel_ctx ctx{};
  ctx.abi_version = TP_KERNEL_ABI_VERSION;
  ctx.item_count = c.particles;
  ctx.item_bytes = sizeof(tp_particle);
  ctx.dt = 1.0F / 60.0F;
  std::vector<std::byte> pixels(std::size_t{c.width} * c.height * 4);
  std::uint64_t copied = 0;
  for (std::uint32_t f = 1; f <= 20; ++f) {
    const std::uint64_t queued = trace::now_ns();
    ctx.frame_id = f;
    ctx.flags = f == 1 ? TP_CTX_FIRST_FRAME : 0u;
    ctx.input_offset = reinterpret_cast<std::uintptr_t>(a.data());
    ctx.output_offset = reinterpret_cast<std::uintptr_t>(b.data());
    ASSERT_EQ(tp_kernel_step(&ctx, 0, c.particles), 0);
    std::swap(a, b);
    const std::uint64_t done = trace::now_ns();
    auto frame = engine->host_frame(std::as_bytes(std::span(a)), queued, queued, done);
    ASSERT_TRUE(frame.ok()) << frame.error().what();
    // Wait for this frame's pixels, as a UI would.
    for (int tries = 0; tries < 5000; ++tries) {
      auto got = engine->copy_result(pixels);
      ASSERT_TRUE(got.ok()) << got.error().what();
      if (got.value() && *got.value() == frame.value()) {
        ++copied;
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
  }
  std::vector<std::byte> wrong(10);
  EXPECT_EQ(engine->host_frame(wrong, 1, 1, 1).error().code, Errc::kInvalidArgument);
  EXPECT_EQ(engine->copy_result(wrong).error().code, Errc::kTooSmall);
  auto unordered = engine->host_frame(std::as_bytes(std::span(a)), 30, 20, 10);
  ASSERT_FALSE(unordered.ok());
  EXPECT_NE(unordered.error().message.find("queued <= compute start <= compute end"), std::string::npos);
  engine->request_stop();
  wait_well_inside(*engine, 30s);
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_EQ(copied, 20u);
  // The host's particles were drawn: the picture is not all background.
  std::size_t drawn = 0;
  for (std::size_t px = 4; px + 4 <= pixels.size(); px += 4) {
    if (std::memcmp(pixels.data() + px, pixels.data(), 4) != 0) ++drawn;
  }
  EXPECT_GT(drawn, 0u) << "a host-fed frame rendered no particle";
  EXPECT_EQ(s.issued, 20u);
  EXPECT_EQ(s.presented, 20u);
  EXPECT_EQ(s.error, "");
  EXPECT_NE(engine->renderer_description().find("staging"), std::string::npos);
  const report::TraceReport r = report::collect_report(*engine->arena().trace());
  EXPECT_EQ(r.stats.complete, 20u);
}

// A control block corrupted under a running engine (an index out of range in
// the compute triple buffer's writer line) must stop the run with an error
// that names the buffer, fail the frame it hit, and leave every frame
// accounted; never a write through the bad index.
TEST(Pipeline, Engine_CorruptTripleBufferStopsTheRunClearlyWithEveryFrameAccounted) {
  EngineConfig c = small_config();
  c.frames = 0;  // until stopped: the corruption ends the run
  auto e = Engine::create(c);
  ASSERT_TRUE(e.ok()) << e.error().what();
  std::unique_ptr<Engine> engine = std::move(e).value();
  ASSERT_TRUE(engine->start().ok());
  TripleBufferControl& ctl = engine->arena().triple_buffer(FrameStage::kCompute).control();
  const auto t0 = std::chrono::steady_clock::now();
  // The writer rewrites its own index each publish: keep corrupting it until
  // the engine notices (bounded).
  while (engine->status().error.empty() && std::chrono::steady_clock::now() - t0 < 10s) {
    ctl.writer_index.store(7, std::memory_order_relaxed);
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(engine->wait_finished(30s));
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_LT(took, 10s) << "the engine must notice within a few frames, well inside the 30 s wait";
  engine->stop();
  const EngineStatus s = engine->status();
  EXPECT_NE(s.error.find("compute writer"), std::string::npos) << s.error;
  EXPECT_NE(s.error.find("refused a publish"), std::string::npos) << s.error;
  EXPECT_GE(s.failed, 1u) << "the frame the corruption hit is failed, not lost";
  EXPECT_EQ(s.in_flight, 0u);
  EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed);
}

std::int32_t slow_kernel(const tp_kernel_ctx* ctx, std::uint32_t begin, std::uint32_t end) {
  if (begin == 0) std::this_thread::sleep_for(40ms);  // each frame takes at least 40 ms
  return tp_kernel_step(ctx, begin, end);
}

// `seconds` is wall-clock time at any rate: as fast as possible, and at a
// rate the machine cannot keep (each frame takes 40 ms against 8.3 ms).
TEST(Pipeline, Engine_SecondsEndTheRunOnTheWallClock) {
  for (const bool overloaded : {false, true}) {
    EngineConfig c = small_config();
    c.frames = 0;
    c.seconds = 1.0;
    c.hz = overloaded ? 120 : 0;
    if (overloaded) c.native_kernel = &slow_kernel;
    auto e = Engine::create(c);
    ASSERT_TRUE(e.ok()) << e.error().what();
    std::unique_ptr<Engine> engine = std::move(e).value();
    const auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(engine->start().ok());
    EXPECT_TRUE(engine->wait_finished(10s));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    engine->stop();
    EXPECT_GT(took, 0.95) << (overloaded ? "overloaded" : "as fast as possible");
    EXPECT_LT(took, 1.3) << (overloaded ? "overloaded" : "as fast as possible");
    const EngineStatus s = engine->status();
    EXPECT_GT(s.presented, 5u);
    EXPECT_EQ(s.issued, s.presented + s.dropped + s.failed);
  }
}

TEST(Pipeline, Engine_RejectsBadConfigurationsClearly) {
  auto expect_error = [](const EngineConfig& c, Errc code, const char* words,
                         std::optional<ExternalMemory> mem = std::nullopt) {
    auto e = Engine::create(c, mem);
    ASSERT_FALSE(e.ok()) << words;
    EXPECT_EQ(e.error().code, code) << e.error().what();
    EXPECT_NE(e.error().message.find(words), std::string::npos) << e.error().what();
  };
  EngineConfig c = small_config();
  c.particles = 0;
  expect_error(c, Errc::kBadOption, "particles must be an integer in [1, 16777216], got 0");
  c = small_config();
  c.hz = -1;
  expect_error(c, Errc::kBadOption, "hz must be a number in [0, 1000]");
  c = small_config();
  c.seconds = -2;
  expect_error(c, Errc::kBadOption, "seconds");
  c = small_config();
  c.native_kernel = nullptr;
  expect_error(c, Errc::kInvalidArgument, "kernel");
  c = small_config();
  c.width = 0;
  expect_error(c, Errc::kBadOption, "width must be an integer in [1, 8192], got 0");
  c = external_config();
  expect_error(c, Errc::kInvalidArgument, "memory");
  auto setup = Engine::prepare(c);
  ASSERT_TRUE(setup.ok());
  TwoMemories host = host_for(setup->zone_map);
  expect_error(c, Errc::kOutOfRange, "context address", host.external(4096));
  ExternalMemory half = host.external();
  half.memories.engine_bytes /= 2;
  expect_error(c, Errc::kTooSmall, "engine's memory", half);
  ExternalMemory no_slots = host.external();
  no_slots.memories.kernel_bytes -= kPageSize;
  expect_error(c, Errc::kTooSmall, "kernel's memory", no_slots);
  ExternalMemory one_memory = host.external();
  one_memory.memories.engine = one_memory.memories.kernel;
  expect_error(c, Errc::kOverlap, "overlaps", one_memory);
  c = small_config();
  c.compute = ComputeBackend::kCopyIn;
  c.frames = 10;
  expect_error(c, Errc::kInvalidArgument, "frames must be 0");
  // Host-fed calls on an engine that computes for itself are refused.
  {
    auto e = Engine::create(small_config());
    ASSERT_TRUE(e.ok());
    std::vector<std::byte> bytes(std::size_t{small_config().particles} * sizeof(tp_particle));
    EXPECT_NE(e.value()->host_frame(bytes, 1, 1, 1).error().message.find("host-fed"), std::string::npos);
    std::vector<std::byte> pixels(1 << 20);
    EXPECT_NE(e.value()->copy_result(pixels).error().message.find("host_presents"), std::string::npos);
  }
  c = small_config();
  c.renderer = RendererKind::kVulkan;
  c.device = "no such GPU anywhere";
  auto e = Engine::create(c);
  ASSERT_FALSE(e.ok());
  EXPECT_NE(e.error().message.find("no such GPU anywhere"), std::string::npos) << e.error().what();
}

}  // namespace
}  // namespace triptych::pipeline
