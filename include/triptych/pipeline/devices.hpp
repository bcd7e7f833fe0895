// SPDX-License-Identifier: Apache-2.0
// The render devices an engine can be given (EngineConfig::device /
// device_index), as hosts list them (`triptych info`, the addon's devices()).
// The pipeline fronts the render stage here so that hosts need no render
// header: the render layer (and Vulkan) stay below the pipeline. Blocking
// (opens the Vulkan loader); any thread. Design: docs/pipeline.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "triptych/core/result.hpp"

namespace triptych::pipeline {

struct RenderDevice {
  std::uint32_t index = 0;  // what EngineConfig::device_index takes
  std::string name;
  std::string type;         // "discrete", "integrated", "virtual", "cpu", "other"
  std::string api_version;  // "major.minor.patch"
  bool usable = false;      // can run the render stage
  bool host_import = false; // can read the arena's zones in place (no staging copy)
  bool picked = false;      // the device an engine takes when its config names none
  std::string why;          // picked: why; not picked: why not
};

// Every device the Vulkan loader offers, the engine's default pick marked
// (the render stage's own ranking, so no host ranks devices itself; when no
// device is usable none is picked). Errors: no loader, no instance.
[[nodiscard]] Result<std::vector<RenderDevice>> render_devices();

// Where `--present auto` would show frames on this machine, and why: a window
// (a display, GLFW and Vulkan surfaces are there) or offscreen (what is
// missing). The present mode is chosen once a window exists (the run header
// says it). Opens GLFW (once per process); the thread that will run engines.
struct PresentProbe {
  bool window = false;
  std::string why;
};
[[nodiscard]] PresentProbe present_probe();

}  // namespace triptych::pipeline
