// SPDX-License-Identifier: Apache-2.0
// Engine, the JS class over pipeline::Engine (a Napi::ObjectWrap). It owns the
// engine jointly with the registry (registry.hpp), where compute workers find
// it by id, and keeps the two memories it adopted alive. Main thread only;
// every method returns promptly except stop() (joins the engine's threads),
// whose non-blocking form is closeAsync(). Design: docs/node.md.
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>

#include "triptych/pipeline/engine.hpp"

namespace triptych::node {

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit EngineWrap(const Napi::CallbackInfo& info);
  ~EngineWrap() override;

 private:
  pipeline::Engine& engine(const Napi::Env& env);
  void release();
  static void StopAtTeardown(void* wrap);
  void unhook_teardown();
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
  bool teardown_hooked_ = false;             // StopAtTeardown is registered with the env
};

}  // namespace triptych::node
