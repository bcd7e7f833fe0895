// SPDX-License-Identifier: Apache-2.0
// The triptych Node-API addon: per-instance state in Napi::Addon (no statics),
// so several engines can live in one process, and it loads unchanged in
// Electron. It never creates external buffers: JS allocates memory (a shared
// WebAssembly.Memory), C++ adopts it through napi_get_typedarray_info. Calls
// that block (futex waits) are meant for worker threads, never the main
// thread. Design: docs/node.md.
#include <napi.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>

#include "engine_binding.hpp"
#include "triptych_kernel.h"
#include "triptych/sync/futex.hpp"

namespace triptych::node {
namespace {

// The bytes behind a TypedArray over a (Shared)ArrayBuffer, validated.
struct Bytes {
  std::byte* data = nullptr;
  std::size_t size = 0;
};

Bytes typed_array_bytes(const Napi::Env& env, const Napi::Value& value, const char* what) {
  if (!value.IsTypedArray()) {
    throw Napi::TypeError::New(env, std::string(what) + " must be a TypedArray over the arena memory");
  }
  const auto array = value.As<Napi::TypedArray>();
  napi_typedarray_type type{};
  size_t length = 0;
  void* data = nullptr;
  napi_value buffer{};
  size_t offset = 0;
  NAPI_THROW_IF_FAILED(env, napi_get_typedarray_info(env, array, &type, &length, &data, &buffer, &offset),
                       Bytes{});
  return Bytes{static_cast<std::byte*>(data), array.ByteLength()};
}

std::uint64_t to_u64(const Napi::Env& env, const Napi::Value& v, const char* what) {
  if (v.IsBigInt()) {
    bool lossless = false;
    const std::uint64_t x = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return x;
  } else if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (d >= 0 && d <= 9007199254740991.0 && static_cast<double>(static_cast<std::uint64_t>(d)) == d) {
      return static_cast<std::uint64_t>(d);
    }
  }
  throw Napi::RangeError::New(env, std::string(what) + " must be a non-negative integer");
}

// A 4-byte-aligned WaitWord at byte `offset` of the view, bounds-checked.
WaitWord& wait_word_at(const Napi::Env& env, const Bytes& bytes, std::uint64_t offset) {
  if (offset % alignof(WaitWord) != 0 || offset > bytes.size || bytes.size - offset < sizeof(WaitWord)) {
    throw Napi::RangeError::New(env, "wait word offset " + std::to_string(offset) +
                                         " is misaligned or outside the view");
  }
  return *reinterpret_cast<WaitWord*>(bytes.data + offset);
}

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    exports.Set("Engine", EngineWrap::Define(env));
    exports.Set("layoutFor", Napi::Function::New(env, LayoutFor, "layoutFor"));
    exports.Set("plan", Napi::Function::New(env, Plan, "plan"));
    exports.Set("devices", Napi::Function::New(env, Devices, "devices"));
    exports.Set("kernelAbiVersion", Napi::Number::New(env, TP_KERNEL_ABI_VERSION));
    exports.Set("nowNs", Napi::Function::New(env, NowNs, "nowNs"));
    exports.Set("kernelBenchNative", Napi::Function::New(env, KernelBenchNative, "kernelBenchNative"));
    DefineAddon(exports, {
        InstanceMethod("computeJoin", &Addon::ComputeJoin),
        InstanceMethod("computeTake", &Addon::ComputeTake),
        InstanceMethod("computeComplete", &Addon::ComputeComplete),
        InstanceMethod("computeLeave", &Addon::ComputeLeave),
        InstanceMethod("addressOf", &Addon::AddressOf),
        InstanceMethod("checksum", &Addon::Checksum),
        InstanceMethod("pinThread", &Addon::PinThread),
        InstanceMethod("threadInfo", &Addon::ThreadInfo),
        InstanceMethod("futexWait", &Addon::FutexWait),
        InstanceMethod("futexWake", &Addon::FutexWake),
    });
  }

 private:
  // The compute-pool membership of this instance's thread (a Node worker).
  ComputeSlot compute_;
  Napi::Value ComputeJoin(const Napi::CallbackInfo& info) { return compute_.Join(info); }
  Napi::Value ComputeTake(const Napi::CallbackInfo& info) { return compute_.Take(info); }
  Napi::Value ComputeComplete(const Napi::CallbackInfo& info) { return compute_.Complete(info); }
  Napi::Value ComputeLeave(const Napi::CallbackInfo& info) { return compute_.Leave(info); }

  // addressOf(view) -> BigInt: the native address of view[0]. Zero-copy proof.
  Napi::Value AddressOf(const Napi::CallbackInfo& info) {
    const Bytes b = typed_array_bytes(info.Env(), info[0], "view");
    return Napi::BigInt::New(info.Env(), static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(b.data)));
  }

  // checksum(view, offset, length) -> Number: FNV-1a of bytes C++ reads in
  // place, so tests can prove C++ sees what WASM/JS wrote without a copy.
  Napi::Value Checksum(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Bytes b = typed_array_bytes(env, info[0], "view");
    const std::uint64_t offset = to_u64(env, info[1], "offset");
    const std::uint64_t length = to_u64(env, info[2], "length");
    if (offset > b.size || length > b.size - offset) {
      throw Napi::RangeError::New(env, "checksum range is outside the view");
    }
    std::uint32_t h = 2166136261u;
    for (std::uint64_t i = 0; i < length; ++i) {
      h = (h ^ static_cast<std::uint32_t>(b.data[offset + i])) * 16777619u;
    }
    return Napi::Number::New(env, h);
  }

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

  // futexWait(view, offset, expected, timeoutMs) -> 'changed' | 'timed-out'.
  // Blocks the calling thread natively: for worker threads only.
  Napi::Value FutexWait(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Bytes b = typed_array_bytes(env, info[0], "view");
    WaitWord& ww = wait_word_at(env, b, to_u64(env, info[1], "offset"));
    const auto expected = static_cast<std::uint32_t>(to_u64(env, info[2], "expected"));
    const double ms = info[3].IsNumber() ? info[3].As<Napi::Number>().DoubleValue() : -1.0;
    if (!(ms >= 0)) throw Napi::RangeError::New(env, "timeoutMs must be a non-negative number");
    const auto timeout = std::chrono::nanoseconds(static_cast<std::int64_t>(ms * 1e6));
    const WaitStatus s = wait(ww, expected, timeout);
    return Napi::String::New(env, s == WaitStatus::kChanged ? "changed" : "timed-out");
  }

  // futexWake(view, offset, count, delta=1) -> previous value: adds delta to
  // the word (seq_cst) and wakes up to `count` native or JS-in-native waiters.
  Napi::Value FutexWake(const Napi::CallbackInfo& info) {
    const Napi::Env env = info.Env();
    const Bytes b = typed_array_bytes(env, info[0], "view");
    WaitWord& ww = wait_word_at(env, b, to_u64(env, info[1], "offset"));
    const auto count = static_cast<int>(to_u64(env, info[2], "count"));
    const auto delta = info[3].IsUndefined() ? 1u : static_cast<std::uint32_t>(to_u64(env, info[3], "delta"));
    return Napi::Number::New(env, fetch_add_and_wake(ww, delta, count));
  }
};

}  // namespace
}  // namespace triptych::node

// NODE_API_ADDON pastes its argument into an identifier: it needs a plain name.
using TriptychAddon = triptych::node::Addon;
NODE_API_ADDON(TriptychAddon)
