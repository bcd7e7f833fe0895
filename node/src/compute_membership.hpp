// SPDX-License-Identifier: Apache-2.0
// ComputeMembership: a worker thread's membership of one engine's compute pool, the
// state behind computeJoin/Take/Complete/Leave. It lives in the worker's
// addon instance (Napi::Addon), so each worker has its own; its destructor
// (the worker's environment being torn down, e.g. by Worker.terminate())
// completes any chunk in flight as failed, so the frame fails instead of
// hanging. Worker threads only: Take() blocks natively (futex, bounded by its
// timeout). Design: docs/node.md ("Compute workers").
#pragma once

#include <napi.h>

#include <memory>
#include <optional>
#include <string>

#include "triptych/pipeline/engine.hpp"

namespace triptych::node {

class ComputeMembership {
 public:
  ~ComputeMembership() { leave("the worker thread ended while running a chunk (terminated or died)"); }
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
