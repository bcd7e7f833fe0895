// SPDX-License-Identifier: Apache-2.0
// The isolated render stage: see isolated_stage.hpp. Render thread (submit,
// wait_frame); the supervisor's own thread watches the child. Blocking: each
// frame waits for the child's DONE, with a deadline. Design:
// docs/isolation.md, "The isolated render stage".
#include "isolated_stage.hpp"

#include <cstdio>
#include <mutex>

#include "engine_impl.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "triptych/isolate/child_process.hpp"
#include "triptych/isolate/protocol.hpp"
#include "triptych/render/scene.hpp"

namespace triptych::pipeline {
namespace {

using namespace std::chrono_literals;
using isolate::RenderGrant;

constexpr auto kHandshakeTimeout = 5s;
constexpr std::uint64_t kPage = 4096;

std::uint64_t page_round(std::uint64_t n) { return (n + kPage - 1) / kPage * kPage; }

std::uint64_t since_ns(std::chrono::steady_clock::time_point t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t).count());
}

template <class T>
std::span<const std::byte> bytes_of(const T& v) {
  return {reinterpret_cast<const std::byte*>(&v), sizeof v};
}

}  // namespace

Result<std::string> render_process_path() {
  std::string path;
  if (const char* env = std::getenv("TRIPTYCH_RENDER_PROCESS"); env != nullptr && *env != '\0') {
    path = env;
  } else {
#ifdef TRIPTYCH_RENDER_PROCESS_PATH
    path = TRIPTYCH_RENDER_PROCESS_PATH;
#endif
  }
  if (path.empty() || ::access(path.c_str(), X_OK) != 0) {
    return make_error(Errc::kUnsupported, "isolation mode needs the render process executable (triptych-render)" +
                                              (path.empty() ? std::string(": this build has none; set TRIPTYCH_RENDER_PROCESS")
                                                            : ": " + path + " is not an executable file"));
  }
  return path;
}

SpawnThread::SpawnThread() : thread_([this] { loop(); }) {}

SpawnThread::~SpawnThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void SpawnThread::run(const std::function<void()>& job) {
  std::unique_lock<std::mutex> lock(mu_);
  job_ = &job;
  cv_.notify_all();
  cv_.wait(lock, [this] { return job_ == nullptr; });
}

void SpawnThread::loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || job_ != nullptr; });
    if (stop_) return;
    lock.unlock();
    (*job_)();  // job_ stays set (and run() waiting) until it is cleared below
    lock.lock();
    job_ = nullptr;
    cv_.notify_all();
  }
}

IsolatedRenderStage::IsolatedRenderStage(IsolatedStageConfig config, isolate::SplitMemory memory) noexcept
    : cfg_(std::move(config)), memory_(std::move(memory)) {}

IsolatedRenderStage::~IsolatedRenderStage() {
  if (supervisor_) supervisor_->stop();  // kills and reaps a child still watched
}

Result<std::unique_ptr<IsolatedRenderStage>> IsolatedRenderStage::create(
    IsolatedStageConfig config, std::span<const std::span<std::byte>> result_zones) {
  if (result_zones.size() != isolate::kRenderSlots) {
    return make_error(Errc::kInvalidArgument, "the isolated stage takes 3 result zones");
  }
  if (config.compute_bytes == 0 || config.layout_bytes == 0) {
    return make_error(Errc::kInvalidArgument, "the isolated stage needs compute and layout zone sizes");
  }
  const std::uint64_t result_bytes = result_zones[0].size();
  // H: the setup page, then the compute slots. C: the progress word and the
  // seals, then the layout and result zones; every part page-aligned.
  const std::uint64_t compute_stride = page_round(config.compute_bytes);
  const std::uint64_t layout_stride = page_round(config.layout_bytes);
  const std::uint64_t result_stride = page_round(result_bytes);
  const std::uint64_t setup_bytes = page_round(sizeof(isolate::RenderSetup));
  auto memory = isolate::SplitMemory::create(setup_bytes + 3 * compute_stride, kPage + 3 * (layout_stride + result_stride));
  if (!memory) return memory.error();
  std::unique_ptr<IsolatedRenderStage> s(new IsolatedRenderStage(std::move(config), std::move(memory).value()));
  const IsolatedStageConfig& c = s->cfg_;
  isolate::RenderSetup& setup = s->setup_;
  isolate::copy_layout(setup, c.layout);
  setup.test_mode = c.test_mode ? 1 : 0;
  setup.renderer = c.vulkan ? isolate::kRendererVulkan : isolate::kRendererCpu;
  setup.clear = c.clear;
  setup.compute_bytes = c.compute_bytes;
  setup.layout_bytes = c.layout_bytes;
  setup.result_bytes = result_bytes;
  for (std::uint32_t i = 0; i < isolate::kRenderSlots; ++i) {
    setup.compute_offset[i] = setup_bytes + i * compute_stride;
    setup.layout_offset[i] = kPage + i * layout_stride;
    setup.result_offset[i] = kPage + 3 * layout_stride + i * result_stride;
    if (result_zones[i].size() != result_bytes) {
      return make_error(Errc::kInvalidArgument, "the result zones differ in size");
    }
    auto image = render::read_result_zone(result_zones[i]);
    if (!image) return image.error();
    s->result_zones_.push_back(result_zones[i]);
    s->result_images_.push_back(image.value());
  }
  std::memcpy(s->memory_.host().data(), &setup, sizeof setup);
  // The host keeps its own writable mapping; no other can be made from now on.
  if (auto ok = s->memory_.seal_host(); !ok) return ok.error();
  isolate::Supervisor::Config sc;
  sc.hang_timeout = c.hang_timeout;
  auto sup = isolate::Supervisor::create(std::move(sc));
  if (!sup) return sup.error();
  s->supervisor_ = std::move(sup).value();
  if (auto ok = s->spawn_child(); !ok) return ok.error();
  s->spawn_standby();
  return s;
}

std::atomic<std::uint64_t>* IsolatedRenderStage::progress_word() const {
  return reinterpret_cast<std::atomic<std::uint64_t>*>(memory_.child().data() + isolate::kProgressOffset);
}

// posix_spawn + exec on the spawn thread; `host_end` gets the host's end of
// its channel.
Result<isolate::ChildProcess> IsolatedRenderStage::spawn(isolate::Channel& host_end, bool standby) {
  auto pair = isolate::Channel::make_pair();
  if (!pair) return pair.error();
  auto [host, child_end] = std::move(pair).value();
  isolate::SpawnSpec spec;
  spec.path = cfg_.executable;
  spec.args = {std::to_string(::getpid())};
  if (standby) spec.args.emplace_back("--standby");
  if (cfg_.vulkan) spec.args.emplace_back("--vulkan");
  if (cfg_.hostile) spec.args.emplace_back("--hostile");
  spec.pass_fds = {child_end.fd()};
  Result<isolate::ChildProcess> child = make_error(Errc::kSystem, "not spawned");
  spawner_.run([&] { child = isolate::ChildProcess::spawn(spec); });
  child_end.close();
  if (child) host_end = std::move(host);
  return child;
}

// The handshake in the current epoch, then the supervisor watches it.
Result<void> IsolatedRenderStage::attach(isolate::ChildProcess child, isolate::Channel host_end) {
  isolate::HostHandshake how;
  how.epoch = grants_.epoch();
  how.progress_offset = isolate::kProgressOffset;
  how.deadline = std::chrono::steady_clock::now() + kHandshakeTimeout;
  if (auto ok = isolate::host_handshake(host_end, memory_, how); !ok) {
    child.kill_and_reap();
    return make_error(ok.error().code, "the render process did not attach: " + ok.error().message);
  }
  channel_ = std::move(host_end);
  deaths_before_ = supervisor_->deaths_seen();
  const pid_t pid = child.pid();
  if (auto ok = supervisor_->watch(std::move(child), channel_.fd(), progress_word(), how.epoch); !ok) {
    return ok.error();
  }
  pid_.store(pid, std::memory_order_relaxed);
  return {};
}

// A cold start: spawn, then attach.
Result<void> IsolatedRenderStage::spawn_child() {
  isolate::Channel host_end;
  auto child = spawn(host_end, false);
  if (!child) return child.error();
  return attach(std::move(child).value(), std::move(host_end));
}

// Starts the warm standby (when configured and none stands): it execs,
// binds, sends HELLO and waits. A failure only leaves the next respawn cold.
void IsolatedRenderStage::spawn_standby() {
  if (!cfg_.warm_standby || !standby_.reaped()) return;
  auto child = spawn(standby_channel_, true);
  if (child) standby_ = std::move(child).value();
}

// The child is gone (or made so): the open grant is handed back as lost, the
// supervisor's reap is awaited (its epoch word; nothing of the dead child can
// write C after it), and a new child is attached unless too many died lately.
Error IsolatedRenderStage::child_lost(std::uint64_t frame, const std::string& how) {
  const auto seen = std::chrono::steady_clock::now();
  pid_.store(0, std::memory_order_relaxed);
  (void)grants_.peer_lost();  // at most this frame: the engine counts it lost
  // SYNC(peer-epoch): acquire side of the supervisor's bump after the reap.
  const auto deadline = seen + 2 * cfg_.hang_timeout + 2s;
  for (;;) {
    const std::uint32_t deaths = supervisor_->deaths_seen();
    if (deaths != deaths_before_) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      gave_up_.store(true, std::memory_order_relaxed);
      return make_error(Errc::kPeerLost, "frame " + std::to_string(frame + 1) + " lost: " + how +
                                             ", and the supervisor did not see the render process die");
    }
    (void)wait(supervisor_->epoch_word(), deaths, 20ms, kNoSpin);
  }
  grants_.exit_confirmed();
  channel_.close();
  recent_crashes_.push_back(seen);
  while (!recent_crashes_.empty() && seen - recent_crashes_.front() > cfg_.crash_window) recent_crashes_.pop_front();
  std::string why = "frame " + std::to_string(frame + 1) + " lost to a render crash (" + how + ")";
  if (recent_crashes_.size() >= cfg_.crash_limit) {
    gave_up_.store(true, std::memory_order_relaxed);
    return make_error(Errc::kPeerLost, why + "; " + std::to_string(recent_crashes_.size()) +
                                           " render process crashes within " +
                                           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(cfg_.crash_window).count()) +
                                           " s: falling back to the in-process renderer");
  }
  // The warm standby first; a standby that died waiting fails its
  // handshake at once (hang-up), and a cold start follows.
  bool warm = false;
  const bool standby_stood = !standby_.reaped();
  if (standby_stood) {
    warm = attach(std::move(standby_), std::move(standby_channel_)).ok();
    standby_ = isolate::ChildProcess::none();
  }
  if (!warm) {
    // A cold start that dies in its own handshake is tried again, a bounded
    // number of times, before the stage gives up.
    Result<void> started = spawn_child();
    for (int tries = 1; !started && tries < kColdStartTries; ++tries) started = spawn_child();
    if (!started) {
      gave_up_.store(true, std::memory_order_relaxed);
      return make_error(Errc::kPeerLost, why + "; no new render process in " + std::to_string(kColdStartTries) +
                                             " tries (" + started.error().what() +
                                             "): falling back to the in-process renderer");
    }
    if (!standby_stood) bump(respawns_no_standby_);
  }
  bump(warm ? respawns_warm_ : respawns_cold_);
  // The next standby starts once the new child has delivered a frame: its
  // start-up (exec, and a Vulkan warm-up) would otherwise take the CPUs
  // from the recovery (measured: docs/isolation.md).
  standby_due_ = true;
  last_recovery_ns_.store(since_ns(seen), std::memory_order_relaxed);
  return make_error(Errc::kPeerLost, why);
}

// Waits for the DONE that closes the open grant. Forged, stale and malformed
// DONEs are counted and skipped; the deadline or the child's death ends the
// wait (the channel hangs up the moment it dies). A good DONE allocates
// nothing: it is received into the stage's own buffers.
Result<RenderGrant> IsolatedRenderStage::await_done(std::uint64_t frame) {
  const auto deadline = std::chrono::steady_clock::now() + cfg_.done_timeout;
  for (;;) {
    auto got = channel_.receive_into(deadline, message_, message_fds_);
    if (!got) {
      if (got.error().code == Errc::kTimedOut) {
        bump(deadline_kills_);
        supervisor_->kill_watched();
        return child_lost(frame, "no DONE within " +
                                     std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(cfg_.done_timeout).count()) +
                                     " ms: killed");
      }
      return child_lost(frame, "the render process died");
    }
    if (got.value().fds != 0) {
      bump(violations_);  // refused: closed at once
      for (std::size_t i = 0; i < got.value().fds; ++i) message_fds_[i].reset();
    }
    auto done = got.value().truncated ? Result<RenderGrant>(make_error(Errc::kPeerLost, "truncated"))
                                      : isolate::decode_done(std::span(message_).first(got.value().bytes));
    if (!done) {
      grants_.note_malformed();
      bump(violations_);
      continue;
    }
    auto accepted = grants_.accept(done.value());
    if (!accepted) {
      bump(violations_);
      continue;
    }
    return accepted.value();
  }
}

// Copies the result out of C once, into the engine's (unpublished) result
// zone, and validates the copy: the seal (read once) must name this grant,
// and the hash (and in test mode every line's frame id) must match the copy.
Result<void> IsolatedRenderStage::take_result(const RenderGrant& g, std::uint32_t result_zone) {
  const auto start = std::chrono::steady_clock::now();
  const render::ResultZoneImage& image = result_images_[result_zone];  // the host's geometry, never C's
  const std::uint64_t pixel_bytes = std::uint64_t{image.row_bytes} * image.height;
  const std::span<std::byte> to = result_zones_[result_zone].subspan(image.pixel_offset, pixel_bytes);
  auto ok = isolate::take_sealed_result(memory_.child(), g, setup_.result_offset[g.result_slot] + image.pixel_offset,
                                        cfg_.test_mode, to);
  bump(copy_out_ns_, since_ns(start));
  if (!ok) {
    bump(results_refused_);
    return make_error(Errc::kCorruptHeader, "the render process's result for frame " + std::to_string(g.frame + 1) +
                                                " was refused: " + ok.error().message);
  }
  return {};
}

Result<std::uint64_t> IsolatedRenderStage::submit(const render::FrameInput& in) {
  render::FrameInfo info;
  info.render_start_ns = render::now_ns();
  info.ticket = next_ticket_;
  info.frame = in.frame;
  info.layout_zone = in.layout_zone;
  info.result_zone = in.result_zone;
  if (in.layout_zone >= isolate::kRenderSlots || in.result_zone >= isolate::kRenderSlots) {
    return make_error(Errc::kInvalidArgument, "the isolated stage needs its layout and result zones named");
  }
  const std::uint64_t particle_bytes = std::uint64_t{in.particle_count} * sizeof(render::Particle);
  if (particle_bytes > cfg_.compute_bytes || particle_bytes > in.compute_slot.size()) {
    return make_error(Errc::kInvalidArgument, "the compute slot cannot hold " + std::to_string(in.particle_count) +
                                                  " particles");
  }
  // A child that died while idle is replaced before the frame is granted:
  // the frame is not lost to it.
  if (pid_.load(std::memory_order_relaxed) == 0 || supervisor_->deaths_seen() != deaths_before_) {
    if (gave_up()) return make_error(Errc::kPeerLost, "the render process is gone");
    Error e = child_lost(in.frame, "died between frames");
    if (gave_up()) return e;
  }
  const std::uint32_t slot = static_cast<std::uint32_t>(next_ticket_ % isolate::kRenderSlots);
  // The one copy: the compute output into H, then the slot's frame record.
  const auto copy_start = std::chrono::steady_clock::now();
  std::byte* h = memory_.host().data();
  std::memcpy(h + setup_.compute_offset[slot], in.compute_slot.data(), particle_bytes);
  isolate::SlotFrame sf;
  sf.frame = in.frame;
  sf.particle_count = in.particle_count;
  sf.draw_stride = std::max<std::uint32_t>(in.draw_stride, 1);
  sf.resolution_scale = in.resolution_scale;
  std::memcpy(h + offsetof(isolate::RenderSetup, slots) + slot * sizeof sf, &sf, sizeof sf);
  bump(copy_in_ns_, since_ns(copy_start));
  auto grant = grants_.grant(in.frame, slot, in.layout_zone, in.result_zone);
  if (!grant) return grant.error();
  // The message is the release: the child reads H after receiving it.
  if (auto sent = channel_.send(bytes_of(isolate::render_message(grant.value()))); !sent) {
    return child_lost(in.frame, "the render process died");
  }
  auto done = await_done(in.frame);
  if (!done) return done.error();
  info.layout_end_ns = info.submitted_ns = render::now_ns();
  if (auto ok = take_result(done.value(), in.result_zone); !ok) return ok.error();
  auto* header = reinterpret_cast<render::ResultZoneHeader*>(result_zones_[in.result_zone].data());
  // SYNC(result-frame): publishes the pixels of frame `in.frame` in this zone.
  header->frame.store(in.frame + 1, std::memory_order_release);
  info.render_end_ns = render::now_ns();
  history_[next_ticket_ % render::kFrameHistory] = info;
  ++next_ticket_;
  bump(frames_rendered_);
  (void)store_and_wake(ready_, static_cast<std::uint32_t>(next_ticket_), INT_MAX);
  if (callback_) callback_(info);
  if (standby_due_) {  // after a recovery: the frame above is out, so the standby costs it nothing
    standby_due_ = false;
    spawn_standby();
  }
  return info.ticket;
}

Result<render::FrameInfo> IsolatedRenderStage::wait_frame(std::uint64_t ticket, std::chrono::nanoseconds) {
  if (ticket >= next_ticket_ || next_ticket_ - ticket > render::kFrameHistory) {
    return make_error(Errc::kOutOfRange, "no such frame in the isolated stage's history");
  }
  return history_[ticket % render::kFrameHistory];
}

IsolationCounters IsolatedRenderStage::counters() const {
  IsolationCounters c;
  const isolate::SupervisorCounters sc = supervisor_->counters();
  c.crashes = sc.deaths;
  c.by_sigkill = sc.by_signal[SIGKILL];
  c.hangs_killed = sc.hangs_killed;
  c.deadline_kills = deadline_kills_.load(std::memory_order_relaxed);
  c.respawns_cold = respawns_cold_.load(std::memory_order_relaxed);
  c.respawns_warm = respawns_warm_.load(std::memory_order_relaxed);
  c.respawns_no_standby = respawns_no_standby_.load(std::memory_order_relaxed);
  c.violations = violations_.load(std::memory_order_relaxed);
  c.results_refused = results_refused_.load(std::memory_order_relaxed);
  c.frames_rendered = frames_rendered_.load(std::memory_order_relaxed);
  c.copy_in_ns = copy_in_ns_.load(std::memory_order_relaxed);
  c.copy_out_ns = copy_out_ns_.load(std::memory_order_relaxed);
  c.last_recovery_ns = last_recovery_ns_.load(std::memory_order_relaxed);
  c.pid = pid_.load(std::memory_order_relaxed);
  c.gave_up = gave_up();
  return c;
}

// ---- the engine's side (Engine::Impl) ----------------------------------------

Result<void> Engine::Impl::build_isolated(const std::array<float, 4>& clear,
                                          const std::array<std::span<std::byte>, 3>& result_zones) {
  auto path = render_process_path();
  if (!path) return path.error();
  IsolatedStageConfig ic;
  ic.executable = path.value();
  ic.layout = layout;
  ic.clear = clear;
  ic.compute_bytes = zone(ZoneId::kComputeA).size();
  ic.layout_bytes = zone(ZoneId::kLayoutA).size();
  ic.test_mode = cfg.isolate_test_mode;
  ic.vulkan = vulkan != nullptr;  // the engine renders with Vulkan: so does the render process
  ic.hostile = cfg.isolate_hostile;
  ic.crash_limit = std::max<std::uint32_t>(cfg.isolate_crash_limit, 1);
  ic.warm_standby = cfg.isolate_warm_standby;
  ic.crash_window = std::chrono::nanoseconds(static_cast<std::int64_t>(cfg.isolate_crash_window_s * 1e9));
  // Sanitizers and a Vulkan renderer (its set-up at attach, lavapipe's
  // frames) slow the render process down: its hang timeout doubles for each.
  const double hang_s = cfg.isolate_hang_timeout_s * (TRIPTYCH_SANITIZED ? 2.0 : 1.0) * (ic.vulkan ? 2.0 : 1.0);
  ic.hang_timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(hang_s * 1e9));
  auto stage = IsolatedRenderStage::create(std::move(ic), result_zones);
  if (!stage) return stage.error();
  isolated = std::move(stage).value();
  use_isolated.store(true, std::memory_order_relaxed);  // a setting: see its declaration
  return {};
}

bool Engine::Impl::isolated_frame_lost(std::uint64_t frame, const Error& error) {
  if (error.code == Errc::kPeerLost) {
    lost.fetch_add(1, std::memory_order_relaxed);
    (void)table->mark_failed(frame);  // never shown; the trace has no verdict of its own for it
    std::lock_guard<std::mutex> lock(message_mu);
    last_failure = error.message;
  } else if (error.code == Errc::kCorruptHeader) {
    fail_frame(frame, error.message);
  } else {
    return false;
  }
  if (isolated->gave_up()) {
    use_isolated.store(false, std::memory_order_relaxed);  // `vulkan` or `cpu` renders from the next frame on
    std::fprintf(stderr, "triptych: %s\n", error.message.c_str());
    std::lock_guard<std::mutex> lock(message_mu);
    isolation_fallback = error.message;
  }
  return true;
}

void Engine::Impl::fill_isolation_status(EngineStatus& s) const {
  if (!isolated) return;
  const IsolationCounters c = isolated->counters();
  s.isolated = use_isolated.load(std::memory_order_relaxed);
  s.render_pid = c.pid;
  s.render_crashes = c.crashes;
  s.render_crashes_by_sigkill = c.by_sigkill;
  s.render_hangs_killed = c.hangs_killed;
  s.render_respawns = c.respawns_cold + c.respawns_warm;
  s.render_respawns_warm = c.respawns_warm;
  s.render_deadline_kills = c.deadline_kills;
  s.render_respawns_no_standby = c.respawns_no_standby;
  s.render_violations = c.violations;
  s.render_results_refused = c.results_refused;
  s.render_recovery_ms = static_cast<double>(c.last_recovery_ns) * 1e-6;
  if (c.frames_rendered != 0) {
    s.isolate_copy_in_ms = static_cast<double>(c.copy_in_ns) * 1e-6 / static_cast<double>(c.frames_rendered);
    s.isolate_copy_out_ms = static_cast<double>(c.copy_out_ns) * 1e-6 / static_cast<double>(c.frames_rendered);
  }
  std::lock_guard<std::mutex> lock(message_mu);
  s.isolation_fallback = isolation_fallback;
}

}  // namespace triptych::pipeline
