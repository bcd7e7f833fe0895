// SPDX-License-Identifier: Apache-2.0
// Negative-compile probe (tests/addon_build): a Node Buffer over memory V8
// did not allocate. Must not compile with the addons' flags.
#include <napi.h>

namespace {
char external_bytes[64];
}

Napi::Value probe(Napi::Env env) { return Napi::Buffer<char>::New(env, external_bytes, sizeof external_bytes); }
