// SPDX-License-Identifier: Apache-2.0
// Engine options from JS: config_from() turns an options object into a
// pipeline::EngineConfig (core plan included), and the plan() / layoutFor()
// bindings report what those options would give. Non-blocking apart from
// reading a topology file; main thread (any JS thread may call). Design:
// docs/node.md.
#pragma once

#include <napi.h>

#include "triptych/pipeline/engine.hpp"

namespace triptych::node {

// The engine configuration `o` asks for. Throws a TypeError/RangeError naming
// the bad option, or the native error (with its ERR_TRIPTYCH_* code) when the
// core plan cannot be made.
pipeline::EngineConfig config_from(const Napi::Env& env, const Napi::Object& o);

// layoutFor(config) -> {kernelBytes, engineBytes, stacksOffset, stackStride, workers, zones}
Napi::Value LayoutFor(const Napi::CallbackInfo& info);

// plan(options) -> {table, json}: the core plan for these overrides.
Napi::Value Plan(const Napi::CallbackInfo& info);
// engineDefaults() -> pipeline::EngineConfig{}'s numbers.
Napi::Value EngineDefaults(const Napi::CallbackInfo& info);

}  // namespace triptych::node
