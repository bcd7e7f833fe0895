// SPDX-License-Identifier: Apache-2.0
// kernelBenchNative, the native half of `triptych bench kernel`
// (node/lib/bench.mjs): part of triptych_testing.node only, never of the
// production addon. Blocks the calling thread for the whole run. Design:
// docs/node.md ("The testing addon"), figures in docs/BENCHMARKS.md.
#pragma once

#include <napi.h>

namespace triptych::node::testing {

// kernelBenchNative({particles, frames, chunk}) -> seconds: the native build
// of the particle kernel, single-threaded, the same loop bench.mjs runs in WASM.
Napi::Value KernelBenchNative(const Napi::CallbackInfo& info);

}  // namespace triptych::node::testing
