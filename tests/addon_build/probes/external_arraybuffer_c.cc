// SPDX-License-Identifier: Apache-2.0
// Negative-compile probe (tests/addon_build): wraps memory V8 did not
// allocate through the C API. Must not compile with the addons' flags.
#include <node_api.h>

namespace {
char external_bytes[64];
}

napi_value probe(napi_env env) {
  napi_value result = nullptr;
  (void)napi_create_external_arraybuffer(env, external_bytes, sizeof external_bytes, nullptr, nullptr, &result);
  return result;
}
