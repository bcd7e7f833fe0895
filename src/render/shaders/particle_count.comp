// SPDX-License-Identifier: Apache-2.0
// Counts the GPU particle pull's verdicts for one frame: every particle of the
// imported compute slot is placed once by particle_rules.glsl (the rules the
// vertex stage draws by) and lands in one counter; clamped ones are counted
// too. Per workgroup in shared memory, then one global add per counter, into
// the frame slot's host-visible counter buffer (read back with the frame).
// docs/render-stage.md ("GPU particle pull").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

#include "particle_rules.glsl"

// Binding 1: drawn, culled, nonfinite, bad_size, bad_shape, clamped (zeroed
// before the dispatch).
layout(std430, set = 0, binding = 1) buffer Counts { uint counts[6]; } totals;

shared uint local_counts[6];

void main() {
  if (gl_LocalInvocationIndex < 6u) local_counts[gl_LocalInvocationIndex] = 0u;
  barrier();
  // Grid-stride: the dispatch is capped at 65535 workgroups.
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < params.count; i += stride) {
    const Placed p = place(i);
    atomicAdd(local_counts[p.verdict], 1u);
    if (p.clamped) atomicAdd(local_counts[5], 1u);
  }
  barrier();
  if (gl_LocalInvocationIndex < 6u && local_counts[gl_LocalInvocationIndex] != 0u) {
    atomicAdd(totals.counts[gl_LocalInvocationIndex], local_counts[gl_LocalInvocationIndex]);
  }
}
