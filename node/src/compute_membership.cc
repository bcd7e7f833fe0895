// SPDX-License-Identifier: Apache-2.0
// The compute-member bindings (ComputeMembership, declared in compute_membership.hpp): a
// worker joins an engine it finds in the registry by id, takes chunks into a
// reused Float64Array, completes them and leaves. Worker threads only; take()
// blocks natively on the pool's futex for at most its timeout, the others
// return promptly. Design: docs/node.md ("Compute workers").
#include "compute_membership.hpp"

#include <chrono>
#include <cstdint>

#include "args.hpp"
#include "registry.hpp"

namespace triptych::node {

Napi::Value ComputeMembership::Join(const Napi::CallbackInfo& info) {
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
Napi::Value ComputeMembership::Take(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!member_) throw Napi::Error::New(env, "join the compute pool first");
  const double ms = number_or(info[0], -1);
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

Napi::Value ComputeMembership::Complete(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  if (!member_) throw Napi::Error::New(env, "join the compute pool first");
  if (!member_->busy()) throw Napi::Error::New(env, "no chunk to complete: take() one first");
  const std::int32_t status = info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : -1;
  const std::string message = string_or(info[1], "");
  member_->complete(status, message);
  return env.Undefined();
}

Napi::Value ComputeMembership::Leave(const Napi::CallbackInfo& info) {
  leave(string_or(info[0], "worker left"));
  return info.Env().Undefined();
}

void ComputeMembership::leave(const std::string& reason) {
  if (member_) member_->leave(reason);
  member_.reset();
  engine_.reset();
}

}  // namespace triptych::node
