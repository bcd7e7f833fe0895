// SPDX-License-Identifier: Apache-2.0
// Engine options from JS (contracts in options.hpp): the core-plan overrides,
// the engine configuration, and the arena layout they give, as JS objects.
// Non-blocking apart from reading a topology file; any JS thread. Design:
// docs/node.md.
#include "options.hpp"

#include <string>

#include "args.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych_kernel.h"

namespace triptych::node {
namespace {

Result<sched::CorePlan> plan_from(const Napi::Object& o) {
  sched::TopologyOptions topo_opts;
  if (auto f = opt_string(o, "topology")) topo_opts.xml_file = *f;
  auto topo = sched::Topology::load(topo_opts);
  if (!topo) return topo.error();
  sched::PlanPolicy policy;
  if (auto env = sched::apply_env(policy); !env) return env.error();
  auto count = [&](const char* key, std::optional<int>& out, std::uint64_t lo) {
    if (o.Get(key).IsUndefined()) return;
    out = static_cast<int>(opt_uint(o, key, 0, lo, 4096));
  };
  count("reservedCores", policy.reserved_cores, 0);
  count("computeThreads", policy.compute_threads, 1);
  count("renderThreads", policy.render_threads, 1);
  auto cpus = [&](const char* key, std::optional<sched::CpuSet>& out) -> Result<void> {
    if (auto s = opt_string(o, key)) {
      auto set = sched::CpuSet::parse(*s);
      if (!set) return make_error(set.error().code, std::string(key) + ": " + set.error().message);
      out = set.value();
    }
    return {};
  };
  if (auto r = cpus("reservedCpus", policy.reserved_cpus); !r) return r.error();
  if (auto r = cpus("computeCpus", policy.compute_cpus); !r) return r.error();
  if (auto r = cpus("renderCpus", policy.render_cpus); !r) return r.error();
  policy.use_smt = opt_bool(o, "smt", false);
  policy.allow_oversubscribe = opt_bool(o, "oversubscribe", false);
  return sched::plan_cores(topo.value(), policy);
}

Napi::Object layout_object(const Napi::Env& env, const ArenaLayout& l) {
  auto o = Napi::Object::New(env);
  o.Set("kernelBytes", Napi::Number::New(env, static_cast<double>(l.kernel_bytes)));
  o.Set("engineBytes", Napi::Number::New(env, static_cast<double>(l.total_bytes)));
  o.Set("stacksOffset", Napi::Number::New(env, static_cast<double>(l.stacks_offset)));
  o.Set("stackStride", Napi::Number::New(env, static_cast<double>(l.stack_stride)));
  o.Set("workers", Napi::Number::New(env, l.spec.worker_stack_count));
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

pipeline::EngineConfig config_from(const Napi::Env& env, const Napi::Object& o) {
  pipeline::EngineConfig c;
  c.particles = static_cast<std::uint32_t>(opt_uint(o, "particles", c.particles, 1, 1u << 24));
  if (auto hz = opt_number(o, "hz")) c.hz = *hz;
  c.frames = opt_uint(o, "frames", c.frames, 0, std::uint64_t{1} << 40);
  c.grain = static_cast<std::uint32_t>(opt_uint(o, "grain", c.grain, 1, 1u << 24));
  c.workers = static_cast<std::uint32_t>(opt_uint(o, "workers", 0, 0, 1024));
  c.width = static_cast<std::uint32_t>(opt_uint(o, "width", c.width, 1, 8192));
  c.height = static_cast<std::uint32_t>(opt_uint(o, "height", c.height, 1, 8192));
  c.seed = static_cast<std::uint32_t>(opt_uint(o, "seed", c.seed, 0, 0xFFFFFFFFu));
  if (!o.Get("deviceIndex").IsUndefined()) c.device_index = static_cast<int>(opt_uint(o, "deviceIndex", 0, 0, 1024));
  if (auto d = opt_string(o, "device")) c.device = *d;
  c.validation = opt_bool(o, "validation", false);
  c.worker_stack_bytes = static_cast<std::uint32_t>(opt_uint(o, "workerStackBytes", c.worker_stack_bytes, 4096, 64u << 20));
  c.kernel_static_bytes = opt_uint(o, "kernelStaticBytes", 0, 0, std::uint64_t{1} << 31);
  c.trace_capacity = static_cast<std::uint32_t>(opt_uint(o, "traceCapacity", 0, 0, 1u << 24));
  const std::string renderer = opt_string(o, "renderer").value_or("vulkan");
  if (renderer == "vulkan") c.renderer = pipeline::RendererKind::kVulkan;
  else if (renderer == "cpu") c.renderer = pipeline::RendererKind::kCpu;
  else throw Napi::RangeError::New(env, "renderer must be 'vulkan' or 'cpu', got '" + renderer + "'");
  const std::string lag = opt_string(o, "lag").value_or("wait");
  if (lag == "wait") c.lag = pipeline::LagPolicy::kWait;
  else if (lag == "drop") c.lag = pipeline::LagPolicy::kDrop;
  else throw Napi::RangeError::New(env, "lag must be 'wait' or 'drop', got '" + lag + "'");
  const std::string compute = opt_string(o, "compute").value_or("wasm");
  if (compute == "wasm") {
    c.compute = pipeline::ComputeBackend::kExternal;
  } else if (compute == "native") {
    c.compute = pipeline::ComputeBackend::kNative;
    c.native_kernel = &tp_kernel_step;
  } else if (compute == "host") {
    c.compute = pipeline::ComputeBackend::kHost;
    c.frames = 0;
  } else {
    throw Napi::RangeError::New(env, "compute must be 'wasm', 'native' or 'host', got '" + compute + "'");
  }
  c.staging = opt_bool(o, "staging", false);
  c.host_presents = opt_bool(o, "hostPresents", false);
  auto plan = plan_from(get_object(env, o.Get("plan"), "plan"));
  if (!plan) throw_error(env, plan.error());
  c.plan = plan.value();
  return c;
}

Napi::Value LayoutFor(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const pipeline::EngineConfig cfg = config_from(env, get_object(env, info[0], "config"));
  auto l = pipeline::Engine::layout_for(cfg);
  if (!l) throw_error(env, l.error());
  auto o = layout_object(env, l.value());
  o.Set("workers", Napi::Number::New(env, static_cast<double>(cfg.workers != 0 ? cfg.workers : cfg.plan.compute.threads.size())));
  return o;
}

// engineDefaults() -> the numbers pipeline::EngineConfig{} starts from, so
// the JS defaults (node/lib/defaults.mjs) can be checked against them.
Napi::Value EngineDefaults(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const pipeline::EngineConfig c;
  auto o = Napi::Object::New(env);
  o.Set("particles", Napi::Number::New(env, c.particles));
  o.Set("hz", Napi::Number::New(env, c.hz));
  o.Set("frames", Napi::Number::New(env, static_cast<double>(c.frames)));
  o.Set("grain", Napi::Number::New(env, c.grain));
  o.Set("workers", Napi::Number::New(env, c.workers));
  o.Set("width", Napi::Number::New(env, c.width));
  o.Set("height", Napi::Number::New(env, c.height));
  o.Set("seed", Napi::Number::New(env, c.seed));
  o.Set("validation", Napi::Boolean::New(env, c.validation));
  o.Set("workerStackBytes", Napi::Number::New(env, c.worker_stack_bytes));
  o.Set("hostPresents", Napi::Boolean::New(env, c.host_presents));
  return o;
}

Napi::Value Plan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto plan = plan_from(get_object(env, info[0], "options"));
  if (!plan) throw_error(env, plan.error());
  auto o = Napi::Object::New(env);
  o.Set("table", Napi::String::New(env, plan->to_table()));
  o.Set("json", Napi::String::New(env, plan->to_json()));
  return o;
}

}  // namespace triptych::node
