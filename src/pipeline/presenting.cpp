// SPDX-License-Identifier: Apache-2.0
// Where the engine shows frames (EngineConfig::present): choosing between the
// window presenter and offscreen before the render stage is built (a window
// needs the Vulkan renderer, made with the window system's extensions), and
// hooking the presenter to the renderer after. The presenter is created on
// the engine's creating thread and used only by the render thread after it
// starts (thread start orders the two). Blocking; Engine::create, and
// stop_if_window_closed on the render thread.
// docs/presenter.md ("In the engine").
#include <climits>
#include <cstdio>

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
  // One clock per run: the frame loop's absolute deadlines at --hz already
  // pace every frame, and a second clock at the same rate but its own phase
  // held each frame up to a period (p50 latency 9.8 ms against 2.7 ms
  // measured, docs/presenter.md "In the engine"). The presenter's own pacer
  // is for hosts that bring no clock.
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
  if (cfg.hz > 0) {
    char hz[64];
    std::snprintf(hz, sizeof hz, "; frames paced by the frame loop at %g Hz", cfg.hz);
    present_choice += hz;
  }
  return {};
}

// Render thread: stops the run when the window was closed (Esc, Q, its close button).
void Engine::Impl::stop_if_window_closed() {
  if (!window->close_requested() || stop_requested.load(std::memory_order_relaxed)) return;
  stop_requested.store(true, std::memory_order_relaxed);  // a flag: see its declaration
  (void)fetch_add_and_wake(consumed, 1, INT_MAX);         // a loop waiting for render re-checks
}

}  // namespace triptych::pipeline
