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
#include "triptych/pipeline/run_options.hpp"
#include "triptych_kernel.h"

namespace pipeline = triptych::pipeline;

namespace {

using triptych::pipeline::Engine;
using triptych::pipeline::EngineConfig;

volatile std::sig_atomic_t g_interrupted = 0;

// The usage text: the run options table's lines for this host.
void print_usage(std::FILE* to) {
  std::fprintf(to,
               "usage: triptych-run [options]\n"
               "Runs the default particle scene with the native kernel and writes a report.\n%s"
               "core plan options:\n%s"
               "  --help                  this text\n"
               "Exit codes: 0 ok, 1 runtime failure, 2 bad usage.\n",
               pipeline::options_help(pipeline::kNativeCliHost).c_str(),
               pipeline::options_help(pipeline::kNativeCliHost, true).c_str());
}

[[noreturn]] void usage_error(const triptych::Error& e) {
  std::fprintf(stderr, "triptych-run: %s\n", e.message.c_str());
  std::exit(2);
}

// argv through the table; exits 2 with the table's message on bad usage.
pipeline::RunConfig parse_args(int argc, char** argv) {
  pipeline::RunConfig run;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--help" || a == "-h") {
      print_usage(stdout);
      std::exit(0);
    }
    const pipeline::RunOption* o = a.starts_with("--") ? pipeline::option_by_flag(a.substr(2)) : nullptr;
    if (o == nullptr || (o->hosts & pipeline::kNativeCliHost) == 0) {
      std::fprintf(stderr, "triptych-run: unknown option '%s'\n", argv[i]);
      print_usage(stderr);
      std::exit(2);
    }
    pipeline::OptionValue value = true;
    if (o->type != pipeline::OptionType::kSwitch) {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "triptych-run: %s needs a value\n", argv[i]);
        std::exit(2);
      }
      auto parsed = pipeline::parse_option_text(*o, argv[++i]);
      if (!parsed) usage_error(parsed.error());
      value = std::move(parsed).value();
    }
    auto ok = pipeline::set_option(run, *o, value, pipeline::kNativeCliHost, pipeline::OptionNaming::kFlag);
    if (!ok) usage_error(ok.error());
  }
  if (auto ok = pipeline::finish_run_config(run); !ok) usage_error(ok.error());
  return run;
}

}  // namespace

int main(int argc, char** argv) {
  const pipeline::RunConfig run = parse_args(argc, argv);
  EngineConfig cfg = run.engine;
  cfg.native_kernel = &tp_kernel_step;
  auto plan = pipeline::plan_for(run);
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
  const std::string length = cfg.frames != 0 ? std::to_string(cfg.frames) + " frames"
                             : cfg.seconds > 0 ? std::to_string(cfg.seconds) + " s"
                                               : std::string("until Ctrl-C");
  std::printf("triptych-run: %u particles, %s, %g Hz, %s\n", cfg.particles, engine->renderer_description().c_str(),
              cfg.hz, length.c_str());
  if (auto ok = engine->start(); !ok) {
    std::fprintf(stderr, "triptych-run: %s\n", ok.error().what().c_str());
    return 1;
  }
  while (!engine->wait_finished(std::chrono::milliseconds(500))) {
    if (g_interrupted) {
      std::fprintf(stderr, "\ntriptych-run: interrupted; writing the report\n");
      break;
    }
    if (run.quiet) continue;
    const auto s = engine->status();
    std::printf("  %6.1f s  %5.0f fps  p50 %6.2f ms  p99 %6.2f ms  late %llu  dropped %llu  failed %llu  lost %llu  "
                "render crashes %llu\n",
                s.elapsed_s, s.fps, s.p50_ms, s.p99_ms, static_cast<unsigned long long>(s.late),
                static_cast<unsigned long long>(s.dropped), static_cast<unsigned long long>(s.failed),
                static_cast<unsigned long long>(s.lost), static_cast<unsigned long long>(s.render_crashes));
    std::fflush(stdout);
  }
  engine->stop();
  const auto status = engine->status();
  const pipeline::RunOutputs files = pipeline::output_files(run.outputs);
  if (!files.dir.empty()) mkdir(files.dir.c_str(), 0755);
  const Engine::Outputs outputs{files.trace, files.report, files.csv, files.stats, files.snapshot};
  const auto written = engine->write_outputs(
      outputs, {{"host", "native (triptych-run)"},
                {"particles", std::to_string(cfg.particles)},
                {"hz", std::to_string(cfg.hz)},
                {"frames", std::to_string(cfg.frames)},
                {"seconds", std::to_string(cfg.seconds)},
                {"workers", std::to_string(engine->config().workers)}});
  std::printf("%s", engine->summary_table().c_str());
  if (!written) {
    std::fprintf(stderr, "triptych-run: writing outputs: %s\n", written.error().what().c_str());
    return 1;
  }
  for (const std::string* f : {&files.trace, &files.report, &files.csv, &files.stats, &files.snapshot}) {
    if (!f->empty()) std::printf("wrote %s\n", f->c_str());
  }
  if (!status.error.empty()) {
    std::fprintf(stderr, "triptych-run: %s\n", status.error.c_str());
    return 1;
  }
  return 0;
}
