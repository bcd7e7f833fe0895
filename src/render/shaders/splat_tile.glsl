// SPDX-License-Identifier: Apache-2.0
// The compute splat renderer's shared rules (included by splat_bin.comp and
// splat_shade.comp): the placed Instance records it reads, re-validated (the
// layout zone lies in shared memory), the quad each one covers (the shape plus
// a one-pixel margin, lines oriented along their segment, exactly as
// quad_corner.glsl places it), the conservative tile test the binning uses, and
// the per-pixel coverage and 8-bit "over" blend of sdf.frag and a UNORM8
// attachment. docs/render-stage.md ("Compute splat renderer").

// The tile edge in pixels; one workgroup of 16 x 16 shades one tile.
const uint kTileSize = 16u;
// shape of a placed record that is not drawn (the GPU pull's culled or
// rejected particles keep their index so the order stays the particle order).
const uint kNotPlaced = 0xFFFFFFFFu;
const float kQuadMargin = 1.0;

// Binding 0: placed Instance records, 8 words each, in draw order.
layout(std430, set = 0, binding = 0) readonly buffer PlacedRecords { uint words[]; } placed;
// Binding 1: per tile, the records binned to it (the counting pass; zeroed each frame).
layout(std430, set = 0, binding = 1) buffer TileCounts { uint counts[]; } tile_counts;
// Binding 2: every tile's record indices, tile after tile (filled in no
// particular order; a tile's list sorts itself in place when it is too long
// for shared memory, hence coherent).
layout(std430, set = 0, binding = 2) coherent buffer TileEntries { uint entries[]; } tile_entries;
// Binding 3: splat statistics: tiles whose list found no room (zeroed each frame).
layout(std430, set = 0, binding = 3) buffer SplatStats { uint overflow_tiles; } stats;
// Binding 5: per tile, where its list starts in tile_entries, or kNoRoom.
layout(std430, set = 0, binding = 5) buffer TileOffsets { uint offsets[]; } tile_offsets;
// Binding 6: per tile, entries filled so far (the filling pass; zeroed each frame).
layout(std430, set = 0, binding = 6) buffer TileCursors { uint cursors[]; } tile_cursors;

// A tile whose list did not fit in tile_entries: shaded by a scan instead.
const uint kNoRoom = 0xFFFFFFFFu;

// The longest list sorted in shared memory (4 bytes each); longer ones sort in place.
layout(constant_id = 0) const uint kSharedList = 2048u;

layout(push_constant) uniform SplatParams {
  vec4 clear;          // the clear colour, straight RGBA in [0, 1]
  uvec2 extent;        // target size in pixels
  uint tiles_x;        // tiles per row
  uint count;          // placed records to draw
  uint tiles;          // tiles_x * tiles_y
  uint entry_capacity; // tile_entries' length
} params;

// a + b, or 0xFFFFFFFF where that overflows (hostile counts).
uint saturating_add(uint a, uint b) { return a > 0xFFFFFFFFu - b ? 0xFFFFFFFFu : a + b; }

// One placed record as the shader draws it.
struct Quad {
  vec2 centre;
  vec2 axis;      // the quad's local x axis (unit)
  vec2 ext;       // half extents of the quad, margin included
  vec3 shape;     // sdf.frag's v_shape
  uint kind;      // 0 circle, 1 rounded rect, 2 line
  vec4 color;     // straight RGBA
  vec2 reach;     // half extents of the quad's screen-aligned bounding box
  bool drawn;
};

bool splat_finite(float v) { return (floatBitsToUint(v) & 0x7F800000u) != 0x7F800000u; }

Quad quad_of(uint index) {
  const uint base = index * 8u;
  Quad q;
  const float ax = uintBitsToFloat(placed.words[base + 0u]);
  const float ay = uintBitsToFloat(placed.words[base + 1u]);
  const float bx = uintBitsToFloat(placed.words[base + 2u]);
  const float by = uintBitsToFloat(placed.words[base + 3u]);
  const float param = uintBitsToFloat(placed.words[base + 4u]);
  const uint rgba = placed.words[base + 5u];
  q.kind = placed.words[base + 6u];
  q.color = unpackUnorm4x8(rgba);
  q.centre = vec2(ax, ay);
  q.axis = vec2(1.0, 0.0);
  vec2 half_ext = vec2(bx, by);
  q.shape = vec3(bx, by, param);
  if (q.kind == 2u) {
    const float dx = bx - ax;
    const float dy = by - ay;
    const float len = sqrt(dx * dx + dy * dy);
    if (len > 1e-6) q.axis = vec2(dx, dy) / len;
    q.centre = vec2((ax + bx) * 0.5, (ay + by) * 0.5);
    half_ext = vec2(len * 0.5 + param, param);
    q.shape = vec3(len * 0.5, 0.0, param);
  }
  q.ext = half_ext + vec2(kQuadMargin);
  q.reach = vec2(abs(q.axis.x) * q.ext.x + abs(q.axis.y) * q.ext.y, abs(q.axis.y) * q.ext.x + abs(q.axis.x) * q.ext.y);
  q.drawn = q.kind < 3u && (rgba >> 24) != 0u && splat_finite(ax) && splat_finite(ay) && splat_finite(bx) &&
            splat_finite(by) && splat_finite(param) && splat_finite(q.centre.x) && splat_finite(q.centre.y) &&
            splat_finite(q.reach.x) && splat_finite(q.reach.y);
  return q;
}

// Whether the quad may cover a pixel centre of the tile at (tx, ty): the
// separating-axis test on the quad's own axes, widened so it never misses
// one (the screen axes are the bounding box the caller walks).
bool quad_meets_tile(Quad q, uint tx, uint ty) {
  const float half_tile = 0.5 * float(kTileSize);
  const vec2 d = vec2(float(tx * kTileSize) + half_tile, float(ty * kTileSize) + half_tile) - q.centre;
  const vec2 normal = vec2(-q.axis.y, q.axis.x);
  const float slack = 0.5;
  return abs(dot(d, q.axis)) <= q.ext.x + half_tile * (abs(q.axis.x) + abs(q.axis.y)) + slack &&
         abs(dot(d, normal)) <= q.ext.y + half_tile * (abs(normal.x) + abs(normal.y)) + slack;
}

// A UNORM8 store and load: round half up, as the CPU reference does.
vec4 unorm8(vec4 v) { return floor(clamp(v, 0.0, 1.0) * 255.0 + 0.5) / 255.0; }

// Blends the quad over `dst` at pixel (x, y) when the pixel centre lies in
// the quad, by sdf.frag's coverage and straight-alpha "over", rounded to 8
// bits as the raster path's attachment rounds every blend.
vec4 blend_quad(Quad q, vec4 dst, uint x, uint y) {
  const float qx = float(x) + 0.5 - q.centre.x;
  const float qy = float(y) + 0.5 - q.centre.y;
  const float lx = qx * q.axis.x + qy * q.axis.y;
  const float ly = -qx * q.axis.y + qy * q.axis.x;
  if (abs(lx) > q.ext.x || abs(ly) > q.ext.y) return dst;
  float d;
  if (q.kind == 0u) {
    d = sqrt(lx * lx + ly * ly) - q.shape.x;
  } else if (q.kind == 1u) {
    const float ax = abs(lx) - (q.shape.x - q.shape.z);
    const float ay = abs(ly) - (q.shape.y - q.shape.z);
    const float mx = max(ax, 0.0);
    const float my = max(ay, 0.0);
    d = sqrt(mx * mx + my * my) + min(max(ax, ay), 0.0) - q.shape.z;
  } else {
    const float ax = max(abs(lx) - q.shape.x, 0.0);
    d = sqrt(ax * ax + ly * ly) - q.shape.z;
  }
  const float a = q.color.a * clamp(0.5 - d, 0.0, 1.0);
  return unorm8(vec4(q.color.rgb * a + dst.rgb * (1.0 - a), a + dst.a * (1.0 - a)));
}
