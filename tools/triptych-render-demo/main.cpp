// SPDX-License-Identifier: Apache-2.0
// triptych-render-demo: renders a synthetic particle arena (a compute slot of
// moving particles, three layout zones, three result zones) through the
// Vulkan render stage, writes the last frame as a PNG and prints the timings.
// `info` lists the Vulkan devices. Single render thread. See docs/render-stage.md.
//
//   triptych-render-demo info [--validation]
//   triptych-render-demo [--width W] [--height H] [--particles N] [--frames F]
//       [--out frame.png] [--device NAME|INDEX] [--validation] [--staging]
//       [--frames-in-flight K] [--threads T] [--cpu C]
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "triptych/render/image.hpp"
#include <vulkan/vulkan.h>

#include "triptych/render/vulkan_renderer.hpp"
#include "triptych/sched/pinning.hpp"
#include "support/host_zone.hpp"

namespace {

using namespace triptych;
using namespace triptych::render;
using triptych::test::HostZone;

int usage() {
  std::fprintf(stderr,
               "usage: triptych-render-demo info [--validation]\n"
               "       triptych-render-demo [--width W] [--height H] [--particles N] [--frames F] [--out PNG]\n"
               "                            [--device NAME|INDEX] [--validation] [--staging]\n"
               "                            [--frames-in-flight K] [--threads T] [--cpu C]\n");
  return 2;
}

int info(bool validation) {
  VulkanOptions o;
  o.validation = validation;
  auto list = list_devices(o);
  if (!list.ok()) {
    std::fprintf(stderr, "triptych-render-demo: %s\n", list.error().what().c_str());
    return 1;
  }
  for (const auto& d : list.value()) {
    std::printf("[%u] %s\n    type %s, Vulkan %u.%u.%u, vendor %#06x device %#06x, %s\n", d.index, d.name.c_str(),
                d.type.c_str(), VK_API_VERSION_MAJOR(d.api_version), VK_API_VERSION_MINOR(d.api_version),
                VK_API_VERSION_PATCH(d.api_version), d.vendor_id, d.device_id, d.usable ? "usable" : "unusable");
    std::printf("    VK_EXT_external_memory_host: %s", d.host_import ? "yes" : "no");
    if (d.host_import) std::printf(" (alignment %llu)", static_cast<unsigned long long>(d.import_alignment));
    std::printf(", dedicated transfer queue: %s\n", d.dedicated_transfer_queue ? "yes" : "no");
  }
  return 0;
}

// What the command line asked for.
struct DemoOptions {
  std::uint32_t width = 1024, height = 768, particles = 100'000, frames = 30, frames_in_flight = 2, threads = 2;
  int cpu = -1;
  std::string out = "triptych-frame.png";
  VulkanRendererConfig renderer;
  bool info = false;
};

// argv -> options; false on bad usage.
bool parse_args(int argc, char** argv, DemoOptions& o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto num = [&](std::uint32_t& v) {
      const char* s = next();
      if (s == nullptr) return false;
      v = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
      return true;
    };
    bool ok = true;
    if (a == "info") {
      o.info = true;
    } else if (a == "--validation") {
      o.renderer.vulkan.validation = true;
    } else if (a == "--staging") {
      o.renderer.layout_path = HostMemoryPath::kStaging;
      o.renderer.result_path = HostMemoryPath::kStaging;
    } else if (a == "--width") {
      ok = num(o.width);
    } else if (a == "--height") {
      ok = num(o.height);
    } else if (a == "--particles") {
      ok = num(o.particles);
    } else if (a == "--frames") {
      ok = num(o.frames);
    } else if (a == "--frames-in-flight") {
      ok = num(o.frames_in_flight);
    } else if (a == "--threads") {
      ok = num(o.threads);
    } else if (a == "--cpu" || a == "--out" || a == "--device") {
      const char* v = next();
      ok = v != nullptr;
      if (!ok) break;
      if (a == "--cpu") o.cpu = std::atoi(v);
      else if (a == "--out") o.out = v;
      else if (std::isdigit(static_cast<unsigned char>(v[0])) != 0) o.renderer.vulkan.device.index = std::atoi(v);
      else o.renderer.vulkan.device.name = v;
    } else {
      ok = false;
    }
    if (!ok) return false;
  }
  return o.info || (o.frames != 0 && o.particles != 0);
}

// The synthetic arena: one compute slot of particles scattered over the
// target, and three layout and three result zones.
struct DemoArena {
  HostZone compute;
  std::vector<HostZone> owned;
  std::vector<std::span<std::byte>> layout, result;
  Particle* particles() { return reinterpret_cast<Particle*>(compute.bytes().data()); }
};

Result<DemoArena> make_arena(const DemoOptions& o) {
  auto compute = HostZone::create(std::size_t{o.particles} * sizeof(Particle));
  if (!compute.ok()) return compute.error();
  DemoArena a{std::move(compute).value(), {}, {}, {}};
  for (int i = 0; i < 3; ++i) {
    a.owned.push_back(HostZone::create(layout_zone_bytes(o.particles)).value());
    a.layout.push_back(a.owned.back().bytes());
    a.owned.push_back(HostZone::create(result_zone_bytes(o.width, o.height)).value());
    a.result.push_back(a.owned.back().bytes());
  }
  Particle* ps = a.particles();
  std::uint64_t seed = 0x9E3779B97F4A7C15ULL;
  auto rnd = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return static_cast<float>(seed >> 40) / static_cast<float>(1 << 24);
  };
  for (std::uint32_t i = 0; i < o.particles; ++i) {
    const float hue = rnd();
    ps[i] = {rnd() * static_cast<float>(o.width), rnd() * static_cast<float>(o.height), (rnd() - 0.5F) * 4.0F,
             (rnd() - 0.5F) * 4.0F, 1.0F + rnd() * 3.0F,
             rgba(static_cast<std::uint8_t>(255 * hue), static_cast<std::uint8_t>(255 * (1 - hue)), 220, 170),
             i % 3, 0};
  }
  return a;
}

// The "compute stage": move the particles and bounce them off the edges.
void step_particles(Particle* ps, const DemoOptions& o) {
  for (std::uint32_t i = 0; i < o.particles; ++i) {
    Particle& p = ps[i];
    p.x += p.vx;
    p.y += p.vy;
    if (p.x < 0 || p.x > static_cast<float>(o.width)) p.vx = -p.vx;
    if (p.y < 0 || p.y > static_cast<float>(o.height)) p.vy = -p.vy;
  }
}

double p50(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

int fail(const Error& e) {
  std::fprintf(stderr, "triptych-render-demo: %s\n", e.what().c_str());
  return 1;
}

// Renders o.frames frames with frames_in_flight in flight, writes the last
// as a PNG and prints the timings.
int run_frames(const DemoOptions& o, VulkanRenderer& vr, DemoArena& arena) {
  std::vector<double> layout_ms, frame_ms;
  std::int64_t prev_end = 0;
  std::uint64_t last_ticket = 0;
  const std::int64_t t0 = now_ns();
  for (std::uint32_t f = 0; f < o.frames; ++f) {
    step_particles(arena.particles(), o);
    auto t = vr.submit({f, arena.compute.bytes(), o.particles, f % 3, f % 3});
    if (!t.ok()) return fail(t.error());
    last_ticket = t.value();
    if (t.value() + 1 < o.frames_in_flight) continue;
    auto done = vr.wait_frame(t.value() + 1 - o.frames_in_flight, std::chrono::seconds(60));
    if (!done.ok()) return fail(done.error());
    layout_ms.push_back(static_cast<double>(done.value().layout_end_ns - done.value().render_start_ns) / 1e6);
    if (prev_end != 0) frame_ms.push_back(static_cast<double>(done.value().render_end_ns - prev_end) / 1e6);
    prev_end = done.value().render_end_ns;
  }
  auto last = vr.wait_frame(last_ticket, std::chrono::seconds(60));
  if (!last.ok()) return fail(last.error());
  const double total_ms = static_cast<double>(now_ns() - t0) / 1e6;
  auto img = image_from_result_zone(arena.result[last.value().result_zone]);
  if (!img.ok() || !write_png(o.out, img.value()).ok()) {
    std::fprintf(stderr, "triptych-render-demo: cannot write %s\n", o.out.c_str());
    return 1;
  }
  const LayoutStats& s = last.value().stats;
  std::printf("%u frames of %u particles at %ux%u in %.1f ms (%.1f fps)\n", o.frames, o.particles, o.width, o.height,
              total_ms, 1000.0 * o.frames / total_ms);
  std::printf("layout pass p50 %.2f ms (%u threads); frame interval p50 %.2f ms\n", p50(layout_ms), o.threads,
              p50(frame_ms));
  std::printf("last frame: %u drawn, %u culled, %u dropped, %u clamped\n", s.drawn, s.culled, s.dropped(), s.clamped);
  std::printf("wrote %s\n", o.out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  DemoOptions o;
  if (!parse_args(argc, argv, o)) return usage();
  if (o.info) return info(o.renderer.vulkan.validation);
  if (o.cpu >= 0) {
    if (auto ok = triptych::sched::pin_current_thread(triptych::sched::CpuSet{static_cast<std::uint32_t>(o.cpu)}, {});
        !ok) {
      std::fprintf(stderr, "triptych-render-demo: --cpu %d: %s\n", o.cpu, ok.error().what().c_str());
      return 2;
    }
  }
  auto arena = make_arena(o);
  if (!arena.ok()) return fail(arena.error());
  VulkanRendererConfig cfg = o.renderer;
  cfg.layout.width = o.width;
  cfg.layout.height = o.height;
  cfg.frames_in_flight = o.frames_in_flight;
  cfg.layout_tasks = o.threads;
  cfg.clear_color = {0.02F, 0.02F, 0.05F, 1.0F};
  auto made = VulkanRenderer::create(cfg, arena.value().layout, arena.value().result);
  if (!made.ok()) return fail(made.error());
  auto& vr = *made.value();
  std::printf("device: %s (%s)\n", vr.device().name.c_str(), vr.device().type.c_str());
  std::printf("layout zones: %s; result zones: %s\n",
              vr.layout_binding(0).imported ? "imported (zero copy)" : vr.layout_binding(0).note.c_str(),
              vr.result_binding(0).imported ? "imported (GPU writes them)" : vr.result_binding(0).note.c_str());
  return run_frames(o, vr, arena.value());
}
