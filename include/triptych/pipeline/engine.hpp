// SPDX-License-Identifier: Apache-2.0
// Engine: the whole frame pipeline in one process. A frame-loop thread
// (pinned to the reserved set) paces frames, dispatches compute chunks to the
// compute pool (native threads running a C kernel, or external members: Node
// workers running the WASM kernel), publishes the compute triple buffer; a
// render thread (pinned to the render set) takes the latest compute slot, runs
// the render stage (Vulkan or the CPU reference) with its layout pass on the
// render pool, reads back into the result triple buffer and presents. Compute
// of frame N+1 overlaps render of frame N. Every frame is stamped in the
// arena's trace table. Control calls (create/start/stop/status/export) come
// from one host thread; join_compute from any thread that becomes a worker.
// Design: docs/pipeline.md.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "triptych/arena/arena.hpp"
#include "triptych/core/result.hpp"
#include "triptych/pipeline/adaptive_plan.hpp"
#include "triptych/pipeline/governor.hpp"
#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/pool.hpp"

// The particle kernel ABI's per-frame context (kernels/sdk/triptych_kernel.h).
// Only named here: callers that build or read one include that header.
struct tp_kernel_ctx;

namespace triptych::pipeline {

enum class ComputeBackend {
  kNative,    // own pool threads call a native kernel (tests, benchmarks, the native host)
  kExternal,  // external members (Node workers) run the WASM kernel; nobody else does
  kCopyIn,    // the host computes elsewhere and copies each frame in (host_frame): the
              // copy-based baseline; there is no frame-loop thread
};

// kAuto: Vulkan, except where the only Vulkan device is a software
// rasteriser (lavapipe: type "cpu"); there the host measures both renderers
// for a short warm-up and picks the faster (choose_renderer()).
enum class RendererKind { kVulkan, kCpu, kAuto };

// Where frames are shown (docs/presenter.md): a window (the Vulkan renderer's
// frames blitted to a swapchain, paced at `hz`), or offscreen only (render
// target and readback, as always). kAuto: a window when a display and Vulkan
// surfaces are there, else offscreen, saying why.
enum class PresentTarget { kAuto, kWindow, kOffscreen };

// Who keeps time in a window (docs/pipeline.md, "Who owns the clock"):
// kPresenter: the presenter's present deadlines; each frame is handed to the
// render thread at the presenter's wake-up (deadline - rolling p99 of render
// work - 1.65 ms) and its compute issued before that by compute's rolling p99.
// kFrameLoop: the frame loop's own pacer (FramePacer) issues frames and
// every stage follows at once. Offscreen it is always the frame loop's.
enum class ClockOwner { kPresenter, kFrameLoop };

// The fewest particles the - key leaves simulated: 1000 or capacity / 64,
// whichever is more, but never more than the capacity.
[[nodiscard]] constexpr std::uint32_t particle_floor(std::uint32_t capacity) noexcept {
  const std::uint32_t floor = capacity / 64 > 1000 ? capacity / 64 : 1000;
  return floor < capacity ? floor : capacity;
}

// Who validates and places the particles (Vulkan): the GPU straight from the
// compute slots, or the CPU layout pass; kAuto: the GPU where it can import them.
enum class ParticlePath { kAuto, kGpu, kCpu };

// How the Vulkan render stage turns particles into pixels: SDF quads through
// the graphics pipeline, or the compute splat renderer (compute shaders
// only); kAuto: a short start-up measurement per device picks (a software
// rasteriser takes quads). docs/render-stage.md ("Compute splat renderer").
enum class RasterPath { kAuto, kQuads, kSplat };

// What compute does when render has not yet taken the previous frame.
enum class LagPolicy {
  kWait,  // compute waits for render (no frame is dropped; the frame rate drops)
  kDrop,  // compute goes on; the unread frame is overwritten and counted dropped
};

using NativeKernelStep = std::int32_t (*)(const tp_kernel_ctx*, std::uint32_t, std::uint32_t);

// Host memory the arena is adopted into: two shared WebAssembly.Memory
// objects (HostMemories, with the header at the engine's memory's start).
// The kernel's memory is the one kernel instances import; the per-frame
// kernel context lives at ctx_address in it (inside the kernel zone's static
// part, above the module's data).
struct ExternalMemory {
  HostMemories memories;
  std::uint64_t ctx_address = 0;
};

// The defaults are every host's: the run options table (run_options.hpp)
// reads them from EngineConfig{} for the CLI, the JS API and the native host.
struct EngineConfig {
  // The capacity the arena is sized for; frames simulate this many until the
  // window's + and - keys change the count (particle_floor() .. particles).
  std::uint32_t particles = 8000;
  double hz = 60.0;                 // target frame rate; 0 = as fast as possible
  double seconds = 10.0;            // wall-clock run time, when frames is 0; both 0 = until stop()
  std::uint64_t frames = 0;         // frames to issue; 0 = `seconds` ends the run
  std::uint32_t grain = 2048;       // particles per compute chunk
  std::uint32_t workers = 0;        // compute members; 0 = one per compute CPU of the plan
  ComputeBackend compute = ComputeBackend::kNative;
  NativeKernelStep native_kernel = nullptr;  // kNative only
  RendererKind renderer = RendererKind::kAuto;
  PresentTarget present = PresentTarget::kOffscreen;
  ClockOwner clock = ClockOwner::kFrameLoop;  // in a window: whose deadlines pace the frames (measured: docs/pipeline.md)
  bool hud = true;  // in a window: the HUD (fps, frame times, stage bars, misses, drops, governor); H toggles it
  std::uint32_t width = 640;
  std::uint32_t height = 480;
  std::string device;               // Vulkan device name substring, or "" for the best
  int device_index = -1;            // explicit Vulkan device index, or -1
  bool validation = false;          // Khronos validation layer; any message fails the run
  LagPolicy lag = LagPolicy::kWait;
  ParticlePath particle_path = ParticlePath::kAuto;
  RasterPath raster = RasterPath::kAuto;
  // Frames the Vulkan render stage works on at once: the render of frame N+1
  // is submitted while N's copy into the result zone completes (1..3).
  std::uint32_t frames_in_flight = 2;
  std::uint32_t seed = 1;
  std::uint32_t worker_stack_bytes = 256 * 1024;  // per WASM worker (kExternal)
  std::uint64_t kernel_static_bytes = 0;          // kExternal: WASM data + module stack + ctx
  sched::CorePlan plan;             // where threads go (sched::plan_cores)
  std::uint32_t trace_capacity = 0;  // frames kept in the trace table; 0 = fit `frames`
  // Copy through staging buffers instead of importing the arena's zones into
  // Vulkan (the baseline; also what a driver without host import gets).
  bool staging = false;
  // The host takes each finished frame with copy_result() (and that stamps
  // "presented"), instead of the render thread presenting it in place.
  bool host_presents = false;
  // Test hook: nanoseconds the render thread stalls after rendering `frame`
  // with `stage` (kVulkan or kCpu) at `render_cost` (the governor level's
  // GovernorLevel::render_cost(), 1 at full cost): a fake slow renderer.
  // Empty in every real run.
  std::function<std::uint64_t(std::uint64_t frame, RendererKind stage, double render_cost)> test_render_stall;
  // The deadline governor (docs/pipeline.md, "Deadline governor"): sheds
  // render cost, then frame rate, to keep frames inside their period, and
  // restores them with hysteresis. Needs hz > 0; not for kCopyIn (the
  // baseline measures the path as it is). false: every frame at full cost.
  bool governor = true;
  // The adaptive core plan (docs/scheduler.md, "Adaptive core plan"): moves
  // CPUs between the compute and render pools (from `plan`, its starting
  // point) by the measured stage times, with hysteresis, and re-pins them.
  // Not for kCopyIn (no compute pool of its own).
  bool adaptive_plan = false;
  AdaptivePlanConstants adaptive_constants;  // tests shorten its holds and cool-downs
  // Isolation mode (docs/isolation.md): the render stage runs in a render
  // process of its own (Vulkan there when `renderer` is kVulkan, else the CPU
  // reference), supervised; a crash costs
  // the frame it held ("lost to a render crash") and a new process is
  // spawned; isolate_crash_limit crashes within isolate_crash_window_s fall
  // back to the same renderer in-process.
  bool isolate = false;
  std::uint32_t isolate_crash_limit = 3;
  double isolate_crash_window_s = 10.0;
  double isolate_hang_timeout_s = 0.5;  // no progress this long: the render process is killed
  // A second render process waits, warm, behind the one that renders; a
  // death attaches it. false: every respawn is cold (posix_spawn + exec).
  bool isolate_warm_standby = true;
  // Test hooks: every result carries its frame id in every line, checked on
  // accept; a hostile render process (forged DONEs, spoiled results).
  bool isolate_test_mode = false;
  bool isolate_hostile = false;
};

// Live counters, readable while running (any thread).
struct EngineStatus {
  std::uint64_t issued = 0;     // frames the loop started
  std::uint64_t computed = 0;   // compute finished and published
  std::uint64_t failed = 0;     // compute (kernel error, trap, deadline, lost worker) or render failed: never shown
  std::uint64_t dropped = 0;    // computed but overwritten before render took it, or skipped
  std::uint64_t presented = 0;  // rendered, read back and presented
  std::uint64_t lost = 0;       // isolation mode: held by a render process that crashed
  std::uint64_t late = 0;       // presented past their frame's deadline (queued + period)
  // issued - presented - dropped - failed - lost: frames still in the pipeline. At
  // the end of a run it is 0 (docs/pipeline.md, "Accounting").
  std::uint64_t in_flight = 0;
  // Particles the render stage's validation threw away in presented and
  // failed-render frames alike (non-finite values, negative sizes, unknown
  // shapes, beyond the layout zone), summed over the run: what a kernel's bad
  // output cost its pictures. Culled (off-screen) particles are not counted.
  std::uint64_t particles_rejected = 0;
  std::uint64_t particles_clamped = 0;  // drawn with their size or line length clamped
  // Particles the newest issued frame simulates (<= EngineConfig::particles;
  // the window's + and - keys change it).
  std::uint32_t particles = 0;
  bool paused = false;  // the window's pause key holds the frame loop
  double elapsed_s = 0;
  double fps = 0;               // presented frames per second over the last second
  double p50_ms = 0;            // end-to-end latency (queued -> presented), recent frames
  double p99_ms = 0;
  bool running = false;
  std::string error;            // first fatal error, if any
  std::string last_failure;     // last compute failure message, if any
  // The deadline governor: its level (0 = full cost), what that level
  // sheds, how many changes it made and the last one in words.
  bool governor = false;        // on for this run
  std::uint32_t governor_level = 0;
  float resolution_scale = 1.0F;
  std::uint32_t draw_stride = 1;
  double rate_hz = 0;           // the frame rate paced now (hz / rate divisor)
  std::uint64_t governor_changes = 0;
  std::string governor_last;    // "t=1.23s frame 70: 1.00x -> 0.85x resolution (p95 latency near budget)"
  // The adaptive core plan: on for this run, its moves, the pools' CPUs now.
  bool adaptive_plan = false;
  std::uint64_t core_moves = 0;
  std::string compute_cpus;
  std::string render_cpus;
  // Isolation mode: the render process now (0: none), its crashes (deaths
  // seen, of them by SIGKILL), hangs killed, cold respawns, protocol
  // violations refused, results refused (torn or forged), the last recovery
  // (death seen -> new process ready) and whether it fell back in-process.
  bool isolated = false;
  std::int32_t render_pid = 0;
  std::uint64_t render_crashes = 0;
  std::uint64_t render_crashes_by_sigkill = 0;
  std::uint64_t render_hangs_killed = 0;
  std::uint64_t render_deadline_kills = 0;  // killed for no DONE within its deadline (a wait that ran out)
  std::uint64_t render_respawns = 0;
  std::uint64_t render_respawns_warm = 0;  // ... of them a warm standby attached
  std::uint64_t render_respawns_no_standby = 0;  // ... of them cold because no standby stood ready yet
  std::uint64_t render_violations = 0;
  std::uint64_t render_results_refused = 0;
  double render_recovery_ms = 0;
  double isolate_copy_in_ms = 0;   // per frame, mean: compute output into H
  double isolate_copy_out_ms = 0;  // per frame, mean: result out of C, hash included
  std::string isolation_fallback;  // why it fell back to the in-process renderer, if it did
};

// One chunk handed to an external compute member.
struct ComputeJob {
  std::uint32_t begin = 0;
  std::uint32_t end = 0;
  std::uint64_t frame = 0;
  std::uint64_t ctx_address = 0;  // the kernel context, as an address in the kernel's memory
};

class Engine;

// A thread that joined the compute pool (kExternal). Used by that thread only.
class ComputeMember {
 public:
  ComputeMember(ComputeMember&&) noexcept = default;
  ComputeMember& operator=(ComputeMember&&) = delete;
  ComputeMember(const ComputeMember&) = delete;
  ~ComputeMember();

  // Next chunk, blocking natively (futex) up to `timeout`; nullopt on timeout
  // or when the engine is stopping.
  [[nodiscard]] std::optional<ComputeJob> take(std::chrono::nanoseconds timeout);
  // Hands the chunk back. A non-zero status (kernel error code, trap) fails
  // the frame with `message`, which names the frame and chunk.
  void complete(std::int32_t status, const std::string& message = {});
  // Completes an in-flight chunk as failed (if any) and leaves. Idempotent.
  void leave(const std::string& reason = "worker left");
  [[nodiscard]] std::uint32_t index() const noexcept { return member_.index(); }
  [[nodiscard]] std::uint32_t cpu() const noexcept { return member_.cpu(); }
  [[nodiscard]] bool busy() const noexcept { return job_.has_value(); }

 private:
  friend class Engine;
  ComputeMember(Engine* engine, sched::Member member) noexcept
      : engine_(engine), member_(std::move(member)) {}
  Engine* engine_;
  sched::Member member_;
  std::optional<sched::Job> job_;
  bool left_ = false;
};

// A checked configuration with its arena zone map: what Engine::prepare()
// gives, and what hosts size their memory from before create().
struct EngineSetup {
  EngineConfig config;
  ZoneMap zone_map;
};

class Engine {
 public:
  // Checks `config` against the run options' ranges (run_options.hpp) and the
  // rules between them, fills in the worker count and maps the zones,
  // once. Errors: kBadOption, kInvalidArgument.
  [[nodiscard]] static Result<EngineSetup> prepare(EngineConfig config);
  // Builds the arena (anonymous, or adopted into `memory`), the pools, the
  // render stage and the trace table. Errors: bad config, no Vulkan device,
  // memory too small or misaligned, a plan CPU we may not use.
  [[nodiscard]] static Result<std::unique_ptr<Engine>> create(
      EngineSetup setup, std::optional<ExternalMemory> memory = std::nullopt);
  // prepare(), then create().
  [[nodiscard]] static Result<std::unique_ptr<Engine>> create(
      EngineConfig config, std::optional<ExternalMemory> memory = std::nullopt);
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;
  ~Engine();  // stop()s

  [[nodiscard]] Result<void> start();
  // Asks the frame loop to finish its current frame and stop; returns at
  // once (hosts that must keep serving workers meanwhile poll finished()).
  // Before start(): the engine is finished at once and start() refuses.
  void request_stop() noexcept;
  // request_stop(), then waits for both threads. Idempotent. External members must keep serving until it returns.
  // Blocking: hosts with an event loop call it off that loop, or once
  // finished() (then it returns at once). Before start() it returns at once.
  void stop();
  // The host lost its compute members for good (a worker died and could not
  // be replaced): the run fails with `reason` (status().error), stops, and a
  // native member completes every chunk left as failed, so the frame loop
  // never waits for a worker that will not come. Any thread; returns at once.
  void abandon_compute(const std::string& reason);
  // Fails the frame being computed with `cause` (kept as its cause when it is
  // the first); its chunks not yet taken are handed back unrun. Any thread.
  void fail_current_frame(const std::string& cause);
  [[nodiscard]] bool started() const noexcept;
  // Each failed frame's id and cause (the first one recorded for it), for the
  // first few hundred failed frames; `not_kept` counts the rest. Any thread.
  [[nodiscard]] std::vector<std::pair<std::uint64_t, std::string>> failure_causes(std::uint64_t& not_kept) const;
  // Blocks until the run has issued all its frames and drained, or timeout.
  bool wait_finished(std::chrono::nanoseconds timeout);
  [[nodiscard]] bool finished() const noexcept;

  [[nodiscard]] Result<ComputeMember> join_compute();

  // kCopyIn: one computed frame, copied into the compute slot and published.
  // The stamps are the host's (CLOCK_MONOTONIC ns). Returns the frame id.
  // Errors: wrong backend, wrong size, stopped. Host thread only.
  [[nodiscard]] Result<std::uint64_t> host_frame(std::span<const std::byte> particles, std::uint64_t queued_ns,
                                                 std::uint64_t compute_start_ns, std::uint64_t compute_end_ns);
  // host_presents: copies the newest finished frame's pixels (RGBA8, width x
  // height) into `pixels`, stamps it presented and returns its id; nullopt
  // when no new frame is ready. Host thread only.
  [[nodiscard]] Result<std::optional<std::uint64_t>> copy_result(std::span<std::byte> pixels);
  [[nodiscard]] EngineStatus status() const;

  // After stop(): exports. Any path may be empty to skip that file.
  struct Outputs {
    std::string trace_json, report_html, frames_csv, stats_json, snapshot_png;
  };
  [[nodiscard]] Result<void> write_outputs(const Outputs& outputs,
                                          const std::vector<std::pair<std::string, std::string>>& run_config);
  // A one-screen summary table (per-stage breakdown) of the finished run.
  [[nodiscard]] std::string summary_table() const;
  // What the run delivered, in one line: "60 Hz at 0.85x resolution, every
  // particle drawn, 0 late of 600 (governor: 2 changes)". Any thread.
  [[nodiscard]] std::string delivery_summary() const;
  // The governor's decisions so far (the first few hundred), in order. Any thread.
  [[nodiscard]] std::vector<GovernorDecision> governor_decisions() const;
  // Each change of the simulated particle count (the window's + and - keys):
  // the frame id (FrameTraceTable's) from which it holds and the count, in
  // order, the first few hundred. Frames before the first simulated
  // EngineConfig::particles. Any thread.
  [[nodiscard]] std::vector<std::pair<std::uint64_t, std::uint32_t>> particle_counts() const;
  // The adaptive core plan's moves so far (the first few hundred), in order. Any thread.
  [[nodiscard]] std::vector<CoreMove> core_moves() const;

  [[nodiscard]] Arena& arena() noexcept;
  [[nodiscard]] const EngineConfig& config() const noexcept;
  [[nodiscard]] std::string renderer_description() const;
  // The Vulkan render stage's raster path and why ("compute splat: auto
  // measured ..."); "" for the CPU reference renderer. Any thread.
  [[nodiscard]] std::string raster_description() const;

  struct Impl;

 private:
  friend class ComputeMember;
  explicit Engine(std::unique_ptr<Impl> impl) noexcept;
  std::unique_ptr<Impl> impl_;
};

}  // namespace triptych::pipeline
