// SPDX-License-Identifier: Apache-2.0
// The triptych Node-API addon's entry: per-instance state in Napi::Addon (no
// statics), so several engines can live in one process, and it loads
// unchanged in Electron. It never creates external buffers: JS allocates
// memory (a shared WebAssembly.Memory), C++ adopts it through
// napi_get_typedarray_info. Exports the Engine class (engine_wrap.hpp), the
// option reports (options.hpp), the compute-member calls of this instance's
// ComputeMembership (compute_membership.hpp), and thread pinning, the clock and the
// device list here. computeTake blocks natively (a futex wait): worker
// threads only; the rest return promptly. Test and benchmark entry points
// live in the separate triptych_testing.node (testing/). Design: docs/node.md.
#include <napi.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <string>

#include "args.hpp"
#include "compute_membership.hpp"
#include "engine_wrap.hpp"
#include "options.hpp"
#include "triptych/pipeline/devices.hpp"
#include "triptych/pipeline/frame_pacer.hpp"
#include "triptych/trace/clock.hpp"
#include "triptych/trace/spans.hpp"
#include "triptych_kernel.h"

namespace triptych::node {
namespace {

// devices() -> [{index, name, type, usable, hostImport, apiVersion, picked,
// why}]: the render devices this machine offers; `picked` marks the one an
// engine takes by default, `why` says why (or why not).
Napi::Value Devices(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto devices = pipeline::render_devices();
  if (!devices) throw_error(env, devices.error());
  auto arr = Napi::Array::New(env);
  std::uint32_t n = 0;
  for (const auto& d : devices.value()) {
    auto o = Napi::Object::New(env);
    o.Set("index", Napi::Number::New(env, d.index));
    o.Set("name", Napi::String::New(env, d.name));
    o.Set("type", Napi::String::New(env, d.type));
    o.Set("usable", Napi::Boolean::New(env, d.usable));
    o.Set("hostImport", Napi::Boolean::New(env, d.host_import));
    o.Set("apiVersion", Napi::String::New(env, d.api_version));
    o.Set("picked", Napi::Boolean::New(env, d.picked));
    o.Set("why", Napi::String::New(env, d.why));
    arr.Set(n++, o);
  }
  return arr;
}

// presentProbe() -> {window, why}: where `present: 'auto'` would show frames.
Napi::Value PresentProbe(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const pipeline::PresentProbe p = pipeline::present_probe();
  auto o = Napi::Object::New(env);
  o.Set("window", Napi::Boolean::New(env, p.window));
  o.Set("why", Napi::String::New(env, p.why));
  return o;
}

// nowNs() -> BigInt: CLOCK_MONOTONIC, the clock of every trace stamp.
Napi::Value NowNs(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<std::uint64_t>(trace::now_ns()));
}

// The spans JS may record (traceSpan): hot-swap's, on the thread that swaps.
constexpr trace::SourceLocation kKernelBuildSpan{"kernel build", "Engine.swapKernel", "node/lib/index.mjs", 0};
constexpr trace::SourceLocation kKernelSwapSpan{"kernel swap", "Engine.swapKernel", "node/lib/index.mjs", 0};

// traceSpan(name, beginNs, endNs): records a finished span on the calling
// thread (named "node main" in traces), in the trace clock (nowNs). `name`
// is one of the spans above.
Napi::Value TraceSpan(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::string name = string_or(info[0], "");
  const trace::SourceLocation* loc = name == kKernelBuildSpan.name  ? &kKernelBuildSpan
                                     : name == kKernelSwapSpan.name ? &kKernelSwapSpan
                                                                    : nullptr;
  if (loc == nullptr) throw Napi::RangeError::New(env, "traceSpan: unknown span '" + name + "'");
  const std::uint64_t begin = to_u64(env, info[1], "beginNs");
  const std::uint64_t end = to_u64(env, info[2], "endNs");
  if (end < begin) throw Napi::RangeError::New(env, "traceSpan: endNs is before beginNs");
  if (trace::enabled()) {
    trace::set_thread_name("node main");
    (void)trace::this_thread_trace().push(trace::SpanEvent{loc, begin, end, 0, 0});
  }
  return env.Undefined();
}

// new FramePacer(periodNs: bigint): the native frame loop's pacing
// (pipeline::FramePacer) for a JS frame loop (the copy baseline): paced,
// deadlineNs (bigint, the trace clock) and startFrame(), which reads the clock.
class FramePacerWrap : public Napi::ObjectWrap<FramePacerWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FramePacer",
                       {InstanceAccessor<&FramePacerWrap::Paced>("paced"),
                        InstanceAccessor<&FramePacerWrap::DeadlineNs>("deadlineNs"),
                        InstanceMethod<&FramePacerWrap::StartFrame>("startFrame")});
  }
  explicit FramePacerWrap(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<FramePacerWrap>(info),
        pacer_(to_u64(info.Env(), info[0], "periodNs"), static_cast<std::uint64_t>(trace::now_ns())) {}

 private:
  Napi::Value Paced(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), pacer_.paced()); }
  Napi::Value DeadlineNs(const Napi::CallbackInfo& info) { return Napi::BigInt::New(info.Env(), pacer_.deadline_ns()); }
  void StartFrame(const Napi::CallbackInfo&) { pacer_.start_frame(static_cast<std::uint64_t>(trace::now_ns())); }

  pipeline::FramePacer pacer_;
};

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    exports.Set("Engine", EngineWrap::Define(env));
    exports.Set("runOptions", Napi::Function::New(env, RunOptions, "runOptions"));
    exports.Set("optionsHelp", Napi::Function::New(env, OptionsHelp, "optionsHelp"));
    exports.Set("normaliseRunOptions", Napi::Function::New(env, NormaliseRunOptions, "normaliseRunOptions"));
    exports.Set("prepareEngine", Napi::Function::New(env, PrepareEngine, "prepareEngine"));
    exports.Set("plan", Napi::Function::New(env, Plan, "plan"));
    exports.Set("devices", Napi::Function::New(env, Devices, "devices"));
    exports.Set("presentProbe", Napi::Function::New(env, PresentProbe, "presentProbe"));
    exports.Set("FramePacer", FramePacerWrap::Define(env));
    exports.Set("kernelAbiVersion", Napi::Number::New(env, TP_KERNEL_ABI_VERSION));
    exports.Set("nowNs", Napi::Function::New(env, NowNs, "nowNs"));
    exports.Set("traceSpan", Napi::Function::New(env, TraceSpan, "traceSpan"));
    DefineAddon(exports, {
        InstanceMethod("computeJoin", &Addon::ComputeJoin),
        InstanceMethod("computeTake", &Addon::ComputeTake),
        InstanceMethod("computeComplete", &Addon::ComputeComplete),
        InstanceMethod("computeLeave", &Addon::ComputeLeave),
        InstanceMethod("pinThread", &Addon::PinThread),
        InstanceMethod("threadInfo", &Addon::ThreadInfo),
    });
  }

 private:
  // The compute-pool membership of this instance's thread (a Node worker).
  ComputeMembership compute_;
  Napi::Value ComputeJoin(const Napi::CallbackInfo& info) { return compute_.Join(info); }
  Napi::Value ComputeTake(const Napi::CallbackInfo& info) { return compute_.Take(info); }
  Napi::Value ComputeComplete(const Napi::CallbackInfo& info) { return compute_.Complete(info); }
  Napi::Value ComputeLeave(const Napi::CallbackInfo& info) { return compute_.Leave(info); }

  // pinThread([cpu, ...]) -> tid: pins the calling OS thread (a worker's).
  Napi::Value PinThread(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "pinThread expects an array of CPU numbers");
    const auto cpus = info[0].As<Napi::Array>();
    cpu_set_t set;
    CPU_ZERO(&set);
    for (std::uint32_t i = 0; i < cpus.Length(); ++i) {
      const std::uint64_t cpu = to_u64(env, cpus.Get(i), "cpu");
      if (cpu >= CPU_SETSIZE) throw Napi::RangeError::New(env, "cpu " + std::to_string(cpu) + " is out of range");
      CPU_SET(static_cast<std::size_t>(cpu), &set);
    }
    if (CPU_COUNT(&set) == 0) throw Napi::RangeError::New(env, "pinThread needs at least one CPU");
    if (sched_setaffinity(0, sizeof(set), &set) != 0) {
      throw Napi::Error::New(env, std::string("sched_setaffinity failed: ") + std::strerror(errno));
    }
    return Napi::Number::New(env, static_cast<double>(syscall(SYS_gettid)));
  }

  // threadInfo() -> {tid, cpus}: the calling thread's id and allowed CPUs.
  Napi::Value ThreadInfo(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0) {
      throw Napi::Error::New(env, std::string("sched_getaffinity failed: ") + std::strerror(errno));
    }
    auto cpus = Napi::Array::New(env);
    std::uint32_t n = 0;
    for (std::size_t cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (CPU_ISSET(cpu, &set)) cpus.Set(n++, Napi::Number::New(env, static_cast<double>(cpu)));
    }
    auto result = Napi::Object::New(env);
    result.Set("tid", Napi::Number::New(env, static_cast<double>(syscall(SYS_gettid))));
    result.Set("cpus", cpus);
    return result;
  }
};

}  // namespace
}  // namespace triptych::node

// NODE_API_ADDON pastes its argument into an identifier: it needs a plain name.
using TriptychAddon = triptych::node::Addon;
NODE_API_ADDON(TriptychAddon)
