// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's shading pass: one 16 x 16 workgroup per tile,
// one invocation per pixel. The tile's list is sorted by record index
// (bitonic, in shared memory), then every pixel blends the records in that
// order, so the result is the raster path's instance order and the same on
// every run. A tile whose list overflowed scans every record in index order
// instead (exact, slower) and is counted. Every pixel of the target is
// written, the clear colour included: no render pass, no vertex or fragment
// stage. docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 16, local_size_y = 16) in;

#include "splat_tile.glsl"

layout(set = 0, binding = 4, rgba8) uniform writeonly image2D target;

const uint kInvocations = 256u;  // local_size_x * local_size_y
const uint kNoIndex = 0xFFFFFFFFu;

shared uint keys[kListCapacity];
shared uint listed;

void main() {
  const uint tile = gl_WorkGroupID.y * params.tiles_x + gl_WorkGroupID.x;
  const uint me = gl_LocalInvocationIndex;
  const uint x = gl_GlobalInvocationID.x;
  const uint y = gl_GlobalInvocationID.y;
  if (me == 0u) listed = tile_counts.counts[tile];
  barrier();
  const uint n = listed;
  vec4 color = unorm8(params.clear);
  if (n <= kListCapacity) {
    uint padded = 1u;
    while (padded < n) padded <<= 1u;
    for (uint i = me; i < padded; i += kInvocations) {
      keys[i] = i < n ? tile_lists.entries[tile * kListCapacity + i] : kNoIndex;
    }
    barrier();
    // Bitonic sort, ascending; the indices are distinct.
    for (uint k = 2u; k <= padded; k <<= 1u) {
      for (uint j = k >> 1u; j > 0u; j >>= 1u) {
        for (uint i = me; i < padded; i += kInvocations) {
          const uint l = i ^ j;
          if (l > i) {
            const uint a = keys[i];
            const uint b = keys[l];
            if ((a > b) == ((i & k) == 0u)) {
              keys[i] = b;
              keys[l] = a;
            }
          }
        }
        barrier();
      }
    }
    for (uint k = 0u; k < n; ++k) {
      const Quad q = quad_of(keys[k]);
      if (q.drawn) color = blend_quad(q, color, x, y);
    }
  } else {
    if (me == 0u) atomicAdd(stats.overflow_tiles, 1u);
    for (uint i = 0u; i < params.count; ++i) {
      const Quad q = quad_of(i);
      if (q.drawn && quad_meets_tile(q, gl_WorkGroupID.x, gl_WorkGroupID.y)) color = blend_quad(q, color, x, y);
    }
  }
  if (x < params.extent.x && y < params.extent.y) imageStore(target, ivec2(x, y), color);
}
