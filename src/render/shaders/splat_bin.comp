// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's binning pass: every placed record (one thread
// each, grid-stride) adds its index to the list of each 16 x 16 tile its quad
// may cover. A tile's count keeps rising past the list's capacity, so
// splat_shade.comp knows the list overflowed and shades that tile by a scan
// instead: no record is lost. Lists fill in no particular order; the shading
// pass sorts them. docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

#include "splat_tile.glsl"

void main() {
  // Grid-stride: the dispatch is capped at 65535 workgroups.
  const uint stride = gl_NumWorkGroups.x * gl_WorkGroupSize.x;
  for (uint i = gl_GlobalInvocationID.x; i < params.count; i += stride) {
    const Quad q = quad_of(i);
    if (!q.drawn) continue;
    // The pixels whose centres the quad may cover, inside the target.
    const float x0 = max(0.0, floor(q.centre.x - q.reach.x));
    const float x1 = min(float(params.extent.x - 1u), ceil(q.centre.x + q.reach.x));
    const float y0 = max(0.0, floor(q.centre.y - q.reach.y));
    const float y1 = min(float(params.extent.y - 1u), ceil(q.centre.y + q.reach.y));
    if (x0 > x1 || y0 > y1) continue;
    for (uint ty = uint(y0) / kTileSize; ty <= uint(y1) / kTileSize; ++ty) {
      for (uint tx = uint(x0) / kTileSize; tx <= uint(x1) / kTileSize; ++tx) {
        if (!quad_meets_tile(q, tx, ty)) continue;
        const uint tile = ty * params.tiles_x + tx;
        const uint at = atomicAdd(tile_counts.counts[tile], 1u);
        if (at < kListCapacity) tile_lists.entries[tile * kListCapacity + at] = i;
      }
    }
  }
}
