// SPDX-License-Identifier: Apache-2.0
// The isolated render stage: the third RenderStage beside the CPU reference
// and the Vulkan renderer, whose rendering happens in a render process of
// its own (tools/triptych-render). It owns the split memory (H, C), the
// supervisor and the child. Per frame: the compute output is copied into H
// (one copy), a RENDER grant is sent, DONE is awaited with a deadline (a
// death hangs the channel up and ends the wait at once: kPeerLost), the
// result is copied out of C once into the engine's result zone and
// validated there before anyone may publish it. A death costs the open
// frame ("lost to a render crash") and spawns a new child; crash_limit
// deaths within crash_window make it give up (the engine then falls back to
// the in-process renderer). Synchronous like the CPU reference: one frame
// at a time. submit/wait_frame on the render thread only; counters() from
// any thread. Private to src/pipeline. Design: docs/isolation.md.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "triptych/core/result.hpp"
#include "triptych/isolate/channel.hpp"
#include "triptych/isolate/grants.hpp"
#include "triptych/isolate/render_session.hpp"
#include "triptych/isolate/split_memory.hpp"
#include "triptych/isolate/supervisor.hpp"
#include "triptych/render/render_stage.hpp"
#include "triptych/render/layout_pass.hpp"

namespace triptych::pipeline {

struct IsolatedStageConfig {
  std::string executable;  // the render process (triptych-render)
  render::LayoutParams layout;
  std::array<float, 4> clear{};
  std::uint64_t compute_bytes = 0;  // each compute slot
  std::uint64_t layout_bytes = 0;   // each layout zone
  bool test_mode = false;           // frame id in every line, checked on accept
  bool vulkan = false;              // the render process renders with Vulkan (else the CPU reference)
  bool hostile = false;             // tests: the child forges DONEs and spoils results
  std::chrono::nanoseconds hang_timeout = std::chrono::milliseconds(500);
  std::chrono::nanoseconds done_timeout = std::chrono::seconds(5);
  std::uint32_t crash_limit = 3;    // deaths within crash_window: give up
  std::chrono::nanoseconds crash_window = std::chrono::seconds(10);
  // A second render process started ahead, waiting for its ATTACH: a death
  // attaches it (no exec or dynamic linking on the recovery path), and a new
  // standby is started behind it. false: every respawn is cold.
  bool warm_standby = true;
};

// Relaxed counters (a snapshot; each is written by one thread).
struct IsolationCounters {
  std::uint64_t crashes = 0;          // render process deaths seen by the supervisor
  std::uint64_t by_sigkill = 0;       // ... of them by SIGKILL
  std::uint64_t hangs_killed = 0;     // killed for no progress
  std::uint64_t deadline_kills = 0;   // killed for no DONE by the deadline
  std::uint64_t respawns_cold = 0;
  std::uint64_t respawns_warm = 0;    // a standby attached
  std::uint64_t respawns_no_standby = 0;  // cold because no standby stood ready yet
  std::uint64_t violations = 0;       // refused DONEs, every kind
  std::uint64_t results_refused = 0;  // accepted DONEs whose result failed validation (torn, forged)
  std::uint64_t frames_rendered = 0;
  std::uint64_t copy_in_ns = 0;       // summed: compute output into H
  std::uint64_t copy_out_ns = 0;      // summed: result out of C, hash included
  std::uint64_t last_recovery_ns = 0; // death seen -> new child ready
  std::int32_t pid = 0;               // the render process now (0: none)
  bool gave_up = false;
};

// Runs one job at a time on a thread that lives as long as its owner. A
// child's PR_SET_PDEATHSIG fires when the *thread* that spawned it exits,
// so render processes are never spawned from the render thread, which ends
// with the run while the stage (and its child) live on.
class SpawnThread {
 public:
  SpawnThread();
  ~SpawnThread();
  SpawnThread(const SpawnThread&) = delete;
  SpawnThread& operator=(const SpawnThread&) = delete;
  // Runs `job` there and returns when it has finished.
  void run(const std::function<void()>& job);

 private:
  void loop();
  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void()>* job_ = nullptr;  // under mu_
  bool stop_ = false;                           // under mu_
  std::thread thread_;
};

class IsolatedRenderStage {
 public:
  // result_zones: the engine's, headers written (the geometry is read from
  // them once, here). Spawns the child and waits for READY.
  [[nodiscard]] static Result<std::unique_ptr<IsolatedRenderStage>> create(
      IsolatedStageConfig config, std::span<const std::span<std::byte>> result_zones);
  ~IsolatedRenderStage();
  IsolatedRenderStage(const IsolatedRenderStage&) = delete;
  IsolatedRenderStage& operator=(const IsolatedRenderStage&) = delete;

  // kPeerLost: the frame was lost to a render crash (a new child is already
  // standing, unless gave_up()). kCorruptHeader: the child's result failed
  // validation and was not handed on. Either way the run may go on.
  [[nodiscard]] Result<std::uint64_t> submit(const render::FrameInput& input);
  [[nodiscard]] Result<render::FrameInfo> wait_frame(std::uint64_t ticket, std::chrono::nanoseconds timeout);
  [[nodiscard]] WaitWord& frame_ready() noexcept { return ready_; }
  [[nodiscard]] std::uint64_t completed() const noexcept { return next_ticket_; }
  void set_frame_ready_callback(render::FrameReadyCallback callback) { callback_ = std::move(callback); }

  [[nodiscard]] bool gave_up() const noexcept { return gave_up_.load(std::memory_order_relaxed); }
  [[nodiscard]] IsolationCounters counters() const;

 private:
  static constexpr int kColdStartTries = 3;  // a cold start that dies in its handshake is retried this often
  explicit IsolatedRenderStage(IsolatedStageConfig config, isolate::SplitMemory memory) noexcept;
  [[nodiscard]] Result<isolate::ChildProcess> spawn(isolate::Channel& host_end, bool standby);
  [[nodiscard]] Result<void> attach(isolate::ChildProcess child, isolate::Channel host_end);
  [[nodiscard]] Result<void> spawn_child();
  void spawn_standby();
  [[nodiscard]] Error child_lost(std::uint64_t frame, const std::string& how);
  [[nodiscard]] Result<isolate::RenderGrant> await_done(std::uint64_t frame);
  [[nodiscard]] Result<void> take_result(const isolate::RenderGrant& g, std::uint32_t result_zone);
  [[nodiscard]] std::atomic<std::uint64_t>* progress_word() const;
  void bump(std::atomic<std::uint64_t>& counter, std::uint64_t by = 1) noexcept {
    counter.store(counter.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);  // one writer
  }

  IsolatedStageConfig cfg_;
  SpawnThread spawner_;  // outlives every child: the destructor stops the supervisor first
  isolate::SplitMemory memory_;
  isolate::RenderSetup setup_;
  std::unique_ptr<isolate::Supervisor> supervisor_;
  isolate::Channel channel_;
  isolate::ChildProcess standby_ = isolate::ChildProcess::none();  // not watched: its death costs nothing
  isolate::Channel standby_channel_;
  isolate::GrantTable grants_;
  bool standby_due_ = false;          // a recovery attached the standby: start the next after a frame
  std::uint32_t deaths_before_ = 0;  // the supervisor's count when the child now watched was attached
  std::vector<std::span<std::byte>> result_zones_;
  std::vector<render::ResultZoneImage> result_images_;
  // What the child sends, received here without allocating (await_done).
  std::array<std::byte, isolate::kMaxMessageBytes> message_{};
  std::array<isolate::UniqueFd, isolate::kMaxPassedFds> message_fds_;
  std::deque<std::chrono::steady_clock::time_point> recent_crashes_;
  std::array<render::FrameInfo, render::kFrameHistory> history_{};
  std::uint64_t next_ticket_ = 0;
  WaitWord ready_;
  render::FrameReadyCallback callback_;
  std::atomic<bool> gave_up_{false};
  std::atomic<std::int32_t> pid_{0};
  std::atomic<std::uint64_t> deadline_kills_{0}, respawns_cold_{0}, respawns_warm_{0}, respawns_no_standby_{0}, results_refused_{0}, frames_rendered_{0},
      copy_in_ns_{0}, copy_out_ns_{0}, last_recovery_ns_{0}, violations_{0};
};

static_assert(render::RenderStage<IsolatedRenderStage>, "the isolated stage is a RenderStage");

// Where the render process lies: $TRIPTYCH_RENDER_PROCESS, else the path the
// build baked in. kNotFound when neither names an executable file.
[[nodiscard]] Result<std::string> render_process_path();

}  // namespace triptych::pipeline
