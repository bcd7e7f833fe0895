// SPDX-License-Identifier: Apache-2.0
// triptych-run: the native host. Runs the pipeline with the particle kernel
// compiled natively (no Node, no WASM) on the core plan of this machine, and
// writes the trace, report, CSV, stats and a PNG snapshot. For C++ users, CI
// and the WASM-versus-native comparison; the main CLI is `triptych` (node/).
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <sys/stat.h>

#include "triptych/pipeline/engine.hpp"
#include "triptych_kernel.h"
#include "triptych/sched/core_plan.hpp"
#include "triptych/sched/topology.hpp"

namespace {

using triptych::pipeline::Engine;
using triptych::pipeline::EngineConfig;

constexpr const char* kUsage =
    "usage: triptych-run [options]\n"
    "Runs the default particle scene with the native kernel and writes a report.\n"
    "  --particles N      particles (default %u)\n"
    "  --hz RATE          target frame rate, 0 = as fast as possible (default 60)\n"
    "  --frames N         frames to run (default 600)\n"
    "  --grain N          particles per compute chunk (default %u)\n"
    "  --workers N        compute threads (default: the plan's compute CPUs)\n"
    "  --renderer KIND    vulkan | cpu (default vulkan)\n"
    "  --width W --height H  render target (default 640x480)\n"
    "  --device NAME      Vulkan device name substring\n"
    "  --validation       Khronos validation layer; any message fails the run\n"
    "  --lag POLICY       wait | drop: when render lags, compute waits or frames drop\n"
    "  --out DIR          write trace.json report.html frames.csv stats.json snapshot.png (default out)\n"
    "  --help             this text\n"
    "Exit codes: 0 ok, 1 runtime failure, 2 bad usage.\n";

volatile std::sig_atomic_t g_interrupted = 0;

// The usage text, with EngineConfig{}'s defaults (every host's).
void print_usage(std::FILE* to) {
  const EngineConfig defaults;
  std::fprintf(to, kUsage, defaults.particles, defaults.grain);
}

bool parse_uint(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  char* end = nullptr;
  const unsigned long long v = std::strtoull(std::string(s).c_str(), &end, 10);
  if (end == nullptr || *end != '\0' || s[0] == '-') return false;
  out = v;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  EngineConfig cfg;
  cfg.native_kernel = &tp_kernel_step;
  std::string out = "out";
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    auto value = [&](std::string_view& v) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "triptych-run: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      v = argv[++i];
    };
    auto number = [&](std::uint64_t lo, std::uint64_t hi) {
      std::string_view v;
      value(v);
      std::uint64_t n = 0;
      if (!parse_uint(v, n) || n < lo || n > hi) {
        std::fprintf(stderr, "triptych-run: %s expects an integer in [%llu, %llu], got '%s'\n", argv[i - 1],
                     static_cast<unsigned long long>(lo), static_cast<unsigned long long>(hi),
                     std::string(v).c_str());
        std::exit(2);
      }
      return n;
    };
    std::string_view v;
    if (a == "--help" || a == "-h") {
      print_usage(stdout);
      return 0;
    } else if (a == "--particles") {
      cfg.particles = static_cast<std::uint32_t>(number(1, 1u << 24));
    } else if (a == "--hz") {
      cfg.hz = static_cast<double>(number(0, 1000));
    } else if (a == "--frames") {
      cfg.frames = number(1, 1'000'000'000);
    } else if (a == "--grain") {
      cfg.grain = static_cast<std::uint32_t>(number(1, 1u << 24));
    } else if (a == "--workers") {
      cfg.workers = static_cast<std::uint32_t>(number(1, 1024));
    } else if (a == "--width") {
      cfg.width = static_cast<std::uint32_t>(number(1, 8192));
    } else if (a == "--height") {
      cfg.height = static_cast<std::uint32_t>(number(1, 8192));
    } else if (a == "--renderer") {
      value(v);
      if (v == "vulkan") cfg.renderer = triptych::pipeline::RendererKind::kVulkan;
      else if (v == "cpu") cfg.renderer = triptych::pipeline::RendererKind::kCpu;
      else {
        std::fprintf(stderr, "triptych-run: --renderer must be vulkan or cpu, got '%s'\n", std::string(v).c_str());
        return 2;
      }
    } else if (a == "--lag") {
      value(v);
      if (v == "wait") cfg.lag = triptych::pipeline::LagPolicy::kWait;
      else if (v == "drop") cfg.lag = triptych::pipeline::LagPolicy::kDrop;
      else {
        std::fprintf(stderr, "triptych-run: --lag must be wait or drop, got '%s'\n", std::string(v).c_str());
        return 2;
      }
    } else if (a == "--device") {
      value(v);
      cfg.device = std::string(v);
    } else if (a == "--validation") {
      cfg.validation = true;
    } else if (a == "--out") {
      value(v);
      out = std::string(v);
    } else {
      std::fprintf(stderr, "triptych-run: unknown option '%s'\n", argv[i]);
      print_usage(stderr);
      return 2;
    }
  }

  auto topo = triptych::sched::Topology::load();
  if (!topo) {
    std::fprintf(stderr, "triptych-run: topology: %s\n", topo.error().what().c_str());
    return 1;
  }
  triptych::sched::PlanPolicy policy;
  if (auto ok = triptych::sched::apply_env(policy); !ok) {
    std::fprintf(stderr, "triptych-run: %s\n", ok.error().what().c_str());
    return 2;
  }
  auto plan = triptych::sched::plan_cores(topo.value(), policy);
  if (!plan) {
    std::fprintf(stderr, "triptych-run: core plan: %s\n", plan.error().what().c_str());
    return 1;
  }
  cfg.plan = plan.value();
  auto created = Engine::create(cfg);
  if (!created) {
    std::fprintf(stderr, "triptych-run: %s\n", created.error().what().c_str());
    return 1;
  }
  std::unique_ptr<Engine> engine = std::move(created).value();
  std::signal(SIGINT, [](int) { g_interrupted = 1; });
  std::printf("triptych-run: %u particles, %s, %g Hz, %llu frames\n", cfg.particles,
              engine->renderer_description().c_str(), cfg.hz, static_cast<unsigned long long>(cfg.frames));
  if (auto ok = engine->start(); !ok) {
    std::fprintf(stderr, "triptych-run: %s\n", ok.error().what().c_str());
    return 1;
  }
  while (!engine->wait_finished(std::chrono::milliseconds(500))) {
    if (g_interrupted) {
      std::fprintf(stderr, "\ntriptych-run: interrupted; writing the report\n");
      break;
    }
    const auto s = engine->status();
    std::printf("  %6.1f s  %5.0f fps  p50 %6.2f ms  p99 %6.2f ms  late %llu  dropped %llu  failed %llu\n",
                s.elapsed_s, s.fps, s.p50_ms, s.p99_ms, static_cast<unsigned long long>(s.late),
                static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.failed));
    std::fflush(stdout);
  }
  engine->stop();
  const auto status = engine->status();
  mkdir(out.c_str(), 0755);
  const Engine::Outputs outputs{out + "/trace.json", out + "/report.html", out + "/frames.csv",
                                out + "/stats.json", out + "/snapshot.png"};
  const auto written = engine->write_outputs(
      outputs, {{"host", "native (triptych-run)"},
                {"particles", std::to_string(cfg.particles)},
                {"hz", std::to_string(cfg.hz)},
                {"frames", std::to_string(cfg.frames)},
                {"workers", std::to_string(engine->config().workers)}});
  std::printf("%s", engine->summary_table().c_str());
  if (!written) {
    std::fprintf(stderr, "triptych-run: writing outputs: %s\n", written.error().what().c_str());
    return 1;
  }
  std::printf("wrote %s/{trace.json,report.html,frames.csv,stats.json,snapshot.png}\n", out.c_str());
  if (!status.error.empty()) {
    std::fprintf(stderr, "triptych-run: %s\n", status.error.c_str());
    return 1;
  }
  return 0;
}
