// SPDX-License-Identifier: Apache-2.0
// The window presenter against offscreen, in one process, the same scene:
// the engine (native compute, Vulkan) shows 1,000 particles at 320x240 for a
// number of frames at --hz, in a window with the HUD under each clock owner
// asked for (--clock: the presenter's deadlines, the frame loop's own pacer,
// or both, alternating for --rounds), in a window without the HUD, then
// offscreen (readback only), and prints the
// present interval and the end-to-end latency (queued -> presented), p50 /
// p99 / sigma, from each run's trace, and their ratio; from the spans, the
// calibrated GPU time of each frame's render and, where the device has
// VK_KHR_present_wait, present return -> present-complete. Needs a display: run
// it under `xvfb-run -a` (scripts/run-bench.sh does); without one it says so
// and exits 0. The engine pins its own threads by its core plan, so the CPUs
// make bench passes are taken and ignored.
// With --paths it instead compares, side by side in one process, the two ways
// a frame reaches the swapchain image (the renderer and a window presenter
// directly, no engine; unpaced, so each frame's own cost shows): drawn
// straight into it (direct) against rendered offscreen and blitted, each with
// the readback off and on: present-to-present frame time and the latency
// submit -> present return, p50 / p99 / mean.
// Usage: bench_present [cpu0 cpu1] [--frames N] [--hz R] [--clock presenter|frame-loop|both]
// [--rounds K] [--paths] (1200, 120, both, 1).
// See docs/presenter.md, docs/BENCHMARKS.md.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "support/host_zone.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/render/presenter.hpp"
#include "triptych/report/export.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/trace/spans.hpp"
#include "triptych_kernel.h"

namespace {

using namespace triptych;
using namespace triptych::pipeline;
using namespace std::chrono_literals;

// p50 / p99 / max of the spans named `name` (sorted copies; off the timed path).
struct SpanFigures {
  std::size_t count = 0;
  std::uint64_t p50_ns = 0, p99_ns = 0, max_ns = 0;
};

SpanFigures span_figures(const std::vector<trace::ThreadSpans>& threads, std::string_view name) {
  std::vector<std::uint64_t> d;
  for (const trace::ThreadSpans& t : threads) {
    for (const trace::SpanEvent& e : t.events) {
      if (e.loc != nullptr && name == e.loc->name) d.push_back(e.end_ns - e.begin_ns);
    }
  }
  SpanFigures f;
  f.count = d.size();
  if (d.empty()) return f;
  std::sort(d.begin(), d.end());
  f.p50_ns = d[d.size() / 2];
  f.p99_ns = d[std::min(d.size() - 1, d.size() * 99 / 100)];
  f.max_ns = d.back();
  return f;
}

struct Figures {
  report::DurationStats interval;
  report::DurationStats latency;
  SpanFigures gpu_render;           // calibrated GPU begin -> end of each frame's render
  SpanFigures return_to_complete;   // present return -> present-complete (VK_KHR_present_wait)
  std::uint64_t presented = 0;
  std::uint64_t dropped = 0;
  std::uint64_t late = 0;
  std::string description;
  std::string label;
};

bool run(PresentTarget present, bool hud, ClockOwner clock, std::uint64_t frames, double hz, Figures& out) {
  EngineConfig c;
  c.particles = 1000;
  c.width = 320;
  c.height = 240;
  c.hz = hz;
  c.frames = frames;
  c.renderer = RendererKind::kVulkan;
  c.governor = false;
  c.present = present;
  c.hud = hud;
  c.clock = clock;
  c.native_kernel = &tp_kernel_step;
  auto topology = sched::Topology::load();
  auto plan = topology ? sched::plan_cores(topology.value()) : Result<sched::CorePlan>(topology.error());
  if (!plan) {
    std::fprintf(stderr, "bench_present: %s\n", plan.error().what().c_str());
    return false;
  }
  c.plan = plan.value();
  static_cast<void>(trace::collect_threads());  // drop the spans of earlier runs
  auto e = Engine::create(c);
  if (!e) {
    std::fprintf(stderr, "bench_present: %s\n", e.error().what().c_str());
    return false;
  }
  auto& engine = *e.value();
  if (auto s = engine.start(); !s) {
    std::fprintf(stderr, "bench_present: %s\n", s.error().what().c_str());
    return false;
  }
  if (!engine.wait_finished(600s)) std::fprintf(stderr, "bench_present: the run did not finish in 600 s\n");
  engine.stop();
  const report::TraceReport trace = report::collect_report(*engine.arena().trace());
  out.interval = trace.stats[report::Segment::kInterval];
  out.latency = trace.stats[report::Segment::kLatency];
  const std::vector<trace::ThreadSpans> spans = trace::collect_threads();
  out.gpu_render = span_figures(spans, "GPU render");
  out.return_to_complete = span_figures(spans, "present return -> complete");
  const EngineStatus s = engine.status();
  out.presented = s.presented;
  out.dropped = s.dropped;
  out.late = s.late;
  out.description = engine.renderer_description();
  return true;
}

void row(const char* what, const report::DurationStats& d) {
  const auto ms = [](std::uint64_t ns) { return static_cast<double>(ns) / 1e6; };
  std::printf("  %-10s p50 %7.3f ms  p99 %7.3f ms  sigma %7.3f ms  mean %7.3f ms\n", what, ms(d.p50_ns),
              ms(d.p99_ns), d.stddev_ns / 1e6, d.mean_ns / 1e6);
}

void spans_row(const char* what, const SpanFigures& f, const char* none) {
  if (f.count == 0) {
    std::printf("  %s: %s\n", what, none);
    return;
  }
  std::printf("  %s: %zu spans, p50 %.3f ms  p99 %.3f ms  max %.3f ms\n", what, f.count,
              static_cast<double>(f.p50_ns) / 1e6, static_cast<double>(f.p99_ns) / 1e6,
              static_cast<double>(f.max_ns) / 1e6);
}

struct PathFigures {
  std::vector<double> frame_ms;    // present return to present return
  std::vector<double> latency_ms;  // submit() called -> present return
  std::string why;                 // the presenter's mode_why
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<std::size_t>(q * static_cast<double>(v.size() - 1))];
}

double mean(const std::vector<double>& v) {
  double sum = 0;
  for (const double x : v) sum += x;
  return v.empty() ? 0 : sum / static_cast<double>(v.size());
}

// `frames` unpaced frames of 1000 particles at 320x240 through a renderer and
// a window presenter, drawn directly or blitted, with or without readback.
bool run_path(const render::WindowSystem& ws, bool direct, bool readback, std::uint64_t frames, PathFigures& out) {
  constexpr std::uint32_t kW = 320;
  constexpr std::uint32_t kH = 240;
  constexpr std::uint32_t kN = 1000;
  std::vector<render::Particle> ps(kN);
  for (std::uint32_t i = 0; i < kN; ++i) {
    ps[i].x = static_cast<float>((i * 37U) % kW);
    ps[i].y = static_cast<float>((i * 53U) % kH);
    ps[i].size = 2.0F + static_cast<float>(i % 5);
    ps[i].rgba = 0xFF4080C0U + i;
  }
  std::vector<test::HostZone> owned;
  std::vector<std::span<std::byte>> lz, rz;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(test::HostZone::create(render::layout_zone_bytes(kN)).value());
    lz.push_back(owned.back().bytes());
    owned.push_back(test::HostZone::create(render::result_zone_bytes(kW, kH)).value());
    rz.push_back(owned.back().bytes());
  }
  render::VulkanRendererConfig rc;
  rc.layout.width = kW;
  rc.layout.height = kH;
  rc.readback = readback;
  rc.vulkan.instance_extensions = ws.instance_extensions;
  rc.vulkan.device_extensions = ws.device_extensions;
  auto vr = render::VulkanRenderer::create(rc, lz, rz);
  if (!vr) {
    std::fprintf(stderr, "bench_present: %s\n", vr.error().what().c_str());
    return false;
  }
  render::WindowPresenterConfig pc;
  pc.title = "bench_present --paths";
  pc.size = {kW, kH};
  pc.hz = 0;  // unpaced: the frame's own cost
  pc.direct = direct;
  auto p = render::WindowPresenter::create(vr.value()->handles(), pc);
  if (!p) {
    std::fprintf(stderr, "bench_present: %s\n", p.error().what().c_str());
    return false;
  }
  vr.value()->set_presenter(p.value().get());
  std::int64_t last = 0;
  constexpr std::uint64_t kWarmup = 30;
  for (std::uint64_t f = 0; f < frames + kWarmup; ++f) {
    const auto zone = static_cast<std::uint32_t>(f % 3);
    const render::FrameInput in{f, std::as_bytes(std::span<const render::Particle>(ps)), kN, zone, zone};
    const auto start = static_cast<std::int64_t>(trace::now_ns());
    auto t = vr.value()->submit(in);
    if (!t) {
      std::fprintf(stderr, "bench_present: %s\n", t.error().what().c_str());
      return false;
    }
    if (readback) static_cast<void>(vr.value()->wait_frame(t.value(), 60s));  // frees its result zone
    const std::int64_t shown = p.value()->presented_at(f);
    if (f >= kWarmup && shown != 0) {
      out.latency_ms.push_back(static_cast<double>(shown - start) / 1e6);
      if (last != 0) out.frame_ms.push_back(static_cast<double>(shown - last) / 1e6);
    }
    if (shown != 0) last = shown;
  }
  out.why = p.value()->mode_why();
  static_cast<void>(vr.value()->wait_idle(60s));
  vr.value()->set_presenter(nullptr);
  return true;
}

int compare_paths(std::uint64_t frames) {
  auto ws = render::open_window_system();
  if (!ws) {
    std::printf("bench_present --paths: no window system (%s): skipped\n", ws.error().what().c_str());
    return 0;
  }
  std::printf("bench_present --paths: %llu unpaced frames of 1000 particles at 320x240 per run\n",
              static_cast<unsigned long long>(frames));
  std::printf("  %-26s %-12s %-12s %-12s %-12s %-12s %-12s\n", "path", "frame p50", "frame p99", "frame mean",
              "lat p50", "lat p99", "lat mean");
  for (const bool readback : {false, true}) {
    for (const bool direct : {true, false}) {
      PathFigures f;
      if (!run_path(ws.value(), direct, readback, frames, f)) return 1;
      const std::string name = std::string(direct ? "direct" : "blit") + (readback ? ", readback on" : ", readback off");
      std::printf("  %-26s %9.3f ms %9.3f ms %9.3f ms %9.3f ms %9.3f ms %9.3f ms\n", name.c_str(),
                  percentile(f.frame_ms, 0.5), percentile(f.frame_ms, 0.99), mean(f.frame_ms),
                  percentile(f.latency_ms, 0.5), percentile(f.latency_ms, 0.99), mean(f.latency_ms));
      std::printf("    (%s)\n", f.why.c_str());
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::uint64_t frames = 1200;
  double hz = 120.0;
  std::string clocks = "both";
  int rounds = 1;
  bool paths = false;
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--paths") paths = true;
    else if (i + 1 < argc && std::string(argv[i]) == "--frames") frames = std::strtoull(argv[++i], nullptr, 10);
    else if (i + 1 < argc && std::string(argv[i]) == "--hz") hz = std::strtod(argv[++i], nullptr);
    else if (i + 1 < argc && std::string(argv[i]) == "--clock") clocks = argv[++i];
    else if (i + 1 < argc && std::string(argv[i]) == "--rounds") rounds = std::max(1, std::atoi(argv[++i]));
  }
  if (clocks != "both" && clocks != "presenter" && clocks != "frame-loop") {
    std::fprintf(stderr, "bench_present: --clock must be presenter, frame-loop or both, got %s\n", clocks.c_str());
    return 2;
  }
  const char* display = std::getenv("DISPLAY");
  if (display == nullptr || *display == '\0') {
    std::printf("bench_present: no display (DISPLAY unset): skipped; run it under xvfb-run -a\n");
    return 0;
  }
  if (paths) return compare_paths(frames);
  std::vector<std::pair<ClockOwner, const char*>> owners;
  if (clocks != "frame-loop") owners.emplace_back(ClockOwner::kPresenter, "presenter's clock");
  if (clocks != "presenter") owners.emplace_back(ClockOwner::kFrameLoop, "frame loop's clock");
  std::vector<Figures> windowed;  // HUD on, per owner, rounds alternating
  for (int r = 0; r < rounds; ++r) {
    for (const auto& [owner, name] : owners) {
      Figures f;
      if (!run(PresentTarget::kWindow, true, owner, frames, hz, f)) return 1;
      f.label = std::string(" [HUD on, ") + name + ", round " + std::to_string(r + 1) + "]";
      windowed.push_back(std::move(f));
    }
  }
  Figures bare;
  Figures offscreen;
  if (!run(PresentTarget::kWindow, false, owners.front().first, frames, hz, bare)) return 1;
  bare.label = std::string(" [HUD off, ") + owners.front().second + "]";
  if (!run(PresentTarget::kOffscreen, false, ClockOwner::kFrameLoop, frames, hz, offscreen)) return 1;
  std::printf("bench_present: %llu frames of 1000 particles at 320x240, %.0f Hz (period %.3f ms)\n",
              static_cast<unsigned long long>(frames), hz, 1000.0 / hz);
  std::vector<const Figures*> all;
  for (const Figures& f : windowed) all.push_back(&f);
  all.push_back(&bare);
  all.push_back(&offscreen);
  for (const Figures* f : all) {
    std::printf("%s%s\n  presented %llu, dropped %llu, late %llu\n", f->description.c_str(), f->label.c_str(),
                static_cast<unsigned long long>(f->presented), static_cast<unsigned long long>(f->dropped),
                static_cast<unsigned long long>(f->late));
    row("interval", f->interval);
    row("latency", f->latency);
    spans_row("GPU render", f->gpu_render, "no calibrated GPU times (VK_EXT_calibrated_timestamps)");
    if (f != &offscreen) {
      spans_row("present return -> complete", f->return_to_complete, "not stamped: no VK_KHR_present_wait on this device");
    }
  }
  const Figures& window = windowed.front();
  std::printf("HUD on - off (%s): latency p50 %+.3f ms, mean %+.3f ms\n", owners.front().second,
              (static_cast<double>(window.latency.p50_ns) - static_cast<double>(bare.latency.p50_ns)) / 1e6,
              (window.latency.mean_ns - bare.latency.mean_ns) / 1e6);
  if (owners.size() == 2) {
    for (std::size_t i = 0; i + 1 < windowed.size(); i += 2) {
      const Figures& p = windowed[i];
      const Figures& l = windowed[i + 1];
      std::printf("round %zu, presenter's / frame loop's clock: late %llu / %llu, latency p50 %.3f / %.3f ms, "
                  "p99 %.3f / %.3f ms, interval sigma %.3f / %.3f ms\n",
                  i / 2 + 1, static_cast<unsigned long long>(p.late), static_cast<unsigned long long>(l.late),
                  static_cast<double>(p.latency.p50_ns) / 1e6, static_cast<double>(l.latency.p50_ns) / 1e6,
                  static_cast<double>(p.latency.p99_ns) / 1e6, static_cast<double>(l.latency.p99_ns) / 1e6,
                  p.interval.stddev_ns / 1e6, l.interval.stddev_ns / 1e6);
    }
  }
  std::printf("window (HUD on) / offscreen: interval sigma %.2fx, latency p50 %.2fx, latency p99 %.2fx\n",
              window.interval.stddev_ns / offscreen.interval.stddev_ns,
              static_cast<double>(window.latency.p50_ns) / static_cast<double>(offscreen.latency.p50_ns),
              static_cast<double>(window.latency.p99_ns) / static_cast<double>(offscreen.latency.p99_ns));
  return 0;
}
