// SPDX-License-Identifier: Apache-2.0
// Engine, the JS class over pipeline::Engine (declared in engine_wrap.hpp):
// construction adopts the JS-allocated memories and registers the engine;
// close()/closeAsync()/the finalizer unregister and stop it. Main thread only;
// only stop() and close() block (joining the engine's threads), closeAsync()
// does that on a libuv pool thread and the finalizer on a detached one. An
// environment torn down with its engine running (a worker terminated) stops
// it in a cleanup hook first (StopAtTeardown). Design: docs/node.md.
#include "engine_wrap.hpp"

#include <optional>
#include <span>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "args.hpp"
#include "options.hpp"
#include "registry.hpp"

namespace triptych::node {
namespace {

// The bytes of one of the arena's memories (a Uint8Array over a shared
// WebAssembly.Memory). The kernel's memory must be viewed whole (`whole`):
// its address 0 is WASM address 0.
std::span<std::byte> memory_view(const Napi::Env& env, const Napi::Value& v, const std::string& what, bool whole) {
  if (!v.IsTypedArray()) {
    throw Napi::TypeError::New(env, "WASM compute needs the " + what + " (a Uint8Array over a shared WebAssembly.Memory)");
  }
  const TypedBytes t = typed_array_bytes(env, v, "the " + what);
  if (t.bytes.data() == nullptr) throw Napi::TypeError::New(env, "cannot read the address of the " + what);
  if (whole && t.buffer_offset != 0) {
    throw Napi::RangeError::New(env, "the view of the " + what + " must start at byte 0");
  }
  return t.bytes;
}

// new Engine's arguments 1-3 for WASM compute: the kernel's memory, the
// engine's memory and the placement ({ctxAddress}).
pipeline::ExternalMemory external_memory(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::span<std::byte> kernel = memory_view(env, info[1], "kernel's memory", true);
  const std::span<std::byte> engine_memory = memory_view(env, info[2], "engine's memory", false);
  const Napi::Object placement = get_object(env, info[3], "placement");
  pipeline::ExternalMemory m;
  m.memories.kernel = kernel.data();
  m.memories.kernel_bytes = kernel.size();
  m.memories.engine = engine_memory.data();
  m.memories.engine_bytes = engine_memory.size();
  m.ctx_address = opt_uint(placement, "ctxAddress", 0, 0, std::uint64_t{1} << 32);
  return m;
}

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

// A CLOCK_MONOTONIC stamp from JS: a BigInt of nanoseconds (nowNs()).
std::uint64_t ns_arg(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (const auto x = bigint_u64(v)) return *x;
  throw Napi::TypeError::New(env, std::string(what) + " must be a BigInt of nanoseconds (nowNs())");
}

}  // namespace

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

// new Engine(setup | options, kernelMemoryView?, engineMemoryView?, placement?):
// `setup` from prepareEngine() (what createEngine() sized the memories from),
// or an options object prepared here.
EngineWrap::EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
  const Napi::Env env = info.Env();
  pipeline::EngineSetup setup = info[0].IsExternal() ? *info[0].As<Napi::External<pipeline::EngineSetup>>().Data()
                                                     : setup_from(env, info[0]);
  std::optional<pipeline::ExternalMemory> memory;
  if (setup.config.compute == pipeline::ComputeBackend::kExternal) {
    memory = external_memory(info);
    kernel_memory_ref_ = Napi::Persistent(info[1].As<Napi::Object>());  // keeps the bytes alive
    engine_memory_ref_ = Napi::Persistent(info[2].As<Napi::Object>());
  }
  auto engine = pipeline::Engine::create(std::move(setup), memory);
  if (!engine) throw_error(env, engine.error());
  engine_ = std::shared_ptr<pipeline::Engine>(std::move(engine).value().release());
  id_ = register_engine(engine_);
  if (napi_add_env_cleanup_hook(env, &EngineWrap::StopAtTeardown, this) != napi_ok) {
    throw Napi::Error::New(env, "cannot register the engine's environment cleanup hook");
  }
  teardown_hooked_ = true;
}

// The environment's cleanup hook: it is going away (a worker thread ending,
// terminated mid-run or not) and takes the memories the engine reads with
// it, so the engine's threads must be done first. Hooks run before the
// environment's finalizers. Blocks while the engine stops: its compute
// workers are dying too, so a native member fails the chunks they held.
void EngineWrap::StopAtTeardown(void* wrap) {
  auto* self = static_cast<EngineWrap*>(wrap);
  self->teardown_hooked_ = false;
  const std::shared_ptr<pipeline::Engine>& engine = self->engine_;
  if (!engine || !engine->started() || engine->finished()) return;
  engine->request_stop();
  engine->abandon_compute("the JS environment that owns this engine is shutting down");
  engine->stop();
}

void EngineWrap::unhook_teardown() {
  if (!teardown_hooked_) return;
  (void)napi_remove_env_cleanup_hook(Env(), &EngineWrap::StopAtTeardown, this);
  teardown_hooked_ = false;
}

// The finalizer never blocks: an engine still running is asked to stop and
// handed to a detached thread that joins it. Its memories are then kept
// (their references are never deleted) because that thread may still touch
// them; a host that close()s its engines never gets here with one running.
EngineWrap::~EngineWrap() {
  unhook_teardown();
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
  unhook_teardown();
  if (!engine_) return;
  engine_->stop();
  (void)unregister_engine(id_);
  engine_.reset();
}

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
  const std::string reason = string_or(info[0], "compute abandoned");
  engine(info.Env()).abandon_compute(reason);
  return info.Env().Undefined();
}

// failCurrentFrame(cause): the watchdog's verdict on the frame in progress.
Napi::Value EngineWrap::FailCurrentFrame(const Napi::CallbackInfo& info) {
  const std::string cause = string_or(info[0], "failed by the host");
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

// hostFrame(particles: Uint8Array, queuedNs, computeStartNs, computeEndNs) -> frame id
Napi::Value EngineWrap::HostFrame(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::span<std::byte> bytes = typed_array_bytes(env, info[0], "particles").bytes;
  auto frame = engine(env).host_frame(bytes, ns_arg(env, info[1], "queuedNs"), ns_arg(env, info[2], "computeStartNs"),
                                      ns_arg(env, info[3], "computeEndNs"));
  if (!frame) throw_error(env, frame.error());
  return Napi::Number::New(env, static_cast<double>(frame.value()));
}

// copyResult(pixels: Uint8Array) -> frame id | null (nothing new yet)
Napi::Value EngineWrap::CopyResult(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  auto got = engine(env).copy_result(typed_array_bytes(env, info[0], "pixels").bytes);
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
  o.Set("lost", Napi::Number::New(env, static_cast<double>(s.lost)));
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
  // The deadline governor (docs/pipeline.md) and what the run delivers now.
  o.Set("governor", Napi::Boolean::New(env, s.governor));
  o.Set("governorLevel", Napi::Number::New(env, s.governor_level));
  o.Set("resolutionScale", Napi::Number::New(env, static_cast<double>(s.resolution_scale)));
  o.Set("drawStride", Napi::Number::New(env, s.draw_stride));
  o.Set("rateHz", Napi::Number::New(env, s.rate_hz));
  o.Set("governorChanges", Napi::Number::New(env, static_cast<double>(s.governor_changes)));
  o.Set("governorLast", Napi::String::New(env, s.governor_last));
  o.Set("delivered", Napi::String::New(env, engine(env).delivery_summary()));
  o.Set("renderer", Napi::String::New(env, engine(env).renderer_description()));
  // Isolation mode (docs/isolation.md): the render process and what befell it.
  o.Set("isolated", Napi::Boolean::New(env, s.isolated));
  o.Set("renderPid", Napi::Number::New(env, s.render_pid));
  o.Set("renderCrashes", Napi::Number::New(env, static_cast<double>(s.render_crashes)));
  o.Set("renderRespawns", Napi::Number::New(env, static_cast<double>(s.render_respawns)));
  o.Set("renderViolations", Napi::Number::New(env, static_cast<double>(s.render_violations)));
  o.Set("renderResultsRefused", Napi::Number::New(env, static_cast<double>(s.render_results_refused)));
  o.Set("isolationFallback", Napi::String::New(env, s.isolation_fallback));
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

}  // namespace triptych::node
