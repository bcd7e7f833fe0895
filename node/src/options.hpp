// SPDX-License-Identifier: Apache-2.0
// Run options from JS, through the one table (pipeline/run_options.hpp): the
// addon reads, checks and defaults every option there, so the CLI, the JS
// API and this addon hold no ranges or defaults of their own. Non-blocking
// apart from reading a topology file (prepareEngine, plan); any JS thread.
// Design: docs/node.md, docs/cli.md ("One table of options").
#pragma once

#include <napi.h>

#include "triptych/pipeline/engine.hpp"

namespace triptych::node {

// The engine setup an options object asks for: the options through the
// table, the core plan (topology loaded once) and the layout (computed once).
// Throws a JS Error with code ERR_TRIPTYCH_BAD_OPTION naming a bad option, or
// the native error's code when the plan or layout cannot be made.
pipeline::EngineSetup setup_from(const Napi::Env& env, const Napi::Value& options);

// runOptions() -> [{key, flag, type, hosts, plan, internal, min, max, choices,
// valueName, help, default (as --help shows it), defaultValue}]: the table,
// for the CLI's flags and the tests.
Napi::Value RunOptions(const Napi::CallbackInfo& info);
// optionsHelp(host 'cli'|'api', planOnly) -> the --help lines.
Napi::Value OptionsHelp(const Napi::CallbackInfo& info);
// normaliseRunOptions(options, host = 'api') -> every option of that host
// with its default filled in, checked; flags from the command line
// (parseArgs' {flag: text | true}) when host is 'cli'.
Napi::Value NormaliseRunOptions(const Napi::CallbackInfo& info);
// prepareEngine(options) -> {zoneMap: {kernelBytes, engineBytes, stacksOffset,
// stackStride, zones}, workers, plan (JSON), setup}: `setup` goes to new Engine(setup, ...).
Napi::Value PrepareEngine(const Napi::CallbackInfo& info);
// plan(overrides) -> {table, json}: the core plan for these overrides.
Napi::Value Plan(const Napi::CallbackInfo& info);

}  // namespace triptych::node
