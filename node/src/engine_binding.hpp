// SPDX-License-Identifier: Apache-2.0
// Declarations for engine_binding.cc: the Engine class exposed to JS, the
// plan/layout/device functions, and ComputeSlot, the per-addon-instance state
// of a worker thread that joined an engine's compute pool. See docs/node.md.
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "triptych/core/result.hpp"
#include "triptych/pipeline/engine.hpp"

namespace triptych::node {

// Throws a JS Error carrying `e`'s message and a stable code (ERR_TRIPTYCH_*).
[[noreturn]] void throw_error(const Napi::Env& env, const Error& e);

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

 private:
  pipeline::Engine& engine(const Napi::Env& env);
  void release();
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Stop(const Napi::CallbackInfo& info);
  Napi::Value RequestStop(const Napi::CallbackInfo& info);
  Napi::Value HostFrame(const Napi::CallbackInfo& info);
  Napi::Value CopyResult(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value CloseAsync(const Napi::CallbackInfo& info);
  Napi::Value AbandonCompute(const Napi::CallbackInfo& info);
  Napi::Value FailCurrentFrame(const Napi::CallbackInfo& info);
  Napi::Value Failures(const Napi::CallbackInfo& info);
  Napi::Value Status(const Napi::CallbackInfo& info);
  Napi::Value WriteOutputs(const Napi::CallbackInfo& info);
  Napi::Value SummaryTable(const Napi::CallbackInfo& info);
  Napi::Value Id(const Napi::CallbackInfo& info);
  Napi::Value Renderer(const Napi::CallbackInfo& info);
  Napi::Value Workers(const Napi::CallbackInfo& info);

  std::shared_ptr<pipeline::Engine> engine_;
  std::uint32_t id_ = 0;
  Napi::ObjectReference kernel_memory_ref_;  // the kernel's memory
  Napi::ObjectReference engine_memory_ref_;  // the engine's memory
};

Napi::Value LayoutFor(const Napi::CallbackInfo& info);
Napi::Value Plan(const Napi::CallbackInfo& info);
Napi::Value Devices(const Napi::CallbackInfo& info);
Napi::Value KernelBenchNative(const Napi::CallbackInfo& info);
Napi::Value NowNs(const Napi::CallbackInfo& info);

// A worker thread's membership of one engine's compute pool. Lives in the
// worker's addon instance; its destructor (the worker's environment being torn
// down, e.g. by Worker.terminate()) completes any chunk in flight as failed,
// so the frame fails instead of hanging.
class ComputeSlot {
 public:
  ~ComputeSlot() { leave("the worker thread ended while running a chunk (terminated or died)"); }
  Napi::Value Join(const Napi::CallbackInfo& info);
  Napi::Value Take(const Napi::CallbackInfo& info);
  Napi::Value Complete(const Napi::CallbackInfo& info);
  Napi::Value Leave(const Napi::CallbackInfo& info);

 private:
  void leave(const std::string& reason);
  std::shared_ptr<pipeline::Engine> engine_;
  std::optional<pipeline::ComputeMember> member_;
};

}  // namespace triptych::node
