// SPDX-License-Identifier: Apache-2.0
// JS bindings of the pipeline engine, the core plan and the compute-member
// protocol. The engine lives in a process-wide registry because Node workers
// each load their own addon instance (their own Napi::Addon) yet must join
// the same engine; the registry holds shared ownership and hands out ids,
// never pointers. Control functions run on the main thread; compute-member
// functions block natively and are for worker threads only. See docs/node.md.
#include "engine_binding.hpp"
#include "triptych_kernel.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "triptych/render/vulkan_renderer.hpp"
#include "triptych/sched/topology.hpp"
#include "triptych/trace/clock.hpp"

namespace triptych::node {
namespace {

// ---- the registry -------------------------------------------------------------

struct Registry {
  std::mutex mu;
  std::uint32_t next_id = 1;
  std::unordered_map<std::uint32_t, std::shared_ptr<pipeline::Engine>> engines;
};

// Process-wide on purpose: worker threads' addon instances reach the main
// thread's engine through it. Function-local, so constructed on first use.
Registry& registry() {
  static Registry r;
  return r;
}

std::uint32_t register_engine(std::shared_ptr<pipeline::Engine> engine) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  const std::uint32_t id = r.next_id++;
  r.engines.emplace(id, std::move(engine));
  return id;
}

std::shared_ptr<pipeline::Engine> find_engine(std::uint32_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.engines.find(id);
  return it == r.engines.end() ? nullptr : it->second;
}

std::shared_ptr<pipeline::Engine> unregister_engine(std::uint32_t id) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.engines.find(id);
  if (it == r.engines.end()) return nullptr;
  auto engine = std::move(it->second);
  r.engines.erase(it);
  return engine;
}

// ---- argument helpers ----------------------------------------------------------

std::string errc_code(Errc e) {
  std::string s = "ERR_TRIPTYCH_";
  for (char c : errc_name(e)) s += c == ' ' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

Napi::Object get_object(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (v.IsUndefined()) return Napi::Object::New(env);
  if (!v.IsObject()) throw Napi::TypeError::New(env, std::string(what) + " must be an object");
  return v.As<Napi::Object>();
}

std::optional<double> opt_number(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

std::uint64_t opt_uint(const Napi::Object& o, const char* key, std::uint64_t fallback, std::uint64_t lo,
                       std::uint64_t hi) {
  const auto d = opt_number(o, key);
  if (!d) return fallback;
  if (!(*d >= static_cast<double>(lo) && *d <= static_cast<double>(hi)) ||
      static_cast<double>(static_cast<std::uint64_t>(*d)) != *d) {
    throw Napi::RangeError::New(o.Env(), std::string(key) + " must be an integer in [" + std::to_string(lo) +
                                             ", " + std::to_string(hi) + "], got " + std::to_string(*d));
  }
  return static_cast<std::uint64_t>(*d);
}

std::optional<std::string> opt_string(const Napi::Object& o, const char* key) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return std::nullopt;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a string");
  return v.As<Napi::String>().Utf8Value();
}

bool opt_bool(const Napi::Object& o, const char* key, bool fallback) {
  const Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

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

[[noreturn]] void throw_error(const Napi::Env& env, const Error& e) {
  Napi::Error err = Napi::Error::New(env, e.what());
  err.Set("code", Napi::String::New(env, errc_code(e.code)));
  throw err;
}

// ---- EngineWrap (main thread) -----------------------------------------------------

Napi::Function EngineWrap::Define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {InstanceMethod("start", &EngineWrap::Start), InstanceMethod("stop", &EngineWrap::Stop),
                      InstanceMethod("requestStop", &EngineWrap::RequestStop),
                      InstanceMethod("hostFrame", &EngineWrap::HostFrame),
                      InstanceMethod("copyResult", &EngineWrap::CopyResult),
                      InstanceMethod("status", &EngineWrap::Status),
                      InstanceMethod("writeOutputs", &EngineWrap::WriteOutputs),
                      InstanceMethod("summaryTable", &EngineWrap::SummaryTable),
                      InstanceMethod("close", &EngineWrap::Close),
                      InstanceMethod("closeAsync", &EngineWrap::CloseAsync),
                      InstanceMethod("abandonCompute", &EngineWrap::AbandonCompute),
                      InstanceMethod("failCurrentFrame", &EngineWrap::FailCurrentFrame),
                      InstanceMethod("failures", &EngineWrap::Failures),
                      InstanceAccessor("id", &EngineWrap::Id, nullptr),
                      InstanceAccessor("renderer", &EngineWrap::Renderer, nullptr),
                      InstanceAccessor("workers", &EngineWrap::Workers, nullptr)});
}

// new Engine(config, kernelMemoryView?, engineMemoryView?, placement?)
EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  const Napi::Env env = info.Env();
  const Napi::Object cfg_obj = get_object(env, info[0], "config");
  pipeline::EngineConfig cfg = config_from(env, cfg_obj);
  std::optional<pipeline::ExternalMemory> memory;
  if (cfg.compute == pipeline::ComputeBackend::kExternal) {
    // napi_get_typedarray_info gives the raw address of a SharedArrayBuffer's
    // bytes (napi_get_arraybuffer_info refuses shared buffers).
    auto memory_view = [&env](const Napi::Value& v, const char* what, bool whole) -> std::span<std::byte> {
      if (!v.IsTypedArray()) {
        throw Napi::TypeError::New(env, std::string("WASM compute needs the ") + what +
                                            " (a Uint8Array over a shared WebAssembly.Memory)");
      }
      napi_typedarray_type type{};
      size_t length = 0;
      void* data = nullptr;
      napi_value buffer{};
      size_t byte_offset = 0;
      if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &byte_offset) != napi_ok ||
          data == nullptr) {
        throw Napi::TypeError::New(env, std::string("cannot read the address of the ") + what);
      }
      // The kernel's memory must be viewed whole: its address 0 is WASM address 0.
      if (whole && byte_offset != 0) {
        throw Napi::RangeError::New(env, std::string("the view of the ") + what + " must start at byte 0");
      }
      return {static_cast<std::byte*>(data), v.As<Napi::TypedArray>().ByteLength()};
    };
    const std::span<std::byte> kernel = memory_view(info[1], "kernel's memory", true);
    const std::span<std::byte> engine_memory = memory_view(info[2], "engine's memory", false);
    const Napi::Object placement = get_object(env, info[3], "placement");
    pipeline::ExternalMemory m;
    m.memories.kernel = kernel.data();
    m.memories.kernel_bytes = kernel.size();
    m.memories.engine = engine_memory.data();
    m.memories.engine_bytes = engine_memory.size();
    m.ctx_address = opt_uint(placement, "ctxAddress", 0, 0, std::uint64_t{1} << 32);
    memory = m;
    kernel_memory_ref_ = Napi::Persistent(info[1].As<Napi::Object>());  // keeps the bytes alive
    engine_memory_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
  }
  auto engine = pipeline::Engine::create(cfg, memory);
  if (!engine) throw_error(env, engine.error());
  engine_ = std::shared_ptr<pipeline::Engine>(std::move(engine).value().release());
  id_ = register_engine(engine_);
}

// The finalizer never blocks: an engine still running is asked to stop and
// handed to a detached thread that joins it. Its memories are then kept
// (their references are never deleted) because that thread may still touch
// them; a host that close()s its engines never gets here with one running.
EngineWrap::~EngineWrap() {
  if (!engine_) return;
  (void)unregister_engine(id_);
  std::shared_ptr<pipeline::Engine> engine = std::move(engine_);
  if (!engine->started() || engine->finished()) {
    engine->stop();  // returns at once: nothing runs, or both threads are done
    return;
  }
  engine->request_stop();
  kernel_memory_ref_.SuppressDestruct();
  engine_memory_ref_.SuppressDestruct();
  std::thread([engine = std::move(engine)]() mutable {
    engine->stop();
    engine.reset();
  }).detach();
}

void EngineWrap::release() {
  if (!engine_) return;
  engine_->stop();
  (void)unregister_engine(id_);
  engine_.reset();
}

namespace {
// closeAsync's work: the blocking stop (joining the frame loop and render
// threads) on a libuv pool thread, never the event loop's. The engine and
// its memories stay alive until it is done.
class CloseWork : public Napi::AsyncWorker {
 public:
  CloseWork(Napi::Env env, std::shared_ptr<pipeline::Engine> engine, Napi::ObjectReference kernel_ref,
            Napi::ObjectReference engine_ref)
      : Napi::AsyncWorker(env, "triptych:close"),
        deferred_(Napi::Promise::Deferred::New(env)),
        engine_(std::move(engine)),
        kernel_ref_(std::move(kernel_ref)),
        engine_ref_(std::move(engine_ref)) {}
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Execute() override {
    engine_->stop();
    engine_.reset();  // the last owner: the engine is destroyed here, off the event loop
  }
  void OnOK() override {
    kernel_ref_.Reset();
    engine_ref_.Reset();
    deferred_.Resolve(Env().Undefined());
  }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<pipeline::Engine> engine_;
  Napi::ObjectReference kernel_ref_;
  Napi::ObjectReference engine_ref_;
};
}  // namespace

// closeAsync() -> Promise: unregisters the engine at once (workers can no
// longer join), then stops and releases it off the event loop.
Napi::Value EngineWrap::CloseAsync(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!engine_) {
    auto d = Napi::Promise::Deferred::New(env);
    d.Resolve(env.Undefined());
    return d.Promise();
  }
  (void)unregister_engine(id_);
  std::shared_ptr<pipeline::Engine> engine = std::move(engine_);
  engine->request_stop();
  auto* work = new CloseWork(env, std::move(engine), std::move(kernel_memory_ref_), std::move(engine_memory_ref_));
  const Napi::Promise promise = work->promise();
  work->Queue();
  return promise;
}

// abandonCompute(reason): the host cannot serve compute any more (docs/node.md).
Napi::Value EngineWrap::AbandonCompute(const Napi::CallbackInfo& info) {
  const std::string reason = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "compute abandoned";
  engine(info.Env()).abandon_compute(reason);
  return info.Env().Undefined();
}

// failCurrentFrame(cause): the watchdog's verdict on the frame in progress.
Napi::Value EngineWrap::FailCurrentFrame(const Napi::CallbackInfo& info) {
  const std::string cause = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "failed by the host";
  engine(info.Env()).fail_current_frame(cause);
  return info.Env().Undefined();
}

// failures() -> {kept: [{frame, cause}], notKept}
Napi::Value EngineWrap::Failures(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  std::uint64_t not_kept = 0;
  const auto causes = engine(env).failure_causes(not_kept);
  auto kept = Napi::Array::New(env, causes.size());
  for (std::uint32_t i = 0; i < causes.size(); ++i) {
    auto o = Napi::Object::New(env);
    o.Set("frame", Napi::Number::New(env, static_cast<double>(causes[i].first)));
    o.Set("cause", Napi::String::New(env, causes[i].second));
    kept.Set(i, o);
  }
  auto o = Napi::Object::New(env);
  o.Set("kept", kept);
  o.Set("notKept", Napi::Number::New(env, static_cast<double>(not_kept)));
  return o;
}

pipeline::Engine& EngineWrap::engine(const Napi::Env& env) {
  if (!engine_) throw Napi::Error::New(env, "the engine is closed");
  return *engine_;
}

Napi::Value EngineWrap::Start(const Napi::CallbackInfo& info) {
  if (auto ok = engine(info.Env()).start(); !ok) throw_error(info.Env(), ok.error());
  return info.Env().Undefined();
}

Napi::Value EngineWrap::Stop(const Napi::CallbackInfo& info) {
  engine(info.Env()).stop();
  return info.Env().Undefined();
}

Napi::Value EngineWrap::RequestStop(const Napi::CallbackInfo& info) {
  engine(info.Env()).request_stop();
  return info.Env().Undefined();
}

namespace {
std::span<std::byte> view_bytes(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray()) throw Napi::TypeError::New(env, std::string(what) + " must be a TypedArray");
  napi_typedarray_type type{};
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer{};
  size_t offset = 0;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, &buffer, &offset) != napi_ok) {
    throw Napi::TypeError::New(env, std::string("cannot read ") + what);
  }
  return {static_cast<std::byte*>(data), v.As<Napi::TypedArray>().ByteLength()};
}

std::uint64_t ns_arg(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = false;
    const std::uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return x;
  }
  throw Napi::TypeError::New(env, std::string(what) + " must be a BigInt of nanoseconds (nowNs())");
}
}  // namespace

// hostFrame(particles: Uint8Array, queuedNs, computeStartNs, computeEndNs) -> frame id
Napi::Value EngineWrap::HostFrame(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::span<std::byte> bytes = view_bytes(env, info[0], "particles");
  auto frame = engine(env).host_frame(bytes, ns_arg(env, info[1], "queuedNs"), ns_arg(env, info[2], "computeStartNs"),
                                      ns_arg(env, info[3], "computeEndNs"));
  if (!frame) throw_error(env, frame.error());
  return Napi::Number::New(env, static_cast<double>(frame.value()));
}

// copyResult(pixels: Uint8Array) -> frame id | null (nothing new yet)
Napi::Value EngineWrap::CopyResult(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto got = engine(env).copy_result(view_bytes(env, info[0], "pixels"));
  if (!got) throw_error(env, got.error());
  if (!got.value()) return env.Null();
  return Napi::Number::New(env, static_cast<double>(*got.value()));
}

Napi::Value EngineWrap::Close(const Napi::CallbackInfo& info) {
  release();
  kernel_memory_ref_.Reset();
  engine_memory_ref_.Reset();
  return info.Env().Undefined();
}

Napi::Value EngineWrap::Status(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const pipeline::EngineStatus s = engine(env).status();
  auto o = Napi::Object::New(env);
  o.Set("issued", Napi::Number::New(env, static_cast<double>(s.issued)));
  o.Set("computed", Napi::Number::New(env, static_cast<double>(s.computed)));
  o.Set("failed", Napi::Number::New(env, static_cast<double>(s.failed)));
  o.Set("dropped", Napi::Number::New(env, static_cast<double>(s.dropped)));
  o.Set("presented", Napi::Number::New(env, static_cast<double>(s.presented)));
  o.Set("late", Napi::Number::New(env, static_cast<double>(s.late)));
  o.Set("inFlight", Napi::Number::New(env, static_cast<double>(s.in_flight)));
  o.Set("particlesRejected", Napi::Number::New(env, static_cast<double>(s.particles_rejected)));
  o.Set("particlesClamped", Napi::Number::New(env, static_cast<double>(s.particles_clamped)));
  o.Set("elapsedS", Napi::Number::New(env, s.elapsed_s));
  o.Set("fps", Napi::Number::New(env, s.fps));
  o.Set("p50Ms", Napi::Number::New(env, s.p50_ms));
  o.Set("p99Ms", Napi::Number::New(env, s.p99_ms));
  o.Set("running", Napi::Boolean::New(env, s.running));
  o.Set("started", Napi::Boolean::New(env, engine(env).started()));
  o.Set("finished", Napi::Boolean::New(env, engine(env).finished()));
  o.Set("error", Napi::String::New(env, s.error));
  o.Set("lastFailure", Napi::String::New(env, s.last_failure));
  return o;
}

// writeOutputs({trace, report, csv, stats, snapshot}, {key: value, ...})
Napi::Value EngineWrap::WriteOutputs(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object paths = get_object(env, info[0], "outputs");
  pipeline::Engine::Outputs out;
  out.trace_json = opt_string(paths, "trace").value_or("");
  out.report_html = opt_string(paths, "report").value_or("");
  out.frames_csv = opt_string(paths, "csv").value_or("");
  out.stats_json = opt_string(paths, "stats").value_or("");
  out.snapshot_png = opt_string(paths, "snapshot").value_or("");
  std::vector<std::pair<std::string, std::string>> run_config;
  const Napi::Object cfg = get_object(env, info[1], "runConfig");
  const Napi::Array keys = cfg.GetPropertyNames();
  for (std::uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string k = keys.Get(i).ToString().Utf8Value();
    run_config.emplace_back(k, cfg.Get(k).ToString().Utf8Value());
  }
  if (auto ok = engine(env).write_outputs(out, run_config); !ok) throw_error(env, ok.error());
  return env.Undefined();
}

Napi::Value EngineWrap::SummaryTable(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), engine(info.Env()).summary_table());
}

Napi::Value EngineWrap::Id(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), id_); }

Napi::Value EngineWrap::Renderer(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), engine(info.Env()).renderer_description());
}

Napi::Value EngineWrap::Workers(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), engine(info.Env()).config().workers);
}

// ---- free functions ------------------------------------------------------------

Napi::Value LayoutFor(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const pipeline::EngineConfig cfg = config_from(env, get_object(env, info[0], "config"));
  auto l = pipeline::Engine::layout_for(cfg);
  if (!l) throw_error(env, l.error());
  auto o = layout_object(env, l.value());
  o.Set("workers", Napi::Number::New(env, static_cast<double>(cfg.workers != 0 ? cfg.workers : cfg.plan.compute.threads.size())));
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

Napi::Value Devices(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto devices = render::list_devices();
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
    o.Set("apiVersion", Napi::String::New(env, std::to_string(d.api_version >> 22) + "." +
                                                   std::to_string((d.api_version >> 12) & 0x3FF) + "." +
                                                   std::to_string(d.api_version & 0xFFF)));
    arr.Set(n++, o);
  }
  return arr;
}

// nowNs() -> BigInt: CLOCK_MONOTONIC, the clock of every trace stamp.
Napi::Value NowNs(const Napi::CallbackInfo& info) {
  return Napi::BigInt::New(info.Env(), static_cast<std::uint64_t>(trace::now_ns()));
}

// kernelBenchNative({particles, frames, chunk}) -> seconds: the native build
// of the particle kernel, single-threaded, the same loop bench.mjs runs in WASM.
Napi::Value KernelBenchNative(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const Napi::Object o = get_object(env, info[0], "options");
  const auto particles = static_cast<std::uint32_t>(opt_uint(o, "particles", 1'000'000, 1, 1u << 24));
  const auto frames = static_cast<std::uint32_t>(opt_uint(o, "frames", 10, 1, 1'000'000));
  const auto chunk = static_cast<std::uint32_t>(opt_uint(o, "chunk", particles, 1, 1u << 24));
  std::vector<tp_particle> a(particles), b(particles);
  tp_kernel_ctx ctx{};
  ctx.abi_version = TP_KERNEL_ABI_VERSION;
  ctx.item_count = particles;
  ctx.item_bytes = sizeof(tp_particle);
  ctx.dt = 1.0F / 120.0F;
  ctx.seed = 1;
  ctx.flags = TP_CTX_FIRST_FRAME;
  ctx.output_offset = reinterpret_cast<std::uintptr_t>(a.data());
  ctx.input_offset = ctx.output_offset;
  (void)tp_kernel_step(&ctx, 0, particles);
  ctx.flags = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (std::uint32_t f = 0; f < frames; ++f) {
    ctx.frame_id = f + 2;
    ctx.time = static_cast<float>(f) * ctx.dt;
    ctx.input_offset = reinterpret_cast<std::uintptr_t>(f % 2 == 0 ? a.data() : b.data());
    ctx.output_offset = reinterpret_cast<std::uintptr_t>(f % 2 == 0 ? b.data() : a.data());
    for (std::uint32_t begin = 0; begin < particles; begin += chunk) {
      (void)tp_kernel_step(&ctx, begin, std::min(particles, begin + chunk));
    }
  }
  const std::chrono::duration<double> dt = std::chrono::steady_clock::now() - t0;
  return Napi::Number::New(env, dt.count());
}

// ---- compute members (worker threads) ----------------------------------------------

Napi::Value ComputeSlot::Join(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (member_) throw Napi::Error::New(env, "this thread already joined the compute pool");
  const auto id = static_cast<std::uint32_t>(info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0);
  engine_ = find_engine(id);
  if (!engine_) throw Napi::RangeError::New(env, "no engine with id " + std::to_string(id));
  auto m = engine_->join_compute();
  if (!m) {
    engine_.reset();
    throw_error(env, m.error());
  }
  member_.emplace(std::move(m).value());
  auto o = Napi::Object::New(env);
  o.Set("slot", Napi::Number::New(env, member_->index()));
  o.Set("cpu", Napi::Number::New(env, member_->cpu()));
  return o;
}

// take(timeoutMs, job: Float64Array(4)) -> 1: a chunk, written into job as
// [begin, end, frame, ctxAddress]; 0: timeout; -1: the engine is done. The
// caller's array is reused for every chunk, so the per-chunk path allocates
// nothing in V8 (no garbage, no GC pauses in the workers).
Napi::Value ComputeSlot::Take(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!member_) throw Napi::Error::New(env, "join the compute pool first");
  const double ms = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(ms >= 0 && ms <= 60000)) throw Napi::RangeError::New(env, "timeoutMs must be in [0, 60000]");
  if (!info[1].IsTypedArray() || info[1].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[1].As<Napi::TypedArray>().ElementLength() < 4) {
    throw Napi::TypeError::New(env, "take needs a Float64Array of 4 elements to write the chunk into");
  }
  auto out = info[1].As<Napi::Float64Array>();
  auto job = member_->take(std::chrono::nanoseconds(static_cast<std::int64_t>(ms * 1e6)));
  if (!job) return Napi::Number::New(env, engine_->finished() ? -1 : 0);
  out[0] = job->begin;
  out[1] = job->end;
  out[2] = static_cast<double>(job->frame);
  out[3] = static_cast<double>(job->ctx_address);
  return Napi::Number::New(env, 1);
}

Napi::Value ComputeSlot::Complete(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!member_) throw Napi::Error::New(env, "join the compute pool first");
  if (!member_->busy()) throw Napi::Error::New(env, "no chunk to complete: take() one first");
  const std::int32_t status = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
  const std::string message = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : std::string();
  member_->complete(status, message);
  return env.Undefined();
}

Napi::Value ComputeSlot::Leave(const Napi::CallbackInfo& info) {
  leave(info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "worker left");
  return info.Env().Undefined();
}

void ComputeSlot::leave(const std::string& reason) {
  if (member_) member_->leave(reason);
  member_.reset();
  engine_.reset();
}

}  // namespace triptych::node
