// SPDX-License-Identifier: Apache-2.0
// Render-stage benchmarks on whatever Vulkan device is present (lavapipe on
// the development machines): frame time against instance count and
// resolution, host-pointer import against staging upload, pipelined against
// synchronous readback, and layout-pass scaling across render threads. Every
// comparison runs side by side in one process and is printed as a ratio. The
// render thread is pinned to the first CPU given (default 0); layout helper
// threads to none. Usage: bench_render_stage [cpu0] [cpu1] [--quick] [--full].
// See docs/render-stage.md and docs/BENCHMARKS.md.
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "triptych/render/layout_pass.hpp"
#include "triptych/render/vulkan_renderer.hpp"
#include "bench_pin.hpp"
#include "support/host_zone.hpp"

namespace {

using namespace triptych;
using namespace triptych::render;
using triptych::test::HostZone;

void pin(int cpu) { triptych::bench::pin_or_warn(cpu); }

std::vector<Particle> particles(std::uint32_t n, std::uint32_t w, std::uint32_t h) {
  std::vector<Particle> v(n);
  std::uint64_t s = 88172645463325252ULL;
  auto next = [&s] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return static_cast<float>(s >> 40) / static_cast<float>(1 << 24);
  };
  for (auto& p : v) {
    p = {next() * static_cast<float>(w), next() * static_cast<float>(h), (next() - 0.5F) * 6.0F, (next() - 0.5F) * 6.0F,
         0.75F + next() * 2.5F, rgba(static_cast<std::uint8_t>(next() * 255), static_cast<std::uint8_t>(next() * 255), 200, 180),
         static_cast<std::uint32_t>(next() * 3.0F) % 3, 0};
  }
  return v;
}

struct Timing {
  double p50_ms = 0, p99_ms = 0, mean_ms = 0, layout_ms = 0;
  bool layout_imported = false, result_imported = false;
};

double pct(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

// Frame time = interval between successive frame completions in a steady
// loop (pipelined: the loop waits for ticket t - (fif - 1); sync: for t).
Timing run(std::uint32_t n, std::uint32_t w, std::uint32_t h, HostMemoryPath lpath, HostMemoryPath rpath,
           std::uint32_t fif, bool synchronous, std::uint32_t frames, std::uint32_t tasks) {
  const auto ps = particles(n, w, h);
  std::vector<HostZone> owned;
  std::vector<std::span<std::byte>> lz, rz;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(HostZone::create(layout_zone_bytes(n)).value());
    lz.push_back(owned.back().bytes());
    owned.push_back(HostZone::create(result_zone_bytes(w, h)).value());
    rz.push_back(owned.back().bytes());
  }
  VulkanRendererConfig cfg;
  cfg.layout.width = w;
  cfg.layout.height = h;
  cfg.frames_in_flight = fif;
  cfg.layout_path = lpath;
  cfg.result_path = rpath;
  cfg.layout_tasks = tasks;
  auto r = VulkanRenderer::create(cfg, lz, rz);
  if (!r.ok()) {
    std::fprintf(stderr, "renderer: %s\n", r.error().what().c_str());
    std::exit(2);
  }
  auto& vr = *r.value();
  std::vector<double> frame_ms;
  double layout_total = 0;
  Timing t;
  std::int64_t last = 0;
  const std::uint32_t warmup = 2;
  for (std::uint32_t f = 0; f < frames + warmup; ++f) {
    FrameInput in{f, std::as_bytes(std::span<const Particle>(ps)), n, f % 3, f % 3};
    auto ticket = vr.submit(in);
    if (!ticket.ok()) {
      std::fprintf(stderr, "submit: %s\n", ticket.error().what().c_str());
      std::exit(2);
    }
    const std::uint64_t lag = synchronous ? 0 : fif - 1;
    if (ticket.value() < lag) continue;
    auto info = vr.wait_frame(ticket.value() - lag, std::chrono::seconds(120));
    if (!info.ok()) {
      std::fprintf(stderr, "wait: %s\n", info.error().what().c_str());
      std::exit(2);
    }
    const std::int64_t end = info.value().render_end_ns;
    if (f >= warmup && last != 0) {
      frame_ms.push_back(static_cast<double>(end - last) / 1e6);
      layout_total += static_cast<double>(info.value().layout_end_ns - info.value().render_start_ns) / 1e6;
    }
    last = end;
    t.layout_imported = info.value().layout_imported;
    t.result_imported = info.value().result_imported;
  }
  (void)vr.wait_idle(std::chrono::seconds(120));
  if (frame_ms.empty()) return t;
  t.p50_ms = pct(frame_ms, 0.5);
  t.p99_ms = pct(frame_ms, 0.99);
  double sum = 0;
  for (double v : frame_ms) sum += v;
  t.mean_ms = sum / static_cast<double>(frame_ms.size());
  t.layout_ms = layout_total / static_cast<double>(frame_ms.size());
  return t;
}

double layout_ms(std::uint32_t n, std::uint32_t tasks, int reps) {
  const auto ps = particles(n, 1920, 1080);
  auto zone = HostZone::create(layout_zone_bytes(n)).value();
  LayoutParams lp;
  lp.width = 1920;
  lp.height = 1080;
  const ParallelFor pool = thread_split_parallel_for();
  std::vector<double> v;
  for (int i = 0; i < reps; ++i) {
    const std::int64_t a = now_ns();
    auto r = layout_pass(lp, 0, std::as_bytes(std::span<const Particle>(ps)), n, zone.bytes(), tasks, pool);
    const std::int64_t b = now_ns();
    if (!r.ok()) std::exit(2);
    v.push_back(static_cast<double>(b - a) / 1e6);
  }
  return pct(v, 0.5);
}

}  // namespace

int main(int argc, char** argv) {
  int cpu0 = 0;
  bool quick = false;
  bool full = false;
  int positional = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else if (std::strcmp(argv[i], "--full") == 0) {
      full = true;
    } else if (positional++ == 0) {
      cpu0 = std::atoi(argv[i]);
    }
  }
  pin(cpu0);
  auto devices = list_devices();
  if (!devices.ok()) {
    std::fprintf(stderr, "%s\n", devices.error().what().c_str());
    return 2;
  }
  std::printf("# render-stage benchmark; devices:");
  for (const auto& d : devices.value()) std::printf(" [%u] %s (%s)", d.index, d.name.c_str(), d.type.c_str());
  std::printf("\n# render thread pinned to CPU %d; frame time = interval between completions\n", cpu0);
  const std::uint32_t frames = quick ? 6 : 20;

  std::printf("\n## frame time vs instances and resolution (import paths, 2 frames in flight)\n");
  std::printf("%-10s %-11s %10s %10s %10s\n", "instances", "resolution", "p50 ms", "p99 ms", "layout ms");
  const std::vector<std::uint32_t> counts = quick ? std::vector<std::uint32_t>{10'000, 100'000}
                                                  : std::vector<std::uint32_t>{10'000, 100'000, 1'000'000};
  struct Res { std::uint32_t w, h; };
  const std::vector<Res> res = full ? std::vector<Res>{{256, 256}, {1024, 1024}, {1920, 1080}}
                                    : std::vector<Res>{{256, 256}, {1024, 1024}};
  for (auto n : counts) {
    for (auto r : res) {
      const Timing t = run(n, r.w, r.h, HostMemoryPath::kImport, HostMemoryPath::kImport, 2, false,
                           n >= 1'000'000 ? std::max<std::uint32_t>(3, frames / 4) : frames, 2);
      std::printf("%-10u %4ux%-6u %10.2f %10.2f %10.2f\n", n, r.w, r.h, t.p50_ms, t.p99_ms, t.layout_ms);
    }
  }

  std::printf("\n## host-pointer import vs staging upload (layout zone; 100k instances, 512x512)\n");
  const Timing imp = run(100'000, 512, 512, HostMemoryPath::kImport, HostMemoryPath::kImport, 2, false, frames, 2);
  const Timing stg = run(100'000, 512, 512, HostMemoryPath::kStaging, HostMemoryPath::kImport, 2, false, frames, 2);
  std::printf("import  (imported=%d): p50 %.2f ms\nstaging (imported=%d): p50 %.2f ms\nratio staging/import: %.2fx\n",
              imp.layout_imported, imp.p50_ms, stg.layout_imported, stg.p50_ms, stg.p50_ms / imp.p50_ms);
  std::printf("\n## result zone: imported (GPU writes it) vs readback buffer + memcpy (10k instances, 1024x1024)\n");
  const Timing rimp = run(10'000, 1024, 1024, HostMemoryPath::kImport, HostMemoryPath::kImport, 2, false, frames, 2);
  const Timing rstg = run(10'000, 1024, 1024, HostMemoryPath::kImport, HostMemoryPath::kStaging, 2, false, frames, 2);
  std::printf("imported: p50 %.2f ms\nstaging:  p50 %.2f ms\nratio staging/import: %.2fx\n", rimp.p50_ms, rstg.p50_ms,
              rstg.p50_ms / rimp.p50_ms);

  std::printf("\n## pipelined (3 in flight) vs synchronous readback (100k instances, 1024x1024)\n");
  const Timing sync = run(100'000, 1024, 1024, HostMemoryPath::kImport, HostMemoryPath::kImport, 1, true, frames, 2);
  const Timing pipe = run(100'000, 1024, 1024, HostMemoryPath::kImport, HostMemoryPath::kImport, 3, false, frames, 2);
  std::printf("synchronous: p50 %.2f ms\npipelined:   p50 %.2f ms\nratio sync/pipelined: %.2fx\n", sync.p50_ms,
              pipe.p50_ms, sync.p50_ms / pipe.p50_ms);

  std::printf("\n## layout pass scaling (1M particles, 1920x1080; thread_split stand-in for the render pool)\n");
  const int reps = quick ? 3 : 9;
  const double one = layout_ms(1'000'000, 1, reps);
  for (std::uint32_t tasks : {1U, 2U, 4U}) {
    const double ms = layout_ms(1'000'000, tasks, reps);
    std::printf("%u threads: p50 %.2f ms  speedup %.2fx\n", tasks, ms, one / ms);
  }
  return 0;
}
