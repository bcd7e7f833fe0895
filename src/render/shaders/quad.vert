// SPDX-License-Identifier: Apache-2.0
// One instanced quad per layout Instance record (include/triptych/render/scene.hpp):
// a 4-vertex triangle strip covering the shape plus a 1-pixel anti-aliasing
// margin (quad_corner.glsl). Positions are in pixels (origin top-left, y
// down). The CPU layout pass's path. See docs/render-stage.md.
#version 450
#extension GL_GOOGLE_include_directive : require

layout(location = 0) in vec2 in_a;      // centre, or line start
layout(location = 1) in vec2 in_b;      // half extents, or line end
layout(location = 2) in float in_param; // corner radius, or line half thickness
layout(location = 3) in vec4 in_color;  // straight RGBA8 unorm
layout(location = 4) in uint in_shape;  // 0 circle, 1 rounded rect, 2 line

layout(push_constant) uniform Push { vec2 viewport; } pc;

#include "quad_corner.glsl"

void main() {
  vec2 corner = vec2(float(gl_VertexIndex & 1), float(gl_VertexIndex >> 1)) * 2.0 - 1.0;
  emit_corner(corner, in_a, in_b, in_param, in_color, in_shape, pc.viewport);
}
