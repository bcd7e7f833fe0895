// SPDX-License-Identifier: Apache-2.0
// One instanced quad per layout Instance record (include/triptych/render/scene.hpp):
// a 4-vertex triangle strip covering the shape plus a 1-pixel anti-aliasing
// margin. Lines are oriented along their segment. Positions are in pixels
// (origin top-left, y down). See docs/render.md.
#version 450

layout(location = 0) in vec2 in_a;      // centre, or line start
layout(location = 1) in vec2 in_b;      // half extents, or line end
layout(location = 2) in float in_param; // corner radius, or line half thickness
layout(location = 3) in vec4 in_color;  // straight RGBA8 unorm
layout(location = 4) in uint in_shape;  // 0 circle, 1 rounded rect, 2 line

layout(push_constant) uniform Push { vec2 viewport; } pc;

layout(location = 0) out vec2 v_local;
layout(location = 1) flat out vec4 v_color;
layout(location = 2) flat out vec3 v_shape;
layout(location = 3) flat out uint v_kind;

const float kMargin = 1.0;

void main() {
  vec2 corner = vec2(float(gl_VertexIndex & 1), float(gl_VertexIndex >> 1)) * 2.0 - 1.0;
  vec2 centre = in_a;
  vec2 axis_x = vec2(1.0, 0.0);
  vec2 half_ext = in_b;
  v_shape = vec3(in_b, in_param);
  if (in_shape == 2u) {
    vec2 d = in_b - in_a;
    float len = length(d);
    axis_x = len > 1e-6 ? d / len : vec2(1.0, 0.0);
    centre = (in_a + in_b) * 0.5;
    half_ext = vec2(len * 0.5 + in_param, in_param);
    v_shape = vec3(len * 0.5, 0.0, in_param);
  }
  vec2 axis_y = vec2(-axis_x.y, axis_x.x);
  vec2 local = corner * (half_ext + kMargin);
  vec2 pixel = centre + axis_x * local.x + axis_y * local.y;
  v_local = local;
  v_color = in_color;
  v_kind = in_shape;
  gl_Position = vec4(pixel / pc.viewport * 2.0 - 1.0, 0.0, 1.0);
}
