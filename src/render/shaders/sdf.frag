// SPDX-License-Identifier: Apache-2.0
// Signed-distance coverage for the three shapes, evaluated at the pixel centre
// in the quad's local frame; coverage = clamp(0.5 - distance, 0, 1) gives a
// one-pixel anti-aliased edge. The CPU reference rasteriser
// (src/render/cpu_raster.cpp) uses the same formulas. See docs/render.md.
#version 450

layout(location = 0) in vec2 v_local;
layout(location = 1) flat in vec4 v_color;
layout(location = 2) flat in vec3 v_shape;
layout(location = 3) flat in uint v_kind;

layout(location = 0) out vec4 out_color;

void main() {
  vec2 p = v_local;
  float d;
  if (v_kind == 0u) {
    d = length(p) - v_shape.x;
  } else if (v_kind == 1u) {
    vec2 q = abs(p) - (v_shape.xy - vec2(v_shape.z));
    d = length(max(q, vec2(0.0))) + min(max(q.x, q.y), 0.0) - v_shape.z;
  } else {
    vec2 q = vec2(max(abs(p.x) - v_shape.x, 0.0), p.y);
    d = length(q) - v_shape.z;
  }
  float coverage = clamp(0.5 - d, 0.0, 1.0);
  out_color = vec4(v_color.rgb, v_color.a * coverage);
}
