// SPDX-License-Identifier: Apache-2.0
// One corner of the quad that covers an instance (a shape plus a 1-pixel
// anti-aliasing margin; lines oriented along their segment), and the varyings
// sdf.frag reads. Shared by quad.vert (instances from a layout zone) and
// particle.vert (particles pulled from a compute slot), so both paths place
// pixels identically. docs/render-stage.md ("Drawing").

layout(location = 0) out vec2 v_local;
layout(location = 1) flat out vec4 v_color;
layout(location = 2) flat out vec3 v_shape;
layout(location = 3) flat out uint v_kind;

// corner: (+-1, +-1). a, b, param, shape as in Instance; viewport in pixels.
void emit_corner(vec2 corner, vec2 a, vec2 b, float param, vec4 color, uint shape, vec2 viewport) {
  const float kMargin = 1.0;
  vec2 centre = a;
  vec2 axis_x = vec2(1.0, 0.0);
  vec2 half_ext = b;
  v_shape = vec3(b, param);
  if (shape == 2u) {
    vec2 d = b - a;
    float len = length(d);
    axis_x = len > 1e-6 ? d / len : vec2(1.0, 0.0);
    centre = (a + b) * 0.5;
    half_ext = vec2(len * 0.5 + param, param);
    v_shape = vec3(len * 0.5, 0.0, param);
  }
  vec2 axis_y = vec2(-axis_x.y, axis_x.x);
  vec2 local = corner * (half_ext + kMargin);
  vec2 pixel = centre + axis_x * local.x + axis_y * local.y;
  v_local = local;
  v_color = color;
  v_kind = shape;
  gl_Position = vec4(pixel / viewport * 2.0 - 1.0, 0.0, 1.0);
}
