// SPDX-License-Identifier: Apache-2.0
// triptych_testing.node, the test and benchmark addon: entry points only tests
// and `triptych bench kernel` call, kept out of the production triptych.node.
// Zero-copy probes (addressOf, checksum), native futex wait/wake on a word of
// a shared memory, and kernelBenchNative (kernel_bench.hpp). Stateless: its
// Napi::Addon holds nothing, so any number of threads may load it. Like the
// production addon it is Node-API only and creates no external buffers.
// futexWait blocks natively (worker threads only); kernelBenchNative blocks
// for its run; the rest return promptly. Design: docs/node.md.
#include <napi.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "args.hpp"
#include "kernel_bench.hpp"
#include "triptych/sync/futex.hpp"

namespace triptych::node::testing {
namespace {

// A 4-byte-aligned WaitWord at byte `offset` of the view, bounds-checked.
WaitWord& wait_word_at(const Napi::Env& env, std::span<std::byte> bytes, std::uint64_t offset) {
  if (offset % alignof(WaitWord) != 0 || offset > bytes.size() || bytes.size() - offset < sizeof(WaitWord)) {
    throw Napi::RangeError::New(env, "wait word offset " + std::to_string(offset) +
                                         " is misaligned or outside the view");
  }
  return *reinterpret_cast<WaitWord*>(bytes.data() + offset);
}

// The bytes of a view argument (a TypedArray over the arena's memory).
std::span<std::byte> view_arg(const Napi::Env& env, const Napi::Value& v) {
  return typed_array_bytes(env, v, "view", "a TypedArray over the arena memory").bytes;
}

// addressOf(view) -> BigInt: the native address of view[0]. Zero-copy proof.
Napi::Value AddressOf(const Napi::CallbackInfo& info) {
  const std::span<std::byte> b = view_arg(info.Env(), info[0]);
  return Napi::BigInt::New(info.Env(), static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(b.data())));
}

// checksum(view, offset, length) -> Number: FNV-1a of bytes C++ reads in
// place, so tests can prove C++ sees what WASM/JS wrote without a copy.
Napi::Value Checksum(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  const std::span<std::byte> b = view_arg(env, info[0]);
  const std::uint64_t offset = to_u64(env, info[1], "offset");
  const std::uint64_t length = to_u64(env, info[2], "length");
  if (offset > b.size() || length > b.size() - offset) {
    throw Napi::RangeError::New(env, "checksum range is outside the view");
  }
  std::uint32_t h = 2166136261u;
  for (std::uint64_t i = 0; i < length; ++i) {
    h = (h ^ static_cast<std::uint32_t>(b[offset + i])) * 16777619u;
  }
  return Napi::Number::New(env, h);
}

// futexWait(view, offset, expected, timeoutMs) -> 'changed' | 'timed-out'.
// Blocks the calling thread natively: for worker threads only.
Napi::Value FutexWait(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  WaitWord& ww = wait_word_at(env, view_arg(env, info[0]), to_u64(env, info[1], "offset"));
  const auto expected = static_cast<std::uint32_t>(to_u64(env, info[2], "expected"));
  const double ms = number_or(info[3], -1.0);
  if (!(ms >= 0)) throw Napi::RangeError::New(env, "timeoutMs must be a non-negative number");
  const auto timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(ms * 1e6));
  const WaitStatus s = wait(ww, expected, timeout);
  return Napi::String::New(env, s == WaitStatus::kChanged ? "changed" : "timed-out");
}

// futexWake(view, offset, count, delta=1) -> previous value: adds delta to
// the word (seq_cst) and wakes up to `count` native or JS-in-native waiters.
Napi::Value FutexWake(const Napi::CallbackInfo& info) {
  const Napi::Env env = info.Env();
  WaitWord& ww = wait_word_at(env, view_arg(env, info[0]), to_u64(env, info[1], "offset"));
  const auto count = static_cast<int>(to_u64(env, info[2], "count"));
  const auto delta = info[3].IsUndefined() ? 1u : static_cast<std::uint32_t>(to_u64(env, info[3], "delta"));
  return Napi::Number::New(env, fetch_add_and_wake(ww, delta, count));
}

class TestingAddon : public Napi::Addon<TestingAddon> {
 public:
  TestingAddon(Napi::Env env, Napi::Object exports) {
    exports.Set("addressOf", Napi::Function::New(env, AddressOf, "addressOf"));
    exports.Set("checksum", Napi::Function::New(env, Checksum, "checksum"));
    exports.Set("futexWait", Napi::Function::New(env, FutexWait, "futexWait"));
    exports.Set("futexWake", Napi::Function::New(env, FutexWake, "futexWake"));
    exports.Set("kernelBenchNative", Napi::Function::New(env, KernelBenchNative, "kernelBenchNative"));
  }
};

}  // namespace
}  // namespace triptych::node::testing

// NODE_API_ADDON pastes its argument into an identifier: it needs a plain name.
using TriptychTestingAddon = triptych::node::testing::TestingAddon;
NODE_API_ADDON(TriptychTestingAddon)
