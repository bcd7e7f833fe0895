// SPDX-License-Identifier: Apache-2.0
// The GPU side of the particle boundary: one untrusted Particle record
// (include/triptych/render/scene.hpp) read from an imported compute slot,
// validated, clamped and placed in pixels by exactly the rules of the CPU
// layout pass (src/render/layout_pass.cpp), so both paths draw the same image
// and count the same verdicts. Included by particle.vert (drawing) and
// particle_count.comp (counting). docs/render-stage.md ("GPU particle pull").

// Binding 0: the compute slot, 8 words per particle. Read as words so a NaN
// reaches the finiteness test bit for bit.
layout(std430, set = 0, binding = 0) readonly buffer Particles { uint words[]; } slot;

layout(push_constant) uniform Params {
  vec2 viewport;         // target size in pixels
  vec2 origin;           // screen = (world - origin) * scale
  float scale;
  float velocity_scale;
  float max_size;        // pixels
  float max_line;        // pixels
  uint count;            // particles to read, checked on the CPU against the slot's bytes
} params;

// Verdicts: every particle lands in exactly one.
const uint kDrawn = 0u;
const uint kCulled = 1u;
const uint kNonfinite = 2u;
const uint kBadSize = 3u;
const uint kBadShape = 4u;

// The anti-aliasing margin quad_corner.glsl adds around every shape.
const float kMarginPx = 1.0;

struct Placed {
  vec2 a;       // centre, or line start
  vec2 b;       // half extents, or line end
  float param;  // corner radius, or line half thickness
  uint rgba;
  uint shape;
  uint verdict;
  bool clamped;
};

// By the bits: a compiler may assume no NaN reaches isnan().
bool finite_bits(uint bits) { return (bits & 0x7F800000u) != 0x7F800000u; }
bool finite(float v) { return finite_bits(floatBitsToUint(v)); }

// hypot without the overflow of length() for components near FLT_MAX.
float safe_length(vec2 d) {
  precise float m = max(abs(d.x), abs(d.y));
  if (m == 0.0 || !finite(m)) return m;
  return m * length(d / m);
}

Placed place(uint index) {
  Placed p;
  p.a = vec2(0.0);
  p.b = vec2(0.0);
  p.param = 0.0;
  p.clamped = false;
  const uint base = index * 8u;
  const uint xb = slot.words[base + 0u], yb = slot.words[base + 1u];
  const uint vxb = slot.words[base + 2u], vyb = slot.words[base + 3u];
  const uint sb = slot.words[base + 4u];
  p.rgba = slot.words[base + 5u];
  p.shape = slot.words[base + 6u];
  if (!finite_bits(xb) || !finite_bits(yb) || !finite_bits(sb)) { p.verdict = kNonfinite; return p; }
  if (p.shape >= 3u) { p.verdict = kBadShape; return p; }
  const bool line = p.shape == 2u;
  if (line && (!finite_bits(vxb) || !finite_bits(vyb))) { p.verdict = kNonfinite; return p; }
  const float q_size = uintBitsToFloat(sb);
  if (q_size < 0.0) { p.verdict = kBadSize; return p; }
  precise float size = q_size * params.scale;
  if (size > params.max_size) {
    size = params.max_size;
    p.clamped = true;
  }
  precise float ax = (uintBitsToFloat(xb) - params.origin.x) * params.scale;
  precise float ay = (uintBitsToFloat(yb) - params.origin.y) * params.scale;
  precise float bx = size;
  precise float by = size;
  if (line) {
    precise float dx = uintBitsToFloat(vxb) * params.velocity_scale * params.scale;
    precise float dy = uintBitsToFloat(vyb) * params.velocity_scale * params.scale;
    const float len = safe_length(vec2(dx, dy));
    if (finite(len) && len > params.max_line) {
      dx *= params.max_line / len;
      dy *= params.max_line / len;
      p.clamped = true;
    }
    bx = ax + dx;
    by = ay + dy;
  }
  // Off-screen by overflow (a huge but finite input) is culled like any other.
  precise float e = size + kMarginPx;
  const float x0 = line ? min(ax, bx) - e : ax - e;
  const float x1 = line ? max(ax, bx) + e : ax + e;
  const float y0 = line ? min(ay, by) - e : ay - e;
  const float y1 = line ? max(ay, by) + e : ay + e;
  const bool visible = finite(ax) && finite(ay) && finite(bx) && finite(by) && size > 0.0 &&
                       (p.rgba >> 24) != 0u && x1 > 0.0 && y1 > 0.0 && x0 < params.viewport.x &&
                       y0 < params.viewport.y;
  if (!visible) { p.verdict = kCulled; return p; }
  p.verdict = kDrawn;
  p.a = vec2(ax, ay);
  p.b = vec2(bx, by);
  p.param = p.shape == 0u ? 0.0 : (p.shape == 1u ? size * 0.25 : size);
  return p;
}
