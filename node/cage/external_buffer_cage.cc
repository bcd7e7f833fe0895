// SPDX-License-Identifier: Apache-2.0
// The caged build's stand-in for Electron's V8 memory cage (Electron 20+):
// the Node-API calls that would wrap memory V8 did not allocate answer
// napi_no_external_buffers_allowed and create nothing, as Electron's do.
// Linked only into the caged twins of the addons (node/CMakeLists.txt); its
// definitions are hidden, so every call inside a caged module binds here and
// never reaches the host's. Thread-safe (no state). Design: docs/node.md,
// "Electron".
// The headers would declare these calls with default visibility (imports
// from the host); declared plain, -fvisibility=hidden keeps them here.
#define NAPI_EXTERN
#include <node_api.h>

#include <cstddef>

extern "C" {

napi_status napi_create_external_arraybuffer(
    napi_env /*env*/, void* /*external_data*/, std::size_t /*byte_length*/, napi_finalize /*finalize_cb*/,
    void* /*finalize_hint*/, napi_value* result) {
  if (result != nullptr) *result = nullptr;
  return napi_no_external_buffers_allowed;
}

napi_status napi_create_external_buffer(
    napi_env /*env*/, std::size_t /*length*/, void* /*data*/, napi_finalize /*finalize_cb*/, void* /*finalize_hint*/,
    napi_value* result) {
  if (result != nullptr) *result = nullptr;
  return napi_no_external_buffers_allowed;
}

}  // extern "C"
