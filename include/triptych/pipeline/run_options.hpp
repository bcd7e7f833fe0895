// SPDX-License-Identifier: Apache-2.0
// The run options, defined once. One table names every option a run takes
// (the engine's, the core plan's, the Node host's and the command lines'),
// with its type, range, default and help line. Every host reads it: the CLI
// (node/bin/triptych.mjs) builds its flags and --help from it, createEngine()
// validates and fills defaults through it (via the addon), and the native
// host (tools/triptych-run) parses argv with it. Engine::create checks an
// EngineConfig against the same ranges. Pure functions; any thread.
// Design: docs/cli.md ("One table of options").
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "triptych/core/result.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych/sched/core_plan.hpp"

namespace triptych::pipeline {

// Which hosts take an option (a bit set).
enum RunHost : std::uint8_t {
  kApiHost = 1,        // createEngine() (node/lib/index.mjs)
  kCliHost = 2,        // `triptych run` (node/bin/triptych.mjs)
  kNativeCliHost = 4,  // triptych-run (tools/triptych-run)
  kEveryHost = kApiHost | kCliHost | kNativeCliHost,
};

enum class OptionType : std::uint8_t {
  kInteger,  // a whole number in [min, max]
  kNumber,   // a finite number in [min, max]
  kChoice,   // one of `choices`
  kSwitch,   // on or off; a bare flag on the command line
  kText,     // any text (a path, a device name)
  kCpuList,  // a CPU list such as 0-3,8
};

// A value as a host gives it: unset, a switch, a number, or text. Empty
// text reads back as unset (no kernel, no device, no baseline).
using OptionValue = std::variant<std::monostate, bool, double, std::string>;

// Where a run writes its files; an empty path skips that file.
struct RunOutputs {
  std::string dir;  // every file below, with its usual name, unless named alone
  std::string trace, report, csv, stats, snapshot;
};

// A run as asked for: the engine's configuration (its core plan still to
// be made by plan_for()), the plan's overrides, and what the hosts do.
struct RunConfig {
  EngineConfig engine;
  sched::PlanPolicy plan_policy;
  std::string topology_file;  // plan for the machine in this hwloc XML file
  // The Node host's (WASM compute).
  std::string kernel;         // "" = the built-in particle kernel
  std::string compute = "wasm";
  std::string wasm_tier = "eager";
  std::uint32_t deadline_ms = 1000;
  std::uint32_t worker_heap_mb = 0;
  // The command lines'.
  std::string scene = "particles";
  std::string baseline;       // "" or "copy"
  bool watch = false;         // `triptych run --watch`: swap the kernel in when its file changes
  bool headless = false;
  bool quiet = false;
  RunOutputs outputs;
  std::uint64_t given = 0;    // bit i: run_options()[i] was set explicitly
};

struct RunOption {
  std::string_view key;         // the JS API's name (plan options sit under `plan`)
  std::string_view flag;        // the command line's, without "--"
  OptionType type;
  std::uint8_t hosts;           // RunHost bits
  bool plan;                    // a core plan override
  bool internal;                // set by hosts and tests; not in --help
  double min, max;              // kInteger, kNumber
  std::string_view choices;     // kChoice: "vulkan|cpu"
  std::string_view value_name;  // "N" in "--particles N"
  std::string_view help;
  std::string_view default_text;  // shown instead of the default value, when not empty
  OptionValue (*get)(const RunConfig&);
  void (*set)(RunConfig&, const OptionValue&);  // only with a value check_option() accepted
};

// Every option, in --help order.
[[nodiscard]] std::span<const RunOption> run_options() noexcept;
// The option with this API key / command-line flag, or nullptr.
[[nodiscard]] const RunOption* option_by_key(std::string_view key) noexcept;
[[nodiscard]] const RunOption* option_by_flag(std::string_view flag) noexcept;

// How an error names an option: as the API key ("particles") or the flag ("--particles").
enum class OptionNaming : std::uint8_t { kKey, kFlag };

// kBadOption unless `value` has the option's type and lies in its range or choices.
[[nodiscard]] Result<void> check_option(const RunOption& option, const OptionValue& value,
                                        OptionNaming naming = OptionNaming::kKey);
// Command-line text to a checked value ("8000" -> 8000.0).
[[nodiscard]] Result<OptionValue> parse_option_text(const RunOption& option, std::string_view text);
// Checks `value` and stores it; the option must be one of `host`'s. Unset
// (monostate) leaves the default in place.
[[nodiscard]] Result<void> set_option(RunConfig& config, const RunOption& option, const OptionValue& value,
                                      RunHost host, OptionNaming naming = OptionNaming::kKey);
[[nodiscard]] bool was_given(const RunConfig& config, const RunOption& option) noexcept;

// The rules between options, after every set_option(): --seconds and
// --frames exclude each other (frames, when given, ends the run instead of
// seconds); --kernel needs WASM compute; the copy baseline runs the WASM
// kernel; --watch needs --kernel and the zero-copy engine.
[[nodiscard]] Result<void> finish_run_config(RunConfig& config);

// The core plan for this run: loads the topology once (the XML file, when
// given), applies the TRIPTYCH_* environment over the overrides and plans.
[[nodiscard]] Result<sched::CorePlan> plan_for(const RunConfig& config);

// The files a run writes: each one named alone, else its usual name in the
// folder (out/ when no file and no folder is named); "" = not written.
[[nodiscard]] RunOutputs output_files(const RunOutputs& asked);

// The options' help lines for `host`, each "  --flag VALUE   help (default D)";
// `plan_only` keeps only the core plan's.
[[nodiscard]] std::string options_help(RunHost host, bool plan_only = false);
// The default of an option as shown in --help and the API's docs ("" when none).
[[nodiscard]] std::string default_text(const RunOption& option);

// Every engine option of `config` against the table's ranges (what
// Engine::prepare checks for hosts that fill an EngineConfig themselves).
[[nodiscard]] Result<void> check_engine_config(const EngineConfig& config);

}  // namespace triptych::pipeline
