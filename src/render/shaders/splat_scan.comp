// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's allocation: one workgroup turns the tiles'
// counts into where each tile's list starts in tile_entries (an exclusive
// prefix sum, in tile order, saturating). A tile whose list would pass the
// end gets kNoRoom (and so does every tile after it: the sum is in tile
// order); splat_shade.comp scans the records for those.
// docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

#include "splat_tile.glsl"

const uint kInvocations = 256u;

shared uint partial[kInvocations];

void main() {
  const uint me = gl_LocalInvocationIndex;
  const uint per = (params.tiles + kInvocations - 1u) / kInvocations;
  const uint begin = min(me * per, params.tiles);
  const uint end = min(begin + per, params.tiles);
  uint sum = 0u;
  for (uint t = begin; t < end; ++t) sum = saturating_add(sum, tile_counts.counts[t]);
  partial[me] = sum;
  barrier();
  if (me == 0u) {
    uint run = 0u;
    for (uint j = 0u; j < kInvocations; ++j) {
      const uint part = partial[j];
      partial[j] = run;
      run = saturating_add(run, part);
    }
  }
  barrier();
  uint first = partial[me];
  for (uint t = begin; t < end; ++t) {
    const uint n = tile_counts.counts[t];
    const bool fits = first <= params.entry_capacity && n <= params.entry_capacity - first;
    tile_offsets.offsets[t] = fits ? first : kNoRoom;
    first = saturating_add(first, n);
  }
}
