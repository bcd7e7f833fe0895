// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's shading pass: one 16 x 16 workgroup per tile,
// one invocation per pixel. The tile's list is sorted by record index (a
// bitonic network for any length: in shared memory up to kSharedList
// entries, in place in tile_entries beyond), then every pixel blends the
// records in that order, so the result is the raster path's instance order
// and the same on every run. A tile whose list found no room scans every
// record in index order instead (exact, slower) and is counted. Every pixel
// of the target is written, the clear colour included: no render pass, no
// vertex or fragment stage. docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 16, local_size_y = 16) in;

#include "splat_tile.glsl"

layout(set = 0, binding = 4, rgba8) uniform writeonly image2D target;

const uint kInvocations = 256u;  // local_size_x * local_size_y

shared uint keys[kSharedList];

// A batch of records, each placed once (by one invocation) for all 256
// pixels to blend: 8 KiB.
const uint kBatch = 128u;
shared vec4 batch_frame[kBatch];   // centre, axis
shared vec4 batch_extent[kBatch];  // ext, shape.xy
shared vec4 batch_color[kBatch];
shared float batch_round[kBatch];  // shape.z
shared uint batch_kind[kBatch];    // kind; kNotPlaced: skip

// Where the records come from: the sorted keys, the tile's sorted list in
// place, or every record (a tile without room).
const uint kFromKeys = 0u;
const uint kFromList = 1u;
const uint kFromAll = 2u;

// One step of the sort: position `pair` of the stage's n/2 comparators.
// Block size k; j == 0 is the stage's flip (i against its mirror in the
// block), else the half-cleaner at distance j. Every comparator keeps the
// smaller index first, so positions past the end act as +infinity and are
// never touched: the network sorts any length ascending.
uvec2 comparator(uint pair, uint k, uint j) {
  if (j == 0u) {
    const uint half_block = k >> 1u;
    const uint base = (pair / half_block) * k;
    const uint offset = pair % half_block;
    return uvec2(base + offset, base + k - 1u - offset);
  }
  const uint base = (pair / j) * (2u * j);
  const uint offset = pair % j;
  return uvec2(base + offset, base + offset + j);
}

void sort_shared(uint n, uint padded) {
  for (uint k = 2u; k <= padded; k <<= 1u) {
    for (uint j = 0u; j < k; j = j == 0u ? k >> 2u : j >> 1u) {
      for (uint pair = gl_LocalInvocationIndex; pair < padded / 2u; pair += kInvocations) {
        const uvec2 at = comparator(pair, k, j);
        if (at.y < n && keys[at.x] > keys[at.y]) {
          const uint a = keys[at.x];
          keys[at.x] = keys[at.y];
          keys[at.y] = a;
        }
      }
      barrier();
      if (j == 1u || k == 2u) break;
    }
  }
}

void sort_in_place(uint start, uint n, uint padded) {
  for (uint k = 2u; k <= padded; k <<= 1u) {
    for (uint j = 0u; j < k; j = j == 0u ? k >> 2u : j >> 1u) {
      for (uint pair = gl_LocalInvocationIndex; pair < padded / 2u; pair += kInvocations) {
        const uvec2 at = comparator(pair, k, j);
        if (at.y < n) {
          const uint a = tile_entries.entries[start + at.x];
          const uint b = tile_entries.entries[start + at.y];
          if (a > b) {
            tile_entries.entries[start + at.x] = b;
            tile_entries.entries[start + at.y] = a;
          }
        }
      }
      memoryBarrierBuffer();
      barrier();
      if (j == 1u || k == 2u) break;
    }
  }
}

// Blends records 0..n of `source` in order over `color` at pixel (x, y).
vec4 blend_records(uint source, uint start, uint n, vec4 color, uint x, uint y) {
  for (uint b = 0u; b < n; b += kBatch) {
    const uint m = min(kBatch, n - b);
    const uint me = gl_LocalInvocationIndex;
    if (me < m) {
      const uint k = b + me;
      const uint index = source == kFromKeys ? keys[k] : (source == kFromList ? tile_entries.entries[start + k] : k);
      const Quad q = quad_of(index);
      const bool drawn = q.drawn && (source != kFromAll || quad_meets_tile(q, gl_WorkGroupID.x, gl_WorkGroupID.y));
      batch_frame[me] = vec4(q.centre, q.axis);
      batch_extent[me] = vec4(q.ext, q.shape.xy);
      batch_color[me] = q.color;
      batch_round[me] = q.shape.z;
      batch_kind[me] = drawn ? q.kind : kNotPlaced;
    }
    barrier();
    for (uint k = 0u; k < m; ++k) {
      const uint kind = batch_kind[k];
      if (kind == kNotPlaced) continue;
      Quad q;
      q.centre = batch_frame[k].xy;
      q.axis = batch_frame[k].zw;
      q.ext = batch_extent[k].xy;
      q.shape = vec3(batch_extent[k].zw, batch_round[k]);
      q.kind = kind;
      q.color = batch_color[k];
      color = blend_quad(q, color, x, y);
    }
    barrier();
  }
  return color;
}

void main() {
  const uint tile = gl_WorkGroupID.y * params.tiles_x + gl_WorkGroupID.x;
  const uint me = gl_LocalInvocationIndex;
  const uint x = gl_GlobalInvocationID.x;
  const uint y = gl_GlobalInvocationID.y;
  // Written by earlier dispatches, so every invocation reads the same
  // values: control flow below stays uniform for its barriers.
  // The entries the filling run wrote: both bounds agree unless a compiler
  // placed a quad apart in the two runs, and then only written ones are read.
  const uint n = min(tile_counts.counts[tile], tile_cursors.cursors[tile]);
  const uint start = tile_offsets.offsets[tile];
  vec4 color = unorm8(params.clear);
  if (start == kNoRoom) {
    if (me == 0u) atomicAdd(stats.overflow_tiles, 1u);
    color = blend_records(kFromAll, 0u, params.count, color, x, y);
  } else {
    uint padded = 1u;
    while (padded < n) padded <<= 1u;
    if (n <= kSharedList) {
      for (uint i = me; i < n; i += kInvocations) keys[i] = tile_entries.entries[start + i];
      barrier();
      sort_shared(n, padded);
      color = blend_records(kFromKeys, start, n, color, x, y);
    } else {
      sort_in_place(start, n, padded);
      color = blend_records(kFromList, start, n, color, x, y);
    }
  }
  if (x < params.extent.x && y < params.extent.y) imageStore(target, ivec2(x, y), color);
}
