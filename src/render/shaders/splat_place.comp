// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's input from the GPU particle pull: every
// particle of the imported compute slot is read once, validated and placed by
// particle_rules.glsl (the rules the raster path draws by), counted into the
// frame slot's verdict counters as particle_count.comp counts, and written as
// an Instance record at its own index into the device-local placed buffer
// (shape kNotPlaced when not drawn), so binning sees the particle order and
// never reads the untrusted slot again. docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

#include "particle_rules.glsl"

// Binding 1: drawn, culled, nonfinite, bad_size, bad_shape, clamped (zeroed before the dispatch).
layout(std430, set = 0, binding = 1) buffer Counts { uint counts[6]; } totals;
// Binding 2: the placed Instance records, 8 words each.
layout(std430, set = 0, binding = 2) writeonly buffer PlacedRecords { uint words[]; } placed;

const uint kNotPlaced = 0xFFFFFFFFu;

shared uint local_counts[6];

void main() {
  if (gl_LocalInvocationIndex < 6u) local_counts[gl_LocalInvocationIndex] = 0u;
  barrier();
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < params.count; i += stride) {
    const Placed p = place(i);
    atomicAdd(local_counts[p.verdict], 1u);
    if (p.clamped) atomicAdd(local_counts[5], 1u);
    const bool drawn = p.verdict == kDrawn;
    const uint base = i * 8u;
    placed.words[base + 0u] = floatBitsToUint(p.a.x);
    placed.words[base + 1u] = floatBitsToUint(p.a.y);
    placed.words[base + 2u] = floatBitsToUint(p.b.x);
    placed.words[base + 3u] = floatBitsToUint(p.b.y);
    placed.words[base + 4u] = floatBitsToUint(p.param);
    placed.words[base + 5u] = drawn ? p.rgba : 0u;
    placed.words[base + 6u] = drawn ? p.shape : kNotPlaced;
    placed.words[base + 7u] = 0u;
  }
  barrier();
  if (gl_LocalInvocationIndex < 6u && local_counts[gl_LocalInvocationIndex] != 0u) {
    atomicAdd(totals.counts[gl_LocalInvocationIndex], local_counts[gl_LocalInvocationIndex]);
  }
}
