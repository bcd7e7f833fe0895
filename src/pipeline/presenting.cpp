// SPDX-License-Identifier: Apache-2.0
// Where the engine shows frames (EngineConfig::present): choosing between the
// window presenter and offscreen before the render stage is built (a window
// needs the Vulkan renderer, made with the window system's extensions), and
// hooking the presenter to the renderer after. The presenter is created on
// the engine's creating thread and used only by the render thread after it
// starts (thread start orders the two). Blocking; Engine::create,
// handle_window_input (pause, step, the particle keys) and feed_hud on the
// render thread, hold_while_paused on the frame loop.
// docs/presenter.md ("In the engine"), docs/pipeline.md ("Particle count").
#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <thread>

#include "pipeline/engine_impl.hpp"

namespace triptych::pipeline {

Result<void> Engine::Impl::choose_present() {
  if (cfg.present == PresentTarget::kOffscreen) return {};
  const bool asked = cfg.present == PresentTarget::kWindow;
  std::string refusal;
  if (cfg.renderer == RendererKind::kCpu) refusal = "the window presenter needs the Vulkan renderer (renderer is cpu)";
  if (cfg.host_presents) refusal = "the host presents these frames itself (hostPresents)";
  if (!refusal.empty()) {
    if (asked) return make_error(Errc::kBadOption, refusal);
    present_choice = "offscreen: " + refusal;
    return {};
  }
  auto choice = render::choose_backend(asked ? render::PresentBackend::kWindow : render::PresentBackend::kAuto);
  if (!choice) return choice.error();
  if (choice.value().backend != render::PresentBackend::kWindow) {
    present_choice = choice.value().why;
    return {};
  }
  window_system = std::move(choice.value().window_system);
  present_choice = choice.value().why;
  return {};
}

void Engine::Impl::add_window_extensions(render::VulkanRendererConfig& vc) const {
  if (!window_system) return;
  vc.vulkan.instance_extensions = window_system->instance_extensions;
  vc.vulkan.device_extensions = window_system->device_extensions;
}

Result<void> Engine::Impl::attach_window() {
  if (!window_system || !vulkan) return {};
  render::WindowPresenterConfig wc;
  wc.title = "triptych";
  wc.size = {cfg.width, cfg.height};
  wc.hud = cfg.hud;
  // One clock per run, kept by the frame loop: the presenter's deadlines
  // (ClockOwner::kPresenter) or the frame loop's own. A second clock in the
  // presenter at the same rate but its own phase held each frame up to a
  // period (p50 latency 9.8 ms against 2.7 ms measured, docs/presenter.md
  // "In the engine"). The presenter's own pacer is for hosts that bring no clock.
  wc.hz = 0;
  auto p = render::WindowPresenter::create(vulkan->handles(), wc);
  if (!p) {
    if (cfg.present == PresentTarget::kWindow) return p.error();
    present_choice = "offscreen: the window could not be shown (" + p.error().message + ")";
    return {};
  }
  window = std::move(p).value();
  vulkan->set_presenter(window.get());
  present_choice += "; " + window->mode_why();
  presenter_clock = cfg.clock == ClockOwner::kPresenter && cfg.hz > 0;
  if (cfg.hz > 0) {
    char hz[160];
    std::snprintf(hz, sizeof hz,
                  presenter_clock ? "; frames paced by the presenter's clock at %g Hz (handed over at deadline - "
                                    "p99 of render work - 1.65 ms, computed just before)"
                                  : "; frames paced by the frame loop at %g Hz",
                  cfg.hz);
    present_choice += hz;
  }
  return {};
}

// Render thread: the window's keys. Pause and step go to the frame loop;
// a closed window (Esc, Q, its close button) stops the run.
void Engine::Impl::handle_window_input() {
  window->poll_events();
  const render::WindowInput in = window->take_input();
  if (in.pause_toggles % 2 == 1) paused.store(!paused.load(std::memory_order_relaxed), std::memory_order_relaxed);
  if (in.steps > 0) steps_allowed.fetch_add(in.steps, std::memory_order_relaxed);
  if (in.particle_doublings != 0) change_particle_count(in.particle_doublings);
  if (!window->close_requested() || stop_requested.load(std::memory_order_relaxed)) return;
  stop_requested.store(true, std::memory_order_relaxed);  // a flag: see its declaration
  (void)fetch_add_and_wake(consumed, 1, INT_MAX);         // a loop waiting for render re-checks
}

// Render thread: + doubles and - halves the particles simulated (a press
// each), clamped to [particle_floor, capacity]; the frame loop applies it
// from its next frame.
void Engine::Impl::change_particle_count(std::int32_t doublings) {
  const std::uint32_t capacity = cfg.particles;
  std::uint64_t n = particles_wanted.load(std::memory_order_relaxed);  // a setting: see its declaration
  for (; doublings > 0; --doublings) n = std::min<std::uint64_t>(n * 2, capacity);
  for (; doublings < 0; ++doublings) n = std::max<std::uint64_t>(n / 2, particle_floor(capacity));
  particles_wanted.store(static_cast<std::uint32_t>(n), std::memory_order_relaxed);
  std::fprintf(stderr, "triptych: particles %llu of %u (keys: + doubles, - halves; at least %u)\n",
               static_cast<unsigned long long>(n), capacity, particle_floor(capacity));
}

bool Engine::Impl::hold_while_paused(std::uint64_t end_ns) {
  while (paused.load(std::memory_order_relaxed)) {
    if (stop_requested.load(std::memory_order_relaxed)) return false;
    if (end_ns != 0 && trace::now_ns() >= end_ns) return false;
    std::uint32_t steps = steps_allowed.load(std::memory_order_relaxed);
    while (steps > 0 && !steps_allowed.compare_exchange_weak(steps, steps - 1, std::memory_order_relaxed)) {
    }
    if (steps > 0) return true;  // one frame, then paused again
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // paused: no frame is due
  }
  return true;
}

// Render thread, after `frame` was presented: its numbers to the HUD. No
// allocation but when the governor changes level (its text is made again).
void Engine::Impl::feed_hud(std::uint64_t frame, const render::FrameInfo& info) {
  trace::FrameSnapshot snap;
  if (table->try_read(frame, snap) != trace::ReadStatus::kOk) return;
  const auto ms = [](std::uint64_t from, std::uint64_t to) {
    return to > from ? static_cast<float>(static_cast<double>(to - from) / 1e6) : 0.0F;
  };
  render::HudStats& h = hud_stats;
  const std::uint64_t shown = snap.at(trace::Stage::kPresented);
  if (hud_last_presented != 0 && shown > hud_last_presented) {
    hud_intervals[hud_count % render::kHudFrameHistory] = ms(hud_last_presented, shown);
    ++hud_count;
  }
  hud_last_presented = shown;
  const std::size_t n = std::min<std::uint64_t>(hud_count, render::kHudFrameHistory);
  for (std::size_t i = 0; i < n; ++i) {  // oldest first
    h.frame_ms[i] = hud_intervals[(hud_count - n + i) % render::kHudFrameHistory];
  }
  h.frames = static_cast<std::uint32_t>(n);
  // fps over the newest 60 intervals: the strip shows the longer history.
  const std::size_t recent = std::min<std::size_t>(n, 60);
  double sum = 0;
  for (std::size_t i = n - recent; i < n; ++i) sum += h.frame_ms[i];
  h.fps = sum > 0 ? 1000.0 * static_cast<double>(recent) / sum : 0.0;
  h.compute_ms = ms(snap.at(trace::Stage::kComputeStart), snap.at(trace::Stage::kComputeEnd));
  const float layout_ms = info.layout_end_ns > info.render_start_ns
                           ? static_cast<float>(static_cast<double>(info.layout_end_ns - info.render_start_ns) / 1e6)
                           : 0.0F;
  h.layout_ms = layout_ms;
  h.render_ms = std::max(0.0F, ms(snap.at(trace::Stage::kRenderStart), snap.at(trace::Stage::kRenderEnd)) - layout_ms);
  h.present_ms = ms(snap.at(trace::Stage::kRenderEnd), shown);
  h.budget_ms = static_cast<float>(static_cast<double>(period_ns) / 1e6);
  h.misses = late.load(std::memory_order_relaxed);
  h.dropped = dropped.load(std::memory_order_relaxed);
  h.particles = frame_particles[frame % kDivisorRing].load(std::memory_order_relaxed);
  h.particle_capacity = cfg.particles;
  const std::uint32_t level = governor ? governor_level.load(std::memory_order_relaxed) : 0;
  if (level != hud_level) {
    hud_level = level;
    const std::string text = level == 0 ? "" : describe_level(level);
    h.governor.fill('\0');
    std::copy_n(text.begin(), std::min(text.size(), h.governor.size() - 1), h.governor.begin());
  }
  window->set_hud_stats(h);
}

}  // namespace triptych::pipeline
