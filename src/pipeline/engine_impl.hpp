// SPDX-License-Identifier: Apache-2.0
// Engine::Impl: the state the pipeline's threads share, and the map of which
// file implements which part of it (private to src/pipeline). Blocking where
// the frame loop and render thread wait; counters are lock-free. The frame
// loop, the render thread, compute members and the host thread all reach it:
// each member says who writes it. Every SYNC label used on these fields is
// listed in docs/pipeline.md, "Orderings".
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "isolated_stage.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/pipeline/governor.hpp"
#include "triptych/pipeline/present_clock.hpp"
#include "triptych/render/cpu_stage.hpp"
#include "triptych/render/presenter.hpp"
#include "triptych/render/vulkan_renderer.hpp"
#include "triptych/report/counters.hpp"
#include "triptych/report/export.hpp"
#include "triptych/trace/trace.hpp"
#include "triptych_kernel.h"  // the kNative context is held by value

namespace triptych::pipeline {

// How long a blocked thread sleeps before re-checking the stop flag: the
// liveness re-check every peer-dependent wait has (CONVENTIONS.md #10).
inline constexpr std::chrono::milliseconds kWaitSlice{20};
// The most frames the render thread keeps in the Vulkan stage at once (the
// frames_in_flight run option's maximum).
inline constexpr std::uint32_t kMaxFramesInFlight = 3;
// Recent end-to-end latencies kept for the live status line.
inline constexpr std::size_t kRecent = 256;
// Governor decisions kept for the outputs; later ones are counted only.
inline constexpr std::size_t kKeptDecisions = 256;
// Frames in flight are at most a few: a frame's rate divisor is kept by
// frame id modulo this.
inline constexpr std::size_t kDivisorRing = 8;
// --renderer auto on a software-only Vulkan: frames each renderer draws in
// the start-up probe (after one untimed frame each), alternating.
inline constexpr std::uint32_t kRendererWarmupFrames = 8;

// A governor level and decision in words, for status(), the console and the report.
[[nodiscard]] std::string describe_level(std::uint32_t level);
[[nodiscard]] std::string isolation_summary(const EngineStatus& s);
[[nodiscard]] std::string describe(const GovernorDecision& d, std::uint64_t start_ns);
[[nodiscard]] std::string describe(const CoreMove& m, std::uint64_t start_ns);

struct Engine::Impl {
  EngineConfig cfg;
  std::optional<ExternalMemory> ext;
  std::optional<Arena> arena;
  std::unique_ptr<sched::Pool> compute_pool;
  std::unique_ptr<sched::Pool> render_pool;
  sched::AffinityPartitioner partitioner;
  std::unique_ptr<render::VulkanRenderer> vulkan;
  // presenting.cpp: the window, when frames are shown in one (destroyed before `vulkan`).
  std::optional<render::WindowSystem> window_system;
  std::unique_ptr<render::WindowPresenter> window;
  std::string present_choice;  // where frames are shown and why, for renderer_description()
  // The HUD's numbers (render thread; presenting.cpp, feed_hud).
  render::HudStats hud_stats;
  std::array<float, render::kHudFrameHistory> hud_intervals{};  // ring of present intervals (ms)
  std::uint64_t hud_count = 0;                                  // intervals recorded
  std::uint64_t hud_last_presented = 0;
  std::uint32_t hud_level = ~0U;  // the governor level hud_stats.governor describes
  // The window's pause and step keys (render thread writes, frame loop reads).
  // Relaxed: flags; a frame issued a moment late or early is fine.
  std::atomic<bool> paused{false};
  std::atomic<std::uint32_t> steps_allowed{0};
  // The particle count: the + and - keys set what is wanted (render thread),
  // the frame loop applies it from its next frame and says so in
  // particles_now (status(), any thread) and particle_log. Relaxed: a
  // setting each reader acts on alone; a frame's own count travels with it
  // in frame_particles.
  std::atomic<std::uint32_t> particles_wanted{0};
  std::atomic<std::uint32_t> particles_now{0};
  std::vector<std::pair<std::uint64_t, std::uint32_t>> particle_log;  // under message_mu; the first kKeptDecisions
  // ClockOwner::kPresenter in a window (attach_window): the frame loop keeps
  // the presenter's clock (PresentClock). The render thread measures its
  // work (take -> present return) and publishes the rolling p99 the wake-up
  // is set from: relaxed, an estimate like ema_render_ns.
  bool presenter_clock = false;
  RollingP99 render_work{PresentClock::kWarmupFrames};  // render thread only
  std::atomic<std::uint64_t> render_p99_ns{0};
  std::unique_ptr<render::CpuRenderStage> cpu;
  // Isolation mode's stage (render thread only; counters from any thread).
  // use_isolated: the render thread renders with it; cleared once on a
  // fall-back to `cpu`, which is always built beside it.
  std::unique_ptr<IsolatedRenderStage> isolated;
  std::atomic<bool> use_isolated{false};  // a setting status() reads alone: relaxed
  std::string isolation_fallback;         // under message_mu
  trace::FrameTraceTable* table = nullptr;
  tp_kernel_ctx* ctx = nullptr;      // where kernels read the frame context
  tp_kernel_ctx own_ctx{};           // kNative: the context lives here
  std::uint64_t ctx_address = 0;     // ctx as an address in the kernel's memory
  std::uint64_t period_ns = 0;       // 0: as fast as possible

  // Compute slot -> frame id. Written by the frame loop before publish and
  // read by the render thread after acquire_latest: the triple buffer's
  // acq_rel exchanges order these plain accesses like the slot bytes.
  std::array<std::uint64_t, 3> slot_frame{};
  std::array<std::uint32_t, 3> slot_particles{};  // likewise: the count the slot's frame simulated
  std::array<std::uint64_t, 3> result_frame{};  // likewise for the result buffer

  std::thread loop_thread;
  std::thread render_thread;
  // Flags whose readers act on the flag alone and read nothing else on its
  // strength (fatal and causes are under message_mu): relaxed throughout.
  std::atomic<bool> started{false};
  std::atomic<bool> stop_requested{false};
  std::atomic<bool> loop_done{false};  // SYNC(loop-done)
  WaitWord consumed;  // bumped by render after taking a compute frame (kWait pacing)
  // Bumped after each compute publish and each frame the render stage
  // completes: what the render thread sleeps on (SYNC(render-wake)).
  WaitWord render_wake;
  // Just-in-time dispatch estimates (kWait): when render took its current
  // frame (0: idle) and how long a render takes; the loop's compute time.
  std::atomic<std::uint64_t> render_busy_since{0};
  std::atomic<std::uint64_t> ema_render_ns{0};
  std::uint64_t ema_compute_ns = 0;  // frame loop only
  WaitWord finished;  // 1 once both threads are done: SYNC(finished)

  // Compute failures of the frame in progress (any member thread). Relaxed:
  // the frame loop reads it after parallel_for, ordered by SYNC(group-done).
  std::atomic<bool> frame_failed{false};
  // The frame being dispatched (1-based). Written before the pool's dispatch,
  // which publishes it to the members like the context (SYNC(inbox)), so
  // relaxed suffices.
  std::atomic<std::uint64_t> dispatch_frame{0};
  mutable std::mutex message_mu;  // failure path and status only, never per frame
  std::string last_failure;
  std::string frame_cause;  // the first failure recorded for the frame in progress
  std::vector<report::FrameFailure> failure_log;  // the first kKeptFailures failed frames
  std::uint64_t failures_not_kept = 0;
  std::string fatal;
  // abandon_compute()'s member, which completes every chunk left as failed.
  std::thread drainer;
  std::atomic<bool> draining{false};        // once-guard: the RMW alone decides
  std::atomic<bool> result_settled{false};  // host_presents: the untaken last frame is counted

  std::atomic<std::uint64_t> issued{0}, computed{0}, failed{0}, dropped{0}, presented{0}, late{0};
  std::atomic<std::uint64_t> lost{0};  // isolation mode: held by a render process that crashed
  std::atomic<std::uint64_t> particles_rejected{0}, particles_clamped{0};  // render thread writes
  std::string frame_loop_priority;  // written by the frame loop before it starts frames
  std::uint64_t start_ns = 0;
  std::array<std::atomic<std::uint64_t>, kRecent> recent_latency{};  // SYNC(recent)
  std::array<std::atomic<std::uint64_t>, kRecent> recent_presented{};
  std::atomic<std::uint64_t> recent_count{0};

  // The deadline governor (governor.hpp), fed and consulted by the render
  // thread only. Its level is read by the frame loop (the rate divisor) and
  // status(): relaxed, a setting both act on alone.
  std::optional<Governor> governor;
  std::atomic<std::uint32_t> governor_level{0};
  std::atomic<std::uint64_t> governor_changes{0};
  std::vector<GovernorDecision> governor_log;  // under message_mu; the first kKeptDecisions
  // Frame id % kDivisorRing -> the rate divisor it was paced at (0: never
  // paced by the loop, read as 1), and the count it simulated (for the HUD).
  // Written by the frame loop before the compute publish, read by the render
  // thread after the take. Relaxed atomics: the frame loop may run a whole
  // ring ahead of a slow render thread and rewrite the entry it reads (it
  // then reads a newer frame's value); the render input's count comes from
  // slot_particles, which the triple buffer orders.
  std::array<std::atomic<std::uint32_t>, kDivisorRing> frame_divisor{};
  std::array<std::atomic<std::uint32_t>, kDivisorRing> frame_particles{};
  // The adaptive core plan (adaptive_plan.hpp), fed by the render thread
  // only, which re-pins the pools and itself on a move. The pools' current
  // sets are under message_mu (a move and status() only).
  std::optional<AdaptivePlan> adaptive;
  std::atomic<std::uint64_t> core_move_count{0};  // a count status() reads alone: relaxed
  std::vector<CoreMove> core_move_log;  // under message_mu; the first kKeptDecisions
  sched::CpuSet compute_cpus_now, render_cpus_now;  // under message_mu
  render::LayoutParams layout;  // the full-size layout (a governor scales it per frame)

  // The stage the render thread renders with (--renderer auto: the start-up
  // probe's pick). renderer_choice says what was picked and why.
  bool use_cpu = false;
  std::string renderer_choice;  // under message_mu

  report::ProcessProbe process;

  // ---- creation steps (engine.cpp) ----
  [[nodiscard]] Result<void> build_arena(const ZoneMap& zone_map);
  [[nodiscard]] Result<void> build_pools();
  [[nodiscard]] Result<void> build_render_stage();
  [[nodiscard]] Result<void> build_vulkan(const std::array<std::span<std::byte>, 3>& layout_zones,
                                         const std::array<std::span<std::byte>, 3>& result_zones);
  [[nodiscard]] Result<void> choose_present();
  void add_window_extensions(render::VulkanRendererConfig& vc) const;
  [[nodiscard]] Result<void> attach_window();
  void handle_window_input();
  void change_particle_count(std::int32_t doublings);
  // Frame loop: while paused, waits (and lets one frame through per step);
  // false when the run should end (stop, or `end_ns` passed).
  [[nodiscard]] bool hold_while_paused(std::uint64_t end_ns);
  void feed_hud(std::uint64_t frame, const render::FrameInfo& info);
  [[nodiscard]] Result<void> build_isolated(const std::array<float, 4>& clear,
                                           const std::array<std::span<std::byte>, 3>& result_zones);
  // Names this thread and pins it to `cpus`; a refused pin is fatal.
  void pin_this_thread(const sched::CpuSet& cpus, const char* name);

  // ---- frame accounting and failures (frame_accounting.cpp) ----
  void set_fatal(const std::string& message);
  void record_failure(const std::string& message);
  void fail_frame(std::uint64_t frame, const std::string& cause);
  void drop_frame(std::uint64_t frame);
  [[nodiscard]] bool slot_index_ok(std::uint32_t index, const char* what);
  [[nodiscard]] bool publish_counting_drop(TripleBuffer& tb, const std::array<std::uint64_t, 3>& frames,
                                           const char* what);
  [[nodiscard]] const char* publish_compute(std::uint64_t frame, std::uint32_t particles);
  void mark_presented(std::uint64_t frame);

  // ---- compute members (compute_members.cpp) ----
  void wake_members() noexcept;
  void drain_compute();

  // ---- the frame loop (frame_loop.cpp) ----
  void frame_loop();
  [[nodiscard]] bool wait_for_render(TripleBuffer& tb, bool just_in_time);
  // Runs the kernel over [0, count) items; items from `fresh_from` on have
  // no previous state and are initialised (TP_CTX_FIRST_FRAME) instead.
  [[nodiscard]] bool run_compute(std::uint64_t frame, std::uint64_t index, std::uint32_t count,
                                 std::uint32_t fresh_from, std::uint64_t& last_output_offset);
  void dispatch_kernel(std::uint64_t frame, std::uint32_t begin, std::uint32_t end);
  // The particle count for `frame` (the keys' wish, from this frame on).
  [[nodiscard]] std::uint32_t apply_particle_count(std::uint64_t frame, std::uint32_t current);
  // Folds this frame's compute time into the estimates; returns it (0: unknown).
  std::uint64_t note_compute_time(std::uint64_t frame);

  // ---- the render thread (render_loop.cpp) ----
  // A frame handed to the render stage and not yet presented (render thread only).
  struct RenderInFlight {
    std::uint64_t ticket = 0;
    std::uint64_t frame = 0;
    std::uint64_t taken_ns = 0;
    std::uint32_t result_zone = 0;
    bool zone_attached = false;  // false: submitted with kResultZoneLater
    bool on_cpu = false;         // the stage that took it (auto's warm-up switches)
    bool isolated = false;       // ... or the isolated stage (on_cpu is then true too: synchronous)
    float resolution_scale = 1.0F;  // the governor's settings it was drawn with
    std::uint32_t draw_stride = 1;
  };
  enum class Take { kNothing, kSubmitted, kFailed };
  void render_loop();
  [[nodiscard]] std::uint64_t stage_completed(const RenderInFlight& f) const;
  [[nodiscard]] Take take_and_submit(TripleBuffer& compute_tb, std::uint64_t ticket, bool result_zone_free,
                                     RenderInFlight& out);
  [[nodiscard]] bool finish(const RenderInFlight& f);
  [[nodiscard]] bool attach_result_zone(RenderInFlight& f);
  void fail_in_flight(const std::array<RenderInFlight, kMaxFramesInFlight>& ring, std::uint32_t head,
                      std::uint32_t count);
  void note_render(std::uint64_t frame, const render::FrameInfo& info, std::uint64_t taken_ns);
  void stall_for_test(const RenderInFlight& f);
  [[nodiscard]] bool stretch_if_scaled(const RenderInFlight& f, const render::FrameInfo& info);
  void govern(std::uint64_t frame, std::uint64_t render_ns);
  void adapt_plan(std::uint64_t frame, std::uint64_t render_ns);
  [[nodiscard]] std::uint32_t divisor_of(std::uint64_t frame) const;
  [[nodiscard]] bool present(std::uint64_t frame, std::uint32_t result_zone);

  // ---- isolation mode (isolated_stage.cpp) ----
  // The isolated stage refused `frame` with `error`: counts it lost (a crash)
  // or failed (a refused result) and falls back to `cpu` once the stage gave
  // up. False for any other error (fatal, as for every stage).
  [[nodiscard]] bool isolated_frame_lost(std::uint64_t frame, const Error& error);
  void fill_isolation_status(EngineStatus& s) const;

  // ---- --renderer auto's start-up probe (renderer_probe.cpp) ----
  [[nodiscard]] Result<void> probe_renderers(const std::string& device_name);
  [[nodiscard]] Result<std::uint64_t> probe_frame(bool on_cpu, std::uint32_t index, std::span<const std::byte> slot);
  void leave_render_thread(TripleBuffer& compute_tb, report::ThreadProbe& probe);

  // ---- the copy-based baseline (host_feed.cpp) ----
  void settle_untaken_result();

  std::span<std::byte> zone(ZoneId id) const { return arena->zone(id); }

  // A compute slot as an offset in the kernel's memory (what kernels get).
  std::uint64_t kernel_offset_of(std::span<const std::byte> s) const {
    return static_cast<std::uint64_t>(s.data() - arena->kernel_base());
  }
};

}  // namespace triptych::pipeline
