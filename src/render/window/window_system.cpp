// SPDX-License-Identifier: Apache-2.0
// Opening the window system (GLFW on X11) and choosing the present backend:
// what a run needs from Vulkan to show a window, or, when it cannot, the
// reason a host prints before falling back to offscreen. Blocking; called on
// the thread that will own the window (GLFW's calls stay on one thread).
// docs/presenter.md ("Choosing the backend", "Failures").
#include <dlfcn.h>

#include <cstdlib>
#include <string>

#include "render/window/glfw_api.hpp"
#include "triptych/render/presenter.hpp"

namespace triptych::render {

namespace {

// GLFW reports errors through a callback; the last one is what a failure names.
thread_local std::string last_glfw_error;

void on_glfw_error(int code, const char* text) {
  last_glfw_error = "GLFW error " + std::to_string(code) + ": " + (text != nullptr ? text : "(no text)");
}

Result<window::GlfwFns> open_glfw() {
  const char* env = std::getenv("TRIPTYCH_GLFW_LIBRARY");
  const std::string name = env != nullptr && *env != '\0' ? env : "libglfw.so.3";
  // Never closed: GLFW stays open for the process (see open_window_system).
  void* lib = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return make_error(Errc::kUnsupported, "cannot load GLFW '" + name + "' (" + (why != nullptr ? why : "dlopen failed") +
                                              "): install the Debian package libglfw3");
  }
  window::GlfwFns fns;
#define TRIPTYCH_GLFW_LOAD(fn)                                                                       \
  fns.fn = reinterpret_cast<decltype(fns.fn)>(dlsym(lib, #fn));                                     \
  if (fns.fn == nullptr) {                                                                          \
    return make_error(Errc::kUnsupported, "'" + name + "' has no " #fn ": install libglfw3 >= 3.3"); \
  }
  TRIPTYCH_GLFW_FNS(TRIPTYCH_GLFW_LOAD)
#undef TRIPTYCH_GLFW_LOAD
  return fns;
}

}  // namespace

const Result<window::GlfwFns>& window::load_glfw() {
  static const Result<GlfwFns> table = open_glfw();
  return table;
}

std::string_view present_mode_name(PresentMode mode) noexcept {
  switch (mode) {
    case PresentMode::kImmediate: return "immediate";
    case PresentMode::kMailbox: return "mailbox";
    case PresentMode::kFifo: return "fifo";
  }
  return "unknown";
}

Result<WindowSystem> open_window_system() {
  const char* display = std::getenv("DISPLAY");
  if (display == nullptr || *display == '\0') {
    return make_error(Errc::kUnsupported, "no display: DISPLAY is not set (run under X11, or xvfb-run)");
  }
  const auto& loaded = window::load_glfw();
  if (!loaded) return loaded.error();
  const window::GlfwFns& g = loaded.value();
  g.glfwSetErrorCallback(on_glfw_error);
  last_glfw_error.clear();
  if (g.glfwInit() != GLFW_TRUE) {
    return make_error(Errc::kUnsupported,
                      std::string("cannot open the display '") + display + "' (" + last_glfw_error + ")");
  }
  if (g.glfwVulkanSupported() != GLFW_TRUE) {
    return make_error(Errc::kUnsupported, "GLFW finds no Vulkan loader with surface support (" + last_glfw_error +
                                              "): install libvulkan1 and a Vulkan driver");
  }
  std::uint32_t count = 0;
  const char** names = g.glfwGetRequiredInstanceExtensions(&count);
  if (names == nullptr || count == 0) {
    return make_error(Errc::kUnsupported, "the Vulkan loader offers no surface extension for this display (" +
                                              last_glfw_error + ")");
  }
  WindowSystem ws;
  for (std::uint32_t i = 0; i < count; ++i) ws.instance_extensions.emplace_back(names[i]);
  ws.device_extensions.emplace_back(VK_KHR_SWAPCHAIN_EXTENSION_NAME);
  return ws;
}

Result<BackendChoice> choose_backend(PresentBackend asked) {
  BackendChoice choice;
  if (asked == PresentBackend::kOffscreen) {
    choice.why = "offscreen, as asked";
    return choice;
  }
  auto ws = open_window_system();
  if (!ws) {
    if (asked == PresentBackend::kWindow) return ws.error();
    choice.why = "offscreen: " + ws.error().message;
    return choice;
  }
  choice.backend = PresentBackend::kWindow;
  choice.why = asked == PresentBackend::kWindow ? "window, as asked" : "window: a display is there";
  choice.window_system = std::move(ws.value());
  return choice;
}

}  // namespace triptych::render
