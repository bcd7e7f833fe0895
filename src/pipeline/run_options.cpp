// SPDX-License-Identifier: Apache-2.0
// The run options table and its one parser, checker and help writer (contracts
// in include/triptych/pipeline/run_options.hpp). Each row says where its value
// lives; defaults are read from RunConfig{} (EngineConfig{}'s for the
// engine's), so a default is written down once. Pure; any thread.
#include "triptych/pipeline/run_options.hpp"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <type_traits>
#include <utility>

#include "triptych/sched/topology.hpp"

namespace triptych::pipeline {
namespace {

// ---- where a row's value lives ---------------------------------------------

template <class C, class T>
C class_of(T C::*);

// The field a member pointer names, found in the part of RunConfig that holds
// members of its class.
template <auto M, class Config>
auto& field(Config& c) {
  using C = decltype(class_of(M));
  if constexpr (std::is_same_v<C, EngineConfig>) return c.engine.*M;
  else if constexpr (std::is_same_v<C, sched::PlanPolicy>) return c.plan_policy.*M;
  else if constexpr (std::is_same_v<C, RunOutputs>) return c.outputs.*M;
  else return c.*M;
}

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <auto M>
OptionValue get_field(const RunConfig& c) {
  const auto& v = field<M>(c);
  using T = std::remove_cvref_t<decltype(v)>;
  if constexpr (std::is_same_v<T, bool>) return v;
  else if constexpr (std::is_arithmetic_v<T>) return static_cast<double>(v);
  else if constexpr (std::is_same_v<T, std::string>) return v.empty() ? OptionValue{} : OptionValue{v};
  else if constexpr (std::is_same_v<T, std::optional<int>>) {
    return v ? OptionValue{static_cast<double>(*v)} : OptionValue{};
  } else {
    static_assert(std::is_same_v<T, std::optional<sched::CpuSet>>);
    return v ? OptionValue{v->to_string()} : OptionValue{};
  }
}

template <auto M>
void set_field(RunConfig& c, const OptionValue& value) {
  auto& v = field<M>(c);
  using T = std::remove_cvref_t<decltype(v)>;
  if constexpr (std::is_same_v<T, bool>) v = std::get<bool>(value);
  else if constexpr (std::is_arithmetic_v<T>) v = static_cast<T>(std::get<double>(value));
  else if constexpr (std::is_same_v<T, std::string>) v = std::get<std::string>(value);
  else if constexpr (std::is_same_v<T, std::optional<int>>) v = static_cast<int>(std::get<double>(value));
  else v = sched::CpuSet::parse(std::get<std::string>(value)).value();  // checked by check_option
}

// Enumerations, spelled as their choices.
OptionValue get_renderer(const RunConfig& c) {
  switch (c.engine.renderer) {
    case RendererKind::kCpu: return std::string("cpu");
    case RendererKind::kVulkan: return std::string("vulkan");
    case RendererKind::kAuto: break;
  }
  return std::string("auto");
}
void set_renderer(RunConfig& c, const OptionValue& v) {
  const std::string& kind = std::get<std::string>(v);
  c.engine.renderer = kind == "cpu" ? RendererKind::kCpu : (kind == "vulkan" ? RendererKind::kVulkan : RendererKind::kAuto);
}
OptionValue get_present(const RunConfig& c) {
  switch (c.engine.present) {
    case PresentTarget::kWindow: return std::string("window");
    case PresentTarget::kAuto: return std::string("auto");
    case PresentTarget::kOffscreen: break;
  }
  return std::string("offscreen");
}
void set_present(RunConfig& c, const OptionValue& v) {
  const std::string& s = std::get<std::string>(v);
  c.engine.present = s == "window" ? PresentTarget::kWindow : s == "auto" ? PresentTarget::kAuto : PresentTarget::kOffscreen;
}
OptionValue get_hud(const RunConfig& c) { return std::string(c.engine.hud ? "on" : "off"); }
void set_hud(RunConfig& c, const OptionValue& v) { c.engine.hud = std::get<std::string>(v) == "on"; }
OptionValue get_clock(const RunConfig& c) {
  return std::string(c.engine.clock == ClockOwner::kFrameLoop ? "frame-loop" : "presenter");
}
void set_clock(RunConfig& c, const OptionValue& v) {
  c.engine.clock = std::get<std::string>(v) == "frame-loop" ? ClockOwner::kFrameLoop : ClockOwner::kPresenter;
}
OptionValue get_governor(const RunConfig& c) { return std::string(c.engine.governor ? "on" : "off"); }
void set_governor(RunConfig& c, const OptionValue& v) { c.engine.governor = std::get<std::string>(v) == "on"; }
OptionValue get_adaptive_plan(const RunConfig& c) { return std::string(c.engine.adaptive_plan ? "on" : "off"); }
void set_adaptive_plan(RunConfig& c, const OptionValue& v) { c.engine.adaptive_plan = std::get<std::string>(v) == "on"; }
OptionValue get_lag(const RunConfig& c) { return std::string(c.engine.lag == LagPolicy::kDrop ? "drop" : "wait"); }
void set_lag(RunConfig& c, const OptionValue& v) {
  c.engine.lag = std::get<std::string>(v) == "drop" ? LagPolicy::kDrop : LagPolicy::kWait;
}

OptionValue get_particle_path(const RunConfig& c) {
  switch (c.engine.particle_path) {
    case ParticlePath::kGpu: return std::string("gpu");
    case ParticlePath::kCpu: return std::string("cpu");
    case ParticlePath::kAuto: break;
  }
  return std::string("auto");
}
void set_particle_path(RunConfig& c, const OptionValue& v) {
  const std::string& s = std::get<std::string>(v);
  c.engine.particle_path = s == "gpu" ? ParticlePath::kGpu : s == "cpu" ? ParticlePath::kCpu : ParticlePath::kAuto;
}

OptionValue get_raster(const RunConfig& c) {
  switch (c.engine.raster) {
    case RasterPath::kQuads: return std::string("quads");
    case RasterPath::kSplat: return std::string("splat");
    case RasterPath::kAuto: break;
  }
  return std::string("auto");
}
void set_raster(RunConfig& c, const OptionValue& v) {
  const std::string& s = std::get<std::string>(v);
  c.engine.raster = s == "quads" ? RasterPath::kQuads : s == "splat" ? RasterPath::kSplat : RasterPath::kAuto;
}

constexpr double kMaxFrames = 1099511627776.0;  // 2^40
constexpr double kMaxParticles = 16777216.0;    // 2^24: what the layout zone sizes for

constexpr std::uint8_t kNode = kApiHost | kCliHost;
constexpr std::uint8_t kCommandLines = kCliHost | kNativeCliHost;

// Rows: key, flag, type, hosts, plan, internal, min, max, choices, value name, help, default text, get, set.
constexpr RunOption kOptions[] = {
    {"scene", "scene", OptionType::kChoice, kCommandLines, false, false, 0, 0, "particles", "NAME",
     "the scene to run", "", &get_field<&RunConfig::scene>, &set_field<&RunConfig::scene>},
    {"kernel", "kernel", OptionType::kText, kNode, false, false, 0, 0, "", "FILE",
     "a custom kernel: a .wasm, or a .c or .ts source built first (see 'triptych kernel')", "the built-in particle kernel",
     &get_field<&RunConfig::kernel>, &set_field<&RunConfig::kernel>},
    {"particles", "particles", OptionType::kInteger, kEveryHost, false, false, 1, kMaxParticles, "", "N",
     "particles", "", &get_field<&EngineConfig::particles>, &set_field<&EngineConfig::particles>},
    {"hz", "hz", OptionType::kNumber, kEveryHost, false, false, 0, 1000, "", "RATE",
     "target frame rate; 0 = as fast as possible", "", &get_field<&EngineConfig::hz>,
     &set_field<&EngineConfig::hz>},
    {"seconds", "seconds", OptionType::kNumber, kEveryHost, false, false, 0, 86400, "", "S",
     "run for S wall-clock seconds, at any rate; 0 = until stopped (Ctrl-C)", "",
     &get_field<&EngineConfig::seconds>, &set_field<&EngineConfig::seconds>},
    {"frames", "frames", OptionType::kInteger, kEveryHost, false, false, 0, kMaxFrames, "", "N",
     "... or for N frames instead", "none: --seconds ends the run",
     &get_field<&EngineConfig::frames>, &set_field<&EngineConfig::frames>},
    {"workers", "workers", OptionType::kInteger, kEveryHost, false, false, 0, 1024, "", "N",
     "compute workers", "one per compute CPU of the plan", &get_field<&EngineConfig::workers>,
     &set_field<&EngineConfig::workers>},
    {"grain", "grain", OptionType::kInteger, kEveryHost, false, false, 1, kMaxParticles, "", "N",
     "particles per compute chunk", "", &get_field<&EngineConfig::grain>, &set_field<&EngineConfig::grain>},
    {"renderer", "renderer", OptionType::kChoice, kEveryHost, false, false, 0, 0, "auto|vulkan|cpu", "KIND",
     "the render stage: auto (Vulkan; where its only device is a software rasteriser, the faster of it and "
     "the CPU reference over a short warm-up), Vulkan, or the CPU reference",
     "", &get_renderer, &set_renderer},
    {"present", "present", OptionType::kChoice, kEveryHost, false, false, 0, 0, "auto|window|offscreen", "WHERE",
     "where frames are shown: a window (Vulkan swapchain, frames paced at --hz; keys: Esc or Q ends the run, "
     "P or Space pauses and resumes, N or Right steps one frame while paused, H toggles the HUD, "
     "+ (or = or keypad +) doubles and - (or keypad -) halves the particles simulated, between "
     "max(1000, N/64) and --particles N), "
     "offscreen (readback only), or auto (a window when a display is there, else offscreen, saying why)",
     "", &get_present, &set_present},
    {"hud", "hud", OptionType::kChoice, kEveryHost, false, false, 0, 0, "on|off", "on|off",
     "in a window, the HUD: fps, a 240-frame frame-time strip with 8.33/16.67 ms guides, per-stage bars, "
     "misses, drops and what the governor sheds (key H toggles it)", "", &get_hud, &set_hud},
    {"clock", "clock", OptionType::kChoice, kEveryHost, false, false, 0, 0, "presenter|frame-loop", "OWNER",
     "in a window, whose deadlines pace the frames: the presenter's (each frame handed over at its present "
     "deadline - p99 of render work - 1.65 ms, its compute issued just before) or the frame loop's own "
     "(stages follow each frame at once); offscreen it is always the frame loop's", "", &get_clock, &set_clock},
    {"governor", "governor", OptionType::kChoice, kEveryHost, false, false, 0, 0, "on|off", "on|off",
     "the deadline governor: sheds resolution, then particles drawn, then frame rate to keep frames on time, "
     "and restores them (never the simulation)", "", &get_governor, &set_governor},
    {"adaptivePlan", "adaptive-plan", OptionType::kChoice, kEveryHost, false, false, 0, 0, "on|off", "on|off",
     "the adaptive core plan: moves CPUs between the compute and render pools by the measured stage times, "
     "with hysteresis, starting from the static plan", "", &get_adaptive_plan, &set_adaptive_plan},
    {"device", "device", OptionType::kText, kEveryHost, false, false, 0, 0, "", "NAME",
     "Vulkan device name substring (see 'triptych info')", "the best usable device",
     &get_field<&EngineConfig::device>, &set_field<&EngineConfig::device>},
    {"isolate", "isolate", OptionType::kSwitch, kEveryHost, false, false, 0, 0, "", "",
     "render in a supervised render process of its own (Vulkan there with --renderer vulkan, else the CPU reference): a renderer crash costs "
     "the frames it held, never the host; 3 crashes within 10 s fall back to the in-process renderer",
     "", &get_field<&EngineConfig::isolate>, &set_field<&EngineConfig::isolate>},
    {"validation", "validation", OptionType::kSwitch, kEveryHost, false, false, 0, 0, "", "",
     "Khronos validation layer; any message fails the run", "", &get_field<&EngineConfig::validation>,
     &set_field<&EngineConfig::validation>},
    {"width", "width", OptionType::kInteger, kEveryHost, false, false, 1, 8192, "", "W",
     "render target width in pixels", "", &get_field<&EngineConfig::width>, &set_field<&EngineConfig::width>},
    {"height", "height", OptionType::kInteger, kEveryHost, false, false, 1, 8192, "", "H",
     "render target height in pixels", "", &get_field<&EngineConfig::height>,
     &set_field<&EngineConfig::height>},
    {"particlePath", "particle-path", OptionType::kChoice, kEveryHost, false, false, 0, 0, "auto|gpu|cpu", "PATH",
     "who checks and places particles: the GPU straight from the compute slots, or the CPU layout pass; "
     "auto: the GPU where the device can import the slots", "", &get_particle_path, &set_particle_path},
    {"raster", "raster", OptionType::kChoice, kEveryHost, false, false, 0, 0, "auto|quads|splat", "PATH",
     "how the Vulkan stage draws particles: quads (vertex and fragment stages) or splat (compute shaders only, "
     "binned into tiles); auto: the faster in a short start-up measurement on the device (a software "
     "rasteriser takes quads)", "", &get_raster, &set_raster},
    {"framesInFlight", "frames-in-flight", OptionType::kInteger, kEveryHost, false, false, 1, 3, "", "N",
     "frames the Vulkan render stage works on at once (render N+1 while N is read back)", "",
     &get_field<&EngineConfig::frames_in_flight>, &set_field<&EngineConfig::frames_in_flight>},
    {"lag", "lag", OptionType::kChoice, kEveryHost, false, false, 0, 0, "wait|drop", "POLICY",
     "when render lags: compute waits, or its unread frames drop", "", &get_lag, &set_lag},
    {"compute", "compute", OptionType::kChoice, kNode, false, false, 0, 0, "wasm|native|copy-in", "KIND",
     "wasm: the kernel on pinned workers; native: the C kernel compiled in, for comparison "
     "(copy-in: the copy baseline's feed, set by --baseline)",
     "", &get_field<&RunConfig::compute>, &set_field<&RunConfig::compute>},
    {"baseline", "baseline", OptionType::kChoice, kCliHost, false, false, 0, 0, "copy", "copy",
     "the same scene the way a typical Electron app moves data: postMessage clones, "
     "a staging buffer, staging upload and readback",
     "off", &get_field<&RunConfig::baseline>, &set_field<&RunConfig::baseline>},
    {"watch", "watch", OptionType::kSwitch, kCliHost, false, false, 0, 0, "", "",
     "with --kernel: rebuild (a .c or .ts source) or reload (a .wasm) the kernel when its file changes "
     "and swap it in at a frame boundary",
     "", &get_field<&RunConfig::watch>, &set_field<&RunConfig::watch>},
    {"seed", "seed", OptionType::kInteger, kEveryHost, false, false, 0, 4294967295.0, "", "N",
     "initial particle placement", "", &get_field<&EngineConfig::seed>, &set_field<&EngineConfig::seed>},
    {"wasmTier", "wasm-tier", OptionType::kChoice, kNode, false, false, 0, 0, "eager|lazy", "MODE",
     "V8 tiering for the kernel: eager compiles optimised code up front", "",
     &get_field<&RunConfig::wasm_tier>, &set_field<&RunConfig::wasm_tier>},
    {"deadlineMs", "deadline-ms", OptionType::kInteger, kNode, false, false, 1, 600000, "", "MS",
     "a chunk running longer fails its frame; its worker is replaced", "",
     &get_field<&RunConfig::deadline_ms>, &set_field<&RunConfig::deadline_ms>},
    {"workerHeapMb", "worker-heap-mb", OptionType::kInteger, kNode, false, false, 0, 65536, "", "MB",
     "each WASM worker's JS heap limit; 0 = V8's default", "", &get_field<&RunConfig::worker_heap_mb>,
     &set_field<&RunConfig::worker_heap_mb>},
    {"hostPresents", "host-presents", OptionType::kSwitch, kApiHost, false, false, 0, 0, "", "",
     "the UI takes each finished frame with copyResult()", "", &get_field<&EngineConfig::host_presents>,
     &set_field<&EngineConfig::host_presents>},
    {"headless", "headless", OptionType::kSwitch, kCommandLines, false, false, 0, 0, "", "",
     "never open a window: the same as --present offscreen", "",
     &get_field<&RunConfig::headless>, &set_field<&RunConfig::headless>},
    {"out", "out", OptionType::kText, kCommandLines, false, false, 0, 0, "", "DIR",
     "write trace.json report.html frames.csv stats.json snapshot.png there",
     "out, when no single-file option is given", &get_field<&RunOutputs::dir>, &set_field<&RunOutputs::dir>},
    {"trace", "trace", OptionType::kText, kCommandLines, false, false, 0, 0, "", "FILE",
     "write only the named files (likewise --report, --csv, --stats, --snapshot)", "",
     &get_field<&RunOutputs::trace>, &set_field<&RunOutputs::trace>},
    {"report", "report", OptionType::kText, kCommandLines, false, true, 0, 0, "", "FILE", "the HTML report", "",
     &get_field<&RunOutputs::report>, &set_field<&RunOutputs::report>},
    {"csv", "csv", OptionType::kText, kCommandLines, false, true, 0, 0, "", "FILE", "per-frame CSV", "",
     &get_field<&RunOutputs::csv>, &set_field<&RunOutputs::csv>},
    {"stats", "stats", OptionType::kText, kCommandLines, false, true, 0, 0, "", "FILE", "summary JSON", "",
     &get_field<&RunOutputs::stats>, &set_field<&RunOutputs::stats>},
    {"snapshot", "snapshot", OptionType::kText, kCommandLines, false, true, 0, 0, "", "FILE", "last frame PNG", "",
     &get_field<&RunOutputs::snapshot>, &set_field<&RunOutputs::snapshot>},
    {"quiet", "quiet", OptionType::kSwitch, kCommandLines, false, false, 0, 0, "", "",
     "no live status line", "", &get_field<&RunConfig::quiet>, &set_field<&RunConfig::quiet>},
    // The core plan's overrides (`plan: {...}` in the JS API).
    {"topology", "topology", OptionType::kText, kEveryHost, true, false, 0, 0, "", "FILE",
     "plan for the machine in this hwloc XML file (lstopo --of xml)", "this machine",
     &get_field<&RunConfig::topology_file>, &set_field<&RunConfig::topology_file>},
    {"reservedCores", "reserved-cores", OptionType::kInteger, kEveryHost, true, false, 0, 4096, "", "N",
     "cores reserved for the orchestrator, UI and OS", "1-3, by machine size",
     &get_field<&sched::PlanPolicy::reserved_cores>, &set_field<&sched::PlanPolicy::reserved_cores>},
    {"computeThreads", "compute-threads", OptionType::kInteger, kEveryHost, true, false, 1, 4096, "", "N",
     "compute (worker) threads", "the plan's", &get_field<&sched::PlanPolicy::compute_threads>,
     &set_field<&sched::PlanPolicy::compute_threads>},
    {"renderThreads", "render-threads", OptionType::kInteger, kEveryHost, true, false, 1, 4096, "", "N",
     "render pool threads", "the plan's", &get_field<&sched::PlanPolicy::render_threads>,
     &set_field<&sched::PlanPolicy::render_threads>},
    {"reservedCpus", "reserved-cpus", OptionType::kCpuList, kEveryHost, true, false, 0, 0, "", "LIST",
     "explicit CPU lists, e.g. 0-2 (likewise --compute-cpus, --render-cpus)", "",
     &get_field<&sched::PlanPolicy::reserved_cpus>, &set_field<&sched::PlanPolicy::reserved_cpus>},
    {"computeCpus", "compute-cpus", OptionType::kCpuList, kEveryHost, true, true, 0, 0, "", "LIST",
     "the compute pool's CPUs", "", &get_field<&sched::PlanPolicy::compute_cpus>,
     &set_field<&sched::PlanPolicy::compute_cpus>},
    {"renderCpus", "render-cpus", OptionType::kCpuList, kEveryHost, true, true, 0, 0, "", "LIST",
     "the render pool's CPUs", "", &get_field<&sched::PlanPolicy::render_cpus>,
     &set_field<&sched::PlanPolicy::render_cpus>},
    {"smt", "smt", OptionType::kSwitch, kEveryHost, true, false, 0, 0, "", "",
     "one thread per hardware thread instead of per core", "", &get_field<&sched::PlanPolicy::use_smt>,
     &set_field<&sched::PlanPolicy::use_smt>},
    {"oversubscribe", "oversubscribe", OptionType::kSwitch, kEveryHost, true, false, 0, 0, "", "",
     "allow more threads than CPUs (warns)", "", &get_field<&sched::PlanPolicy::allow_oversubscribe>,
     &set_field<&sched::PlanPolicy::allow_oversubscribe>},
    // Set by the hosts themselves and by tests.
    {"deviceIndex", "device-index", OptionType::kInteger, kApiHost, false, true, -1, 1024, "", "I",
     "explicit Vulkan device index; -1 = by name or rank", "", &get_field<&EngineConfig::device_index>,
     &set_field<&EngineConfig::device_index>},
    {"workerStackBytes", "worker-stack-bytes", OptionType::kInteger, kApiHost, false, true, 4096,
     67108864.0, "", "B", "each WASM worker's stack", "", &get_field<&EngineConfig::worker_stack_bytes>,
     &set_field<&EngineConfig::worker_stack_bytes>},
    {"kernelStaticBytes", "kernel-static-bytes", OptionType::kInteger, kApiHost, false, true, 0, 2147483648.0,
     "", "B", "the kernel's data, module stack and context", "", &get_field<&EngineConfig::kernel_static_bytes>,
     &set_field<&EngineConfig::kernel_static_bytes>},
    {"traceCapacity", "trace-capacity", OptionType::kInteger, kApiHost, false, true, 0, kMaxParticles, "", "N",
     "frames kept in the trace table; 0 = fit the run", "", &get_field<&EngineConfig::trace_capacity>,
     &set_field<&EngineConfig::trace_capacity>},
    {"staging", "staging", OptionType::kSwitch, kApiHost, false, true, 0, 0, "", "",
     "copy through staging buffers instead of importing the arena", "", &get_field<&EngineConfig::staging>,
     &set_field<&EngineConfig::staging>},
};
static_assert(std::size(kOptions) <= 64, "RunConfig::given has one bit per option");

std::size_t index_of(const RunOption& option) { return static_cast<std::size_t>(&option - kOptions); }

std::string name_of(const RunOption& o, OptionNaming naming) {
  return naming == OptionNaming::kFlag ? "--" + std::string(o.flag) : std::string(o.key);
}

std::string number_text(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.15g", d);
  return buf;
}

std::string value_text(const OptionValue& v) {
  if (std::holds_alternative<bool>(v)) return std::get<bool>(v) ? "true" : "false";
  if (std::holds_alternative<double>(v)) return number_text(std::get<double>(v));
  if (std::holds_alternative<std::string>(v)) return "'" + std::get<std::string>(v) + "'";
  return "nothing";
}

bool is_choice(std::string_view choices, std::string_view s) {
  while (!choices.empty()) {
    const auto bar = choices.find('|');
    if (choices.substr(0, bar) == s) return true;
    if (bar == std::string_view::npos) break;
    choices.remove_prefix(bar + 1);
  }
  return false;
}

std::string choice_list(std::string_view choices) {
  std::string out;
  for (char c : choices) out += c == '|' ? std::string(", ") : std::string(1, c);
  return out;
}

}  // namespace

std::span<const RunOption> run_options() noexcept { return kOptions; }

const RunOption* option_by_key(std::string_view key) noexcept {
  for (const RunOption& o : kOptions) {
    if (o.key == key) return &o;
  }
  return nullptr;
}

const RunOption* option_by_flag(std::string_view flag) noexcept {
  for (const RunOption& o : kOptions) {
    if (o.flag == flag) return &o;
  }
  return nullptr;
}

Result<void> check_option(const RunOption& o, const OptionValue& v, OptionNaming naming) {
  const std::string name = name_of(o, naming);
  auto bad = [&](const std::string& expected) {
    return make_error(Errc::kBadOption, name + " must be " + expected + ", got " + value_text(v));
  };
  switch (o.type) {
    case OptionType::kInteger:
    case OptionType::kNumber: {
      const bool integer = o.type == OptionType::kInteger;
      const std::string range = "[" + number_text(o.min) + ", " + number_text(o.max) + "]";
      const std::string expected = (integer ? "an integer in " : "a number in ") + range;
      if (!std::holds_alternative<double>(v)) return bad(expected);
      const double d = std::get<double>(v);
      if (!std::isfinite(d) || d < o.min || d > o.max || (integer && std::trunc(d) != d)) return bad(expected);
      return {};
    }
    case OptionType::kChoice:
      if (!std::holds_alternative<std::string>(v) || !is_choice(o.choices, std::get<std::string>(v))) {
        return bad("one of " + choice_list(o.choices));
      }
      return {};
    case OptionType::kSwitch:
      if (!std::holds_alternative<bool>(v)) return bad("true or false");
      return {};
    case OptionType::kText:
      if (!std::holds_alternative<std::string>(v)) return bad("text");
      return {};
    case OptionType::kCpuList: {
      if (!std::holds_alternative<std::string>(v)) return bad("a CPU list such as 0-3,8");
      if (auto set = sched::CpuSet::parse(std::get<std::string>(v)); !set) {
        return make_error(Errc::kBadOption, name + ": " + set.error().message);
      }
      return {};
    }
  }
  return bad("valid");
}

Result<OptionValue> parse_option_text(const RunOption& o, std::string_view text) {
  OptionValue v{std::string(text)};
  if (o.type == OptionType::kSwitch) {
    if (text == "true" || text == "1" || text == "on") v = true;
    else if (text == "false" || text == "0" || text == "off") v = false;
  } else if (o.type == OptionType::kInteger || o.type == OptionType::kNumber) {
    const std::string s(text);
    char* end = nullptr;
    const double d = s.empty() ? 0.0 : std::strtod(s.c_str(), &end);
    // Whole text only, decimal only ("0x10", "1e3" for a count read oddly).
    const bool decimal = s.find_first_of("xXpP") == std::string::npos;
    if (!s.empty() && end != nullptr && *end == '\0' && decimal) v = d;
  }
  if (auto ok = check_option(o, v, OptionNaming::kFlag); !ok) return ok.error();
  return v;
}

bool was_given(const RunConfig& c, const RunOption& o) noexcept {
  return (c.given >> index_of(o) & 1U) != 0;
}

Result<void> set_option(RunConfig& c, const RunOption& o, const OptionValue& v, RunHost host,
                        OptionNaming naming) {
  if ((o.hosts & host) == 0) {
    return make_error(Errc::kBadOption, name_of(o, naming) + " is not an option of this host");
  }
  if (std::holds_alternative<std::monostate>(v)) return {};
  if (auto ok = check_option(o, v, naming); !ok) return ok.error();
  o.set(c, v);
  c.given |= std::uint64_t{1} << index_of(o);
  return {};
}

Result<void> finish_run_config(RunConfig& c) {
  // A frame count ends the run instead of the clock; 0 for either is "no limit
  // from this one", so a normalised config (frames 0, seconds 10) reads back the same.
  const bool frames_given = was_given(c, *option_by_key("frames")) && c.engine.frames != 0;
  if (frames_given && was_given(c, *option_by_key("seconds")) && c.engine.seconds != 0) {
    return make_error(Errc::kBadOption, "seconds and frames each end a run: give one of them, not both");
  }
  if (frames_given) c.engine.seconds = 0;
  if (c.headless) {
    if (was_given(c, *option_by_key("present")) && c.engine.present != PresentTarget::kOffscreen) {
      return make_error(Errc::kBadOption, "--headless never opens a window: drop it, or drop --present");
    }
    c.engine.present = PresentTarget::kOffscreen;
  }
  if (c.compute == "native" && !c.kernel.empty()) {
    return make_error(Errc::kBadOption,
                      "compute 'native' runs the particle kernel compiled into the engine, not a .wasm: "
                      "drop the kernel, or use compute 'wasm' to run " + c.kernel);
  }
  if (c.watch && c.kernel.empty()) {
    return make_error(Errc::kBadOption, "--watch needs --kernel FILE (a .wasm, or a .c or .ts source to build)");
  }
  if (c.watch && !c.baseline.empty()) {
    return make_error(Errc::kBadOption,
                      "--watch swaps kernels in the zero-copy engine; the copy baseline cannot (drop --baseline)");
  }
  if (!c.baseline.empty() && c.compute != "wasm") {
    return make_error(Errc::kBadOption, "the copy baseline runs the WASM kernel; drop compute '" + c.compute + "'");
  }
  return {};
}

Result<sched::CorePlan> plan_for(const RunConfig& c) {
  sched::TopologyOptions topo_opts;
  topo_opts.xml_file = c.topology_file;
  auto topo = sched::Topology::load(topo_opts);
  if (!topo) return topo.error();
  sched::PlanPolicy policy = c.plan_policy;
  if (auto env = sched::apply_env(policy); !env) return env.error();
  return sched::plan_cores(topo.value(), policy);
}

RunOutputs output_files(const RunOutputs& asked) {
  RunOutputs files = asked;
  const bool single = !asked.trace.empty() || !asked.report.empty() || !asked.csv.empty() ||
                      !asked.stats.empty() || !asked.snapshot.empty();
  if (files.dir.empty() && !single) files.dir = "out";
  if (files.dir.empty()) return files;
  const std::pair<std::string*, const char*> usual[] = {{&files.trace, "trace.json"}, {&files.report, "report.html"},
                                                        {&files.csv, "frames.csv"},   {&files.stats, "stats.json"},
                                                        {&files.snapshot, "snapshot.png"}};
  for (const auto& [file, name] : usual) {
    if (file->empty()) *file = files.dir + "/" + name;
  }
  return files;
}

std::string default_text(const RunOption& o) {
  if (!o.default_text.empty()) return std::string(o.default_text);
  const OptionValue v = o.get(RunConfig{});
  if (std::holds_alternative<double>(v)) return number_text(std::get<double>(v));
  if (std::holds_alternative<std::string>(v)) return std::get<std::string>(v);
  return "";  // switches are off; unset overrides have no default
}

std::string options_help(RunHost host, bool plan_only) {
  std::string out;
  for (const RunOption& o : kOptions) {
    if ((o.hosts & host) == 0 || o.internal || o.plan != plan_only) continue;
    std::string lead = "  --" + std::string(o.flag);
    if (o.type != OptionType::kSwitch) lead += " " + std::string(o.type == OptionType::kChoice && o.value_name.empty() ? "X" : o.value_name);
    if (lead.size() < 26) lead.resize(26, ' ');
    else lead += "  ";
    std::string line = lead + std::string(o.help);
    if (o.type == OptionType::kChoice) line += " (" + choice_list(o.choices) + ")";
    if (const std::string d = default_text(o); !d.empty()) line += " [default: " + d + "]";
    out += line + "\n";
  }
  return out;
}

Result<void> check_engine_config(const EngineConfig& config) {
  RunConfig c;
  c.engine = config;
  const RunConfig defaults;
  // Only the engine's fields differ from the defaults, which pass by
  // construction (tests/pipeline/run_options_test.cpp checks every one).
  for (const RunOption& o : kOptions) {
    const OptionValue v = o.get(c);
    if (v == o.get(defaults)) continue;
    if (auto ok = check_option(o, v); !ok) return ok.error();
  }
  return {};
}

}  // namespace triptych::pipeline
