// SPDX-License-Identifier: Apache-2.0
// The import check's negative control (tests/addon_build): a module that
// imports what an Electron-safe addon must not (libuv, V8, Node internals).
// check_addon_imports.cmake must refuse it, or the check proves nothing.
namespace v8 {
class Isolate {
 public:
  static Isolate* GetCurrent();
};
}  // namespace v8
namespace node {
void* GetCurrentEventLoop(v8::Isolate* isolate);
}  // namespace node
extern "C" void* uv_default_loop();

extern "C" __attribute__((visibility("default"))) void* probe_host_internals() {
  return uv_default_loop() != nullptr ? node::GetCurrentEventLoop(v8::Isolate::GetCurrent()) : nullptr;
}
