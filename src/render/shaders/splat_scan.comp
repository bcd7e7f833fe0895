// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's allocation: one workgroup turns the tiles'
// counts into where each tile's list starts in tile_entries, in tile order.
// Where every list fits (the usual frame) it is an exclusive prefix sum,
// in parallel. Where they do not all fit, one invocation walks the tiles in
// order and gives each list that still fits its place (the rest get kNoRoom
// and are scanned by splat_shade.comp), so one crowded tile costs only
// itself. Saturating sums: hostile counts cannot wrap.
// docs/render-stage.md ("Compute splat renderer").
#version 450
#extension GL_GOOGLE_include_directive : require

layout(local_size_x = 256) in;

#include "splat_tile.glsl"

const uint kInvocations = 256u;

shared uint partial[kInvocations];
shared uint total;

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
    total = run;
  }
  barrier();
  if (total <= params.entry_capacity) {
    uint first = partial[me];
    for (uint t = begin; t < end; ++t) {
      tile_offsets.offsets[t] = first;
      first += tile_counts.counts[t];
    }
  } else if (me == 0u) {
    uint first = 0u;
    for (uint t = 0u; t < params.tiles; ++t) {
      const uint n = tile_counts.counts[t];
      const bool fits = n <= params.entry_capacity - first;
      tile_offsets.offsets[t] = fits ? first : kNoRoom;
      if (fits) first += n;
    }
  }
}
