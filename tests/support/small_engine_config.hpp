// SPDX-License-Identifier: Apache-2.0
// The small, fast engine configuration the pipeline tests start from: the
// native kernel, the CPU reference renderer at 96x64, 1,000 particles, 30
// frames unpaced, pinned by this machine's plan. Tests change what they test.
#pragma once

#include "support/machine_plan.hpp"
#include "triptych/pipeline/engine.hpp"
#include "triptych_kernel.h"

namespace triptych::test {

inline pipeline::EngineConfig small_engine_config() {
  pipeline::EngineConfig c;
  c.particles = 1000;
  c.grain = 128;
  c.hz = 0;
  c.frames = 30;
  c.width = 96;
  c.height = 64;
  c.renderer = pipeline::RendererKind::kCpu;
  c.native_kernel = &tp_kernel_step;
  c.plan = this_machine_plan();
  return c;
}

}  // namespace triptych::test
