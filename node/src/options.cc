// SPDX-License-Identifier: Apache-2.0
// Run options from JS through the one table (contracts in options.hpp): JS
// values become OptionValues, the table checks and stores them, and what
// comes back to JS is read from the table too. Non-blocking apart from
// reading a topology file; any JS thread. Design: docs/node.md.
#include "options.hpp"

#include <string>
#include <utility>

#include "args.hpp"
#include "triptych/pipeline/run_options.hpp"
#include "triptych_kernel.h"

namespace triptych::node {
namespace {

using pipeline::OptionNaming;
using pipeline::OptionValue;
using pipeline::RunConfig;
using pipeline::RunHost;
using pipeline::RunOption;

[[noreturn]] void throw_bad_option(const Napi::Env& env, const std::string& message) {
  throw_error(env, Error{Errc::kBadOption, message});
}

// A JS value as the table takes it; objects and functions are no option's value.
OptionValue option_value(const Napi::Env& env, const Napi::Value& v, const std::string& name) {
  if (v.IsUndefined() || v.IsNull()) return {};
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value();
  if (v.IsNumber()) return v.As<Napi::Number>().DoubleValue();
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  if (v.IsBigInt()) {
    if (auto u = bigint_u64(v); u && *u <= (std::uint64_t{1} << 53)) return static_cast<double>(*u);
  }
  throw_bad_option(env, name + " must be a number, text or a boolean, not " +
                            (v.IsFunction() ? "a function" : v.IsBigInt() ? "a BigInt this large" : "an object"));
}

RunHost host_named(const Napi::Env& env, const Napi::Value& v) {
  const std::string host = string_or(v, "api");
  if (host == "api") return pipeline::kApiHost;
  if (host == "cli") return pipeline::kCliHost;
  throw Napi::RangeError::New(env, "host must be 'api' or 'cli', got '" + host + "'");
}

void set_one(const Napi::Env& env, RunConfig& c, const RunOption& o, const Napi::Value& v, RunHost host,
             OptionNaming naming) {
  const std::string name = naming == OptionNaming::kFlag ? "--" + std::string(o.flag) : std::string(o.key);
  OptionValue value = option_value(env, v, name);
  // Command-line text ("8000", "0-3") is parsed by the table, like triptych-run's argv.
  if (naming == OptionNaming::kFlag && std::holds_alternative<std::string>(value)) {
    auto parsed = pipeline::parse_option_text(o, std::get<std::string>(value));
    if (!parsed) throw_error(env, parsed.error());
    value = std::move(parsed).value();
  }
  if (auto ok = pipeline::set_option(c, o, value, host, naming); !ok) throw_error(env, ok.error());
}

// The JS API's shape: {key: value, ..., plan: {key: value}}; the command
// line's: {flag: text | true} with the plan's flags among the rest.
RunConfig run_config_from(const Napi::Env& env, const Napi::Value& options, RunHost host) {
  RunConfig c;
  const Napi::Object o = get_object(env, options, "options");
  const bool flags = host == pipeline::kCliHost;
  const OptionNaming naming = flags ? OptionNaming::kFlag : OptionNaming::kKey;
  const Napi::Array keys = o.GetPropertyNames();
  for (std::uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).As<Napi::String>().Utf8Value();
    if (!flags && key == "plan") {
      const Napi::Object plan = get_object(env, o.Get(key), "plan");
      const Napi::Array plan_keys = plan.GetPropertyNames();
      for (std::uint32_t j = 0; j < plan_keys.Length(); ++j) {
        const std::string pk = plan_keys.Get(j).As<Napi::String>().Utf8Value();
        const RunOption* po = pipeline::option_by_key(pk);
        if (po == nullptr || !po->plan) throw_bad_option(env, "unknown core plan option 'plan." + pk + "'");
        set_one(env, c, *po, plan.Get(pk), host, naming);
      }
      continue;
    }
    const RunOption* opt = flags ? pipeline::option_by_flag(key) : pipeline::option_by_key(key);
    if (opt == nullptr || (!flags && opt->plan)) {
      throw_bad_option(env, flags ? "unknown option '--" + key + "'"
                                  : "unknown option '" + key + "'" +
                                        (opt != nullptr ? " (core plan options go under 'plan')" : ""));
    }
    set_one(env, c, *opt, o.Get(key), host, naming);
  }
  if (auto ok = pipeline::finish_run_config(c); !ok) throw_error(env, ok.error());
  return c;
}

Napi::Value js_value(const Napi::Env& env, const OptionValue& v) {
  if (std::holds_alternative<bool>(v)) return Napi::Boolean::New(env, std::get<bool>(v));
  if (std::holds_alternative<double>(v)) return Napi::Number::New(env, std::get<double>(v));
  if (std::holds_alternative<std::string>(v)) return Napi::String::New(env, std::get<std::string>(v));
  return env.Undefined();
}

// Every option of `host`, as the JS API spells it (internal ones when given).
Napi::Object options_object(const Napi::Env& env, const RunConfig& c, RunHost host) {
  auto o = Napi::Object::New(env);
  auto plan = Napi::Object::New(env);
  for (const RunOption& opt : pipeline::run_options()) {
    if ((opt.hosts & host) == 0 || (opt.internal && !pipeline::was_given(c, opt))) continue;
    const OptionValue v = opt.get(c);
    if (std::holds_alternative<std::monostate>(v)) continue;
    (opt.plan ? plan : o).Set(std::string(opt.key), js_value(env, v));
  }
  o.Set("plan", plan);
  if (host == pipeline::kCliHost) {
    const pipeline::RunOutputs f = pipeline::output_files(c.outputs);
    auto files = Napi::Object::New(env);
    for (const auto& [name, path] : {std::pair{"trace", &f.trace}, std::pair{"report", &f.report},
                                     std::pair{"csv", &f.csv}, std::pair{"stats", &f.stats},
                                     std::pair{"snapshot", &f.snapshot}}) {
      if (!path->empty()) files.Set(name, *path);
    }
    o.Set("files", files);
  }
  return o;
}

const char* type_name(pipeline::OptionType t) {
  switch (t) {
    case pipeline::OptionType::kInteger: return "integer";
    case pipeline::OptionType::kNumber: return "number";
    case pipeline::OptionType::kChoice: return "choice";
    case pipeline::OptionType::kSwitch: return "switch";
    case pipeline::OptionType::kText: return "text";
    case pipeline::OptionType::kCpuList: return "cpu-list";
  }
  return "text";
}

Napi::Object zone_map_object(const Napi::Env& env, const ZoneMap& l) {
  auto o = Napi::Object::New(env);
  o.Set("kernelBytes", Napi::Number::New(env, static_cast<double>(l.kernel_bytes)));
  o.Set("engineBytes", Napi::Number::New(env, static_cast<double>(l.total_bytes)));
  o.Set("stacksOffset", Napi::Number::New(env, static_cast<double>(l.stacks_offset)));
  o.Set("stackStride", Napi::Number::New(env, static_cast<double>(l.stack_stride)));
  auto zones = Napi::Object::New(env);
  for (std::uint32_t i = 0; i < kZoneCount; ++i) {
    const auto id = static_cast<ZoneId>(i);
    auto z = Napi::Object::New(env);
    z.Set("offset", Napi::Number::New(env, static_cast<double>(l.zone(id).offset)));
    z.Set("size", Napi::Number::New(env, static_cast<double>(l.zone(id).size)));
    z.Set("memory", Napi::String::New(env, in_kernel_memory(id) ? "kernel" : "engine"));
    zones.Set(std::string(zone_name(id)), z);
  }
  o.Set("zones", zones);
  return o;
}

}  // namespace

pipeline::EngineSetup setup_from(const Napi::Env& env, const Napi::Value& options) {
  const RunConfig run = run_config_from(env, options, pipeline::kApiHost);
  pipeline::EngineConfig c = run.engine;
  if (run.compute == "wasm") {
    c.compute = pipeline::ComputeBackend::kExternal;
  } else if (run.compute == "native") {
    c.compute = pipeline::ComputeBackend::kNative;
    c.native_kernel = &tp_kernel_step;
  } else {
    c.compute = pipeline::ComputeBackend::kCopyIn;  // the copy baseline's feed: no frame loop
    c.frames = 0;
    c.seconds = 0;
  }
  auto plan = pipeline::plan_for(run);
  if (!plan) throw_error(env, plan.error());
  c.plan = std::move(plan).value();
  auto setup = pipeline::Engine::prepare(std::move(c));
  if (!setup) throw_error(env, setup.error());
  return std::move(setup).value();
}

Napi::Value RunOptions(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto arr = Napi::Array::New(env);
  std::uint32_t n = 0;
  for (const RunOption& opt : pipeline::run_options()) {
    auto o = Napi::Object::New(env);
    o.Set("key", std::string(opt.key));
    o.Set("flag", std::string(opt.flag));
    o.Set("type", type_name(opt.type));
    auto hosts = Napi::Array::New(env);
    std::uint32_t h = 0;
    if ((opt.hosts & pipeline::kApiHost) != 0) hosts.Set(h++, "api");
    if ((opt.hosts & pipeline::kCliHost) != 0) hosts.Set(h++, "cli");
    if ((opt.hosts & pipeline::kNativeCliHost) != 0) hosts.Set(h++, "native");
    o.Set("hosts", hosts);
    o.Set("plan", opt.plan);
    o.Set("internal", opt.internal);
    if (opt.type == pipeline::OptionType::kInteger || opt.type == pipeline::OptionType::kNumber) {
      o.Set("min", opt.min);
      o.Set("max", opt.max);
    }
    if (!opt.choices.empty()) o.Set("choices", std::string(opt.choices));
    o.Set("valueName", std::string(opt.value_name));
    o.Set("help", std::string(opt.help));
    o.Set("default", pipeline::default_text(opt));
    o.Set("defaultValue", js_value(env, opt.get(RunConfig{})));
    arr.Set(n++, o);
  }
  return arr;
}

Napi::Value OptionsHelp(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  return Napi::String::New(env, pipeline::options_help(host_named(env, info[0]), info[1].ToBoolean().Value()));
}

Napi::Value NormaliseRunOptions(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const RunHost host = host_named(env, info[1]);
  return options_object(env, run_config_from(env, info[0], host), host);
}

Napi::Value PrepareEngine(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto* setup = new pipeline::EngineSetup(setup_from(env, info[0]));
  auto o = Napi::Object::New(env);
  o.Set("zoneMap", zone_map_object(env, setup->zone_map));
  o.Set("workers", Napi::Number::New(env, setup->config.workers));
  o.Set("plan", Napi::String::New(env, setup->config.plan.to_json()));
  o.Set("setup", Napi::External<pipeline::EngineSetup>::New(
                     env, setup, [](Napi::Env, pipeline::EngineSetup* s) { delete s; }));
  return o;
}

Napi::Value Plan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto options = Napi::Object::New(env);
  options.Set("plan", info[0].IsUndefined() ? Napi::Object::New(env) : info[0]);
  const RunConfig run = run_config_from(env, options, pipeline::kApiHost);
  auto plan = pipeline::plan_for(run);
  if (!plan) throw_error(env, plan.error());
  auto o = Napi::Object::New(env);
  o.Set("table", Napi::String::New(env, plan->to_table()));
  o.Set("json", Napi::String::New(env, plan->to_json()));
  return o;
}

}  // namespace triptych::node
