// SPDX-License-Identifier: Apache-2.0
// The GPU particle pull: six vertices (two triangles, the same diagonal as
// quad.vert's strip) per particle, read straight from the imported compute
// slot, validated and placed by particle_rules.glsl. A particle that is not
// drawn collapses to one point outside the clip volume: no fragment. Indices
// beyond params.count are never drawn (the CPU sizes the draw), and
// robustBufferAccess keeps any read inside the slot. docs/render-stage.md.
#version 450
#extension GL_GOOGLE_include_directive : require

#include "particle_rules.glsl"
#include "quad_corner.glsl"

// Triangles (0, 1, 2) and (2, 1, 3) of the strip's corners.
const uint kCorner[6] = uint[6](0u, 1u, 2u, 2u, 1u, 3u);

void main() {
  const uint index = uint(gl_VertexIndex) / 6u;
  const uint c = kCorner[uint(gl_VertexIndex) % 6u];
  const Placed p = place(index);
  if (p.verdict != kDrawn) {
    v_local = vec2(0.0);
    v_color = vec4(0.0);
    v_shape = vec3(0.0);
    v_kind = 0u;
    gl_Position = vec4(-2.0, -2.0, 0.0, 1.0);
    return;
  }
  vec2 corner = vec2(float(c & 1u), float(c >> 1u)) * 2.0 - 1.0;
  emit_corner(corner, p.a, p.b, p.param, unpackUnorm4x8(p.rgba), p.shape, params.viewport);
}
