// SPDX-License-Identifier: Apache-2.0
// The GLFW entry points the window presenter uses, loaded at run time from
// libglfw.so.3 (as the render stage loads the Vulkan loader), so binaries
// that never open a window start on machines without GLFW or X11 and a run
// asked for `auto` falls back to offscreen with the reason. The table is
// loaded once (the first open_window_system) and read-only afterwards.
// docs/presenter.md ("Choosing the backend").
#pragma once

#define GLFW_INCLUDE_VULKAN
#include <GLFW/glfw3.h>

#include "triptych/core/result.hpp"

namespace triptych::render::window {

#define TRIPTYCH_GLFW_FNS(X)          \
  X(glfwSetErrorCallback)             \
  X(glfwInit)                         \
  X(glfwVulkanSupported)              \
  X(glfwGetRequiredInstanceExtensions) \
  X(glfwWindowHint)                   \
  X(glfwCreateWindow)                 \
  X(glfwDestroyWindow)                \
  X(glfwCreateWindowSurface)          \
  X(glfwGetFramebufferSize)           \
  X(glfwPollEvents)                   \
  X(glfwWindowShouldClose)            \
  X(glfwSetWindowShouldClose)         \
  X(glfwSetWindowUserPointer)         \
  X(glfwGetWindowUserPointer)         \
  X(glfwSetKeyCallback)               \
  X(glfwSetFramebufferSizeCallback)

#define TRIPTYCH_GLFW_DECLARE(name) decltype(&::name) name = nullptr;
struct GlfwFns {
  TRIPTYCH_GLFW_FNS(TRIPTYCH_GLFW_DECLARE)
};
#undef TRIPTYCH_GLFW_DECLARE

// The table, loaded on the first call (thread-safe; never unloaded). kUnsupported
// names the package when $TRIPTYCH_GLFW_LIBRARY or libglfw.so.3 cannot be opened.
[[nodiscard]] const Result<GlfwFns>& load_glfw();
// The loaded table; only after load_glfw() succeeded (open_window_system).
[[nodiscard]] inline const GlfwFns& glfw() { return load_glfw().value(); }

}  // namespace triptych::render::window
