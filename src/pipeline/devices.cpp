// SPDX-License-Identifier: Apache-2.0
// render_devices() (include/triptych/pipeline/devices.hpp): the render
// stage's device list and default pick (render::choose_device) in the
// pipeline's words. Blocking; any thread.
#include "triptych/pipeline/devices.hpp"

#include "triptych/render/presenter.hpp"
#include "triptych/render/vulkan_renderer.hpp"

namespace triptych::pipeline {

Result<std::vector<RenderDevice>> render_devices() {
  auto listed = render::list_devices();
  if (!listed) return listed.error();
  std::vector<RenderDevice> out;
  out.reserve(listed->size());
  for (const render::DeviceInfo& d : listed.value()) {
    // VK_API_VERSION_MAJOR/MINOR/PATCH: 7, 10 and 12 bits above the variant.
    const std::string version = std::to_string((d.api_version >> 22) & 0x7FU) + "." +
                                std::to_string((d.api_version >> 12) & 0x3FFU) + "." +
                                std::to_string(d.api_version & 0xFFFU);
    out.push_back(RenderDevice{d.index, d.name, d.type, version, d.usable, d.host_import, false, {}});
  }
  const auto pick = render::choose_device(listed.value(), render::DeviceChoice{});
  for (RenderDevice& d : out) {
    d.picked = pick && pick->index == d.index;
    if (d.picked) {
      d.why = pick->why;
    } else if (!d.usable) {
      d.why = "unusable: needs Vulkan 1.2 and a graphics queue";
    } else {
      d.why = "ranked below [" + std::to_string(pick->index) + "] " + out[pick->index].name;
    }
  }
  return out;
}

PresentProbe present_probe() {
  auto choice = render::choose_backend(render::PresentBackend::kAuto);
  if (!choice) return {false, choice.error().message};
  return {choice.value().backend == render::PresentBackend::kWindow, choice.value().why};
}

}  // namespace triptych::pipeline
