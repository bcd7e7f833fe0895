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

}  // namespace

int main(int argc, char** argv) {
  std::uint32_t width = 1024, height = 768, particles = 100'000, frames = 30, fif = 2, threads = 2;
  int cpu = -1;
  std::string out = "triptych-frame.png";
  VulkanRendererConfig cfg;
  bool want_info = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    auto num = [&](std::uint32_t& v) {
      const char* s = next();
      if (s == nullptr) return false;
      v = static_cast<std::uint32_t>(std::strtoul(s, nullptr, 10));
      return true;
    };
    if (a == "info") {
      want_info = true;
    } else if (a == "--validation") {
      cfg.vulkan.validation = true;
    } else if (a == "--staging") {
      cfg.layout_path = HostMemoryPath::kStaging;
      cfg.result_path = HostMemoryPath::kStaging;
    } else if (a == "--width") {
      if (!num(width)) return usage();
    } else if (a == "--height") {
      if (!num(height)) return usage();
    } else if (a == "--particles") {
      if (!num(particles)) return usage();
    } else if (a == "--frames") {
      if (!num(frames)) return usage();
    } else if (a == "--frames-in-flight") {
      if (!num(fif)) return usage();
    } else if (a == "--threads") {
      if (!num(threads)) return usage();
    } else if (a == "--cpu") {
      const char* s = next();
      if (s == nullptr) return usage();
      cpu = std::atoi(s);
    } else if (a == "--out") {
      const char* s = next();
      if (s == nullptr) return usage();
      out = s;
    } else if (a == "--device") {
      const char* s = next();
      if (s == nullptr) return usage();
      if (std::isdigit(static_cast<unsigned char>(s[0])) != 0) {
        cfg.vulkan.device.index = std::atoi(s);
      } else {
        cfg.vulkan.device.name = s;
      }
    } else {
      return usage();
    }
  }
  if (want_info) return info(cfg.vulkan.validation);
  if (frames == 0 || particles == 0) return usage();
  if (cpu >= 0) {
    if (auto ok = triptych::sched::pin_current_thread(triptych::sched::CpuSet{static_cast<std::uint32_t>(cpu)}, {});
        !ok) {
      std::fprintf(stderr, "triptych-render-demo: --cpu %d: %s\n", cpu, ok.error().what().c_str());
      return 2;
    }
  }

  // The synthetic arena: one compute slot and the layout / result triple buffers.
  auto compute = HostZone::create(std::size_t{particles} * sizeof(Particle));
  if (!compute.ok()) {
    std::fprintf(stderr, "triptych-render-demo: %s\n", compute.error().what().c_str());
    return 1;
  }
  std::vector<HostZone> owned;
  std::vector<std::span<std::byte>> layout, result;
  for (int i = 0; i < 3; ++i) {
    owned.push_back(HostZone::create(layout_zone_bytes(particles)).value());
    layout.push_back(owned.back().bytes());
    owned.push_back(HostZone::create(result_zone_bytes(width, height)).value());
    result.push_back(owned.back().bytes());
  }
  auto* ps = reinterpret_cast<Particle*>(compute.value().bytes().data());
  std::uint64_t seed = 0x9E3779B97F4A7C15ULL;
  auto rnd = [&seed] {
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return static_cast<float>(seed >> 40) / static_cast<float>(1 << 24);
  };
  for (std::uint32_t i = 0; i < particles; ++i) {
    const float hue = rnd();
    ps[i] = {rnd() * static_cast<float>(width), rnd() * static_cast<float>(height), (rnd() - 0.5F) * 4.0F,
             (rnd() - 0.5F) * 4.0F, 1.0F + rnd() * 3.0F,
             rgba(static_cast<std::uint8_t>(255 * hue), static_cast<std::uint8_t>(255 * (1 - hue)), 220, 170),
             i % 3, 0};
  }

  cfg.layout.width = width;
  cfg.layout.height = height;
  cfg.frames_in_flight = fif;
  cfg.layout_tasks = threads;
  cfg.clear_color = {0.02F, 0.02F, 0.05F, 1.0F};
  auto made = VulkanRenderer::create(cfg, layout, result);
  if (!made.ok()) {
    std::fprintf(stderr, "triptych-render-demo: %s\n", made.error().what().c_str());
    return 1;
  }
  auto& vr = *made.value();
  std::printf("device: %s (%s)\n", vr.device().name.c_str(), vr.device().type.c_str());
  std::printf("layout zones: %s; result zones: %s\n",
              vr.layout_binding(0).imported ? "imported (zero copy)" : vr.layout_binding(0).note.c_str(),
              vr.result_binding(0).imported ? "imported (GPU writes them)" : vr.result_binding(0).note.c_str());

  std::vector<double> layout_ms, frame_ms;
  std::int64_t prev_end = 0;
  std::uint64_t last_ticket = 0;
  const std::int64_t t0 = now_ns();
  for (std::uint32_t f = 0; f < frames; ++f) {
    // The "compute stage": move the particles and bounce them off the edges.
    for (std::uint32_t i = 0; i < particles; ++i) {
      Particle& p = ps[i];
      p.x += p.vx;
      p.y += p.vy;
      if (p.x < 0 || p.x > static_cast<float>(width)) p.vx = -p.vx;
      if (p.y < 0 || p.y > static_cast<float>(height)) p.vy = -p.vy;
    }
    auto t = vr.submit({f, compute.value().bytes(), particles, f % 3, f % 3});
    if (!t.ok()) {
      std::fprintf(stderr, "triptych-render-demo: %s\n", t.error().what().c_str());
      return 1;
    }
    last_ticket = t.value();
    if (t.value() + 1 < fif) continue;
    auto done = vr.wait_frame(t.value() + 1 - fif, std::chrono::seconds(60));
    if (!done.ok()) {
      std::fprintf(stderr, "triptych-render-demo: %s\n", done.error().what().c_str());
      return 1;
    }
    layout_ms.push_back(static_cast<double>(done.value().layout_end_ns - done.value().render_start_ns) / 1e6);
    if (prev_end != 0) frame_ms.push_back(static_cast<double>(done.value().render_end_ns - prev_end) / 1e6);
    prev_end = done.value().render_end_ns;
  }
  auto last = vr.wait_frame(last_ticket, std::chrono::seconds(60));
  if (!last.ok()) {
    std::fprintf(stderr, "triptych-render-demo: %s\n", last.error().what().c_str());
    return 1;
  }
  const double total_ms = static_cast<double>(now_ns() - t0) / 1e6;
  auto img = image_from_result_zone(result[last.value().result_zone]);
  if (!img.ok() || !write_png(out, img.value()).ok()) {
    std::fprintf(stderr, "triptych-render-demo: cannot write %s\n", out.c_str());
    return 1;
  }
  auto p50 = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const LayoutStats& s = last.value().stats;
  std::printf("%u frames of %u particles at %ux%u in %.1f ms (%.1f fps)\n", frames, particles, width, height, total_ms,
              1000.0 * frames / total_ms);
  std::printf("layout pass p50 %.2f ms (%u threads); frame interval p50 %.2f ms\n", p50(layout_ms), threads, p50(frame_ms));
  std::printf("last frame: %u drawn, %u culled, %u dropped, %u clamped\n", s.drawn, s.culled, s.dropped(), s.clamped);
  std::printf("wrote %s\n", out.c_str());
  return 0;
}
