// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's binning, run twice per frame (specialization
// constant kFill): every placed record (one invocation each, grid-stride)
// finds the 16 x 16 tiles its quad may cover; the counting run adds 1 to each
// tile's count, the filling run (after splat_scan.comp gave every tile its
// place) appends the record's index to each tile's list. Lists fill in no
// particular order; splat_shade.comp sorts them. A tile without room
// (kNoRoom) is skipped here and scanned there: no record is lost.
// docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

#include "splat_tile.glsl"

layout(constant_id = 1) const bool kFill = false;

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
        if (!kFill) {
          atomicAdd(tile_counts.counts[tile], 1u);
          continue;
        }
        const uint first = tile_offsets.offsets[tile];
        if (first == kNoRoom) continue;
        // The two runs are one source, so they find the same tiles; the
        // bound keeps a tile's list inside its own range even if a compiler
        // placed a quad one ulp apart in them.
        const uint at = atomicAdd(tile_cursors.cursors[tile], 1u);
        if (at < tile_counts.counts[tile]) tile_entries.entries[first + at] = i;
      }
    }
  }
}
