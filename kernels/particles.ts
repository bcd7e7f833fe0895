// SPDX-License-Identifier: Apache-2.0
// The default particle kernel (kernels/particles.c) in AssemblyScript: the
// same curl-noise field, attractors, walls and looks, 4-wide with v128, in
// the same IEEE operations in the same order (AssemblyScript never fuses a
// multiply-add), so its frames equal the C kernel's bit for bit
// (tests/node/kernel_as.test.mjs) and bench/node/kernel_lang_bench.mjs
// compares the two languages on one computation. Safe to call from several
// workers at once on disjoint ranges: no mutable state. Build:
// `triptych kernel build kernels/particles.ts`. Guide: docs/wasm-kernels.md.
import {
  TP_CTX_FIRST_FRAME, TP_KERNEL_ABI_VERSION, TP_SHAPE_CIRCLE, TP_SHAPE_ROUNDED_RECT,
  tp_hash32, tp_kernel_ctx, tp_kernel_ptr, tp_particle, tp_particle_at,
} from "triptych-kernel";

const FLOW_GAIN: f32 = 1.6;       // curl field -> acceleration
const ATTRACTOR_GAIN: f32 = 0.9;  // attractor pull
const SOFTENING: f32 = 0.02;      // keeps the pull finite at the centre
const DAMPING: f32 = 0.985;       // per-step velocity decay
const BASE_SIZE: f32 = 0.0035;
const SPEED_FOR_FULL_COLOUR: f32 = 1.5;

// @ts-ignore: decorator
@inline function splat(x: f32): v128 { return f32x4.splat(x); }

// cos(x) for |x| < ~1e6: Cody-Waite reduction to [-pi, pi], then an even
// Taylor polynomial to x^14: particles.c's cos4, operation for operation.
function cos4(x: v128): v128 {
  let q = f32x4.mul(x, splat(0.15915494309189535));
  q = f32x4.add(q, v128.bitselect(splat(0.5), splat(-0.5), f32x4.ge(q, splat(0.0))));
  const k = f32x4.convert_i32x4_s(i32x4.trunc_sat_f32x4_s(q));
  let r = f32x4.sub(x, f32x4.mul(k, splat(6.28125)));
  r = f32x4.sub(r, f32x4.mul(k, splat(0.0019353071795864769)));
  const r2 = f32x4.mul(r, r);
  let p = splat(-1.1470745597729725e-11);                          // -1/14!
  p = f32x4.add(f32x4.mul(p, r2), splat(2.08767569878681e-09));     //  1/12!
  p = f32x4.add(f32x4.mul(p, r2), splat(-2.755731922398589e-07));   // -1/10!
  p = f32x4.add(f32x4.mul(p, r2), splat(2.48015873015873e-05));     //  1/8!
  p = f32x4.add(f32x4.mul(p, r2), splat(-0.001388888888888889));    // -1/6!
  p = f32x4.add(f32x4.mul(p, r2), splat(0.041666666666666664));     //  1/4!
  p = f32x4.add(f32x4.mul(p, r2), splat(-0.5));                     // -1/2!
  return f32x4.add(f32x4.mul(p, r2), splat(1.0));
}

// [-1, 1)
// @ts-ignore: decorator
@inline function unit_float(h: u32): f32 {
  return <f32>(h >>> 8) * <f32>(2.0 / 16777216.0) - <f32>1.0;
}

// @ts-ignore: decorator
@inline function lerp_channel(a: f32, b: f32, t: f32): u32 {
  return <u32>(a + (b - a) * t + <f32>0.5);
}

// Size and colour follow speed; every 64th particle is a rounded square.
function style(p: tp_particle, index: u32): void {
  const speed2 = p.vx * p.vx + p.vy * p.vy;
  let t = speed2 * (<f32>1.0 / (SPEED_FOR_FULL_COLOUR * SPEED_FOR_FULL_COLOUR));
  t = t > <f32>1.0 ? <f32>1.0 : t;
  p.size = BASE_SIZE * (<f32>1.0 + t);
  const r = lerp_channel(40.0, 255.0, t), g = lerp_channel(90.0, 220.0, t);
  const b = lerp_channel(255.0, 160.0, t), a: u32 = 200;
  p.rgba = r | (g << 8) | (b << 16) | (a << 24);
  p.shape = (index & 63) == 0 ? TP_SHAPE_ROUNDED_RECT : TP_SHAPE_CIRCLE;
  p.reserved = 0;
}

function init_range(ctx: tp_kernel_ctx, out: usize, begin: u32, end: u32): void {
  for (let i = begin; i < end; ++i) {
    const h = tp_hash32(ctx.seed ^ (i * 0x9e3779b9));
    const p = tp_particle_at(out, i);
    p.x = unit_float(h) * <f32>0.9;
    p.y = unit_float(tp_hash32(h)) * <f32>0.9;
    p.vx = 0.0;
    p.vy = 0.0;
    style(p, i);
  }
}

// The three attractors at time t, each coordinate splatted; module-level
// globals are per worker instance (never shared), so one step's attractors
// can live here without a heap.
let ax0: v128 = splat(0.0), ay0: v128 = splat(0.0);
let ax1: v128 = splat(0.0), ay1: v128 = splat(0.0);
let ax2: v128 = splat(0.0), ay2: v128 = splat(0.0);

function attractors_at(t: f32): void {
  // lane 0: cos(0.3t + 2 pi i/3), lane 1: sin(0.4t + 2 pi i/3) for attractor i.
  for (let i = 0; i < 3; ++i) {
    const phase = <f32>2.0943951023931953 * <f32>i;
    const c = cos4(f32x4(<f32>0.3 * t + phase, <f32>0.4 * t + phase - <f32>1.5707963267948966, 0.0, 0.0));
    const x = splat(<f32>0.55 * f32x4.extract_lane(c, 0)), y = splat(<f32>0.55 * f32x4.extract_lane(c, 1));
    if (i == 0) { ax0 = x; ay0 = y; } else if (i == 1) { ax1 = x; ay1 = y; } else { ax2 = x; ay2 = y; }
  }
}

// State of four particles, structure of arrays: read by step4's caller.
let sx: v128 = splat(0.0), sy: v128 = splat(0.0), svx: v128 = splat(0.0), svy: v128 = splat(0.0);

// One curl-noise wave a * sin(kx x + ky y + w t): returns a cos(theta); its
// curl adds (ky, -kx) times that to the force.
// @ts-ignore: decorator
@inline function wave(x: v128, y: v128, a: f32, kx: f32, ky: f32, w: f32, t: f32): v128 {
  const theta = f32x4.add(f32x4.add(f32x4.mul(splat(kx), x), f32x4.mul(splat(ky), y)), splat(w * t));
  return f32x4.mul(splat(a), cos4(theta));
}

// @ts-ignore: decorator
@inline function pull(f: v128, d: v128, inv: v128): v128 { return f32x4.add(f, f32x4.mul(d, inv)); }

// @ts-ignore: decorator
@inline function inverse_distance(dx: v128, dy: v128): v128 {
  return f32x4.div(splat(ATTRACTOR_GAIN), f32x4.add(f32x4.add(f32x4.mul(dx, dx), f32x4.mul(dy, dy)), splat(SOFTENING)));
}

function step4(t: f32, dt: f32): void {
  let x = sx, y = sy, vx = svx, vy = svy;
  let fx = splat(0.0), fy = splat(0.0);
  // The waves of particles.c's kWave* tables, in the same order.
  let ac = wave(x, y, 0.55, 2.1, 1.7, 0.40, t);
  fx = f32x4.add(fx, f32x4.mul(ac, splat(1.7))); fy = f32x4.sub(fy, f32x4.mul(ac, splat(2.1)));
  ac = wave(x, y, 0.35, -3.3, 2.9, -0.65, t);
  fx = f32x4.add(fx, f32x4.mul(ac, splat(2.9))); fy = f32x4.sub(fy, f32x4.mul(ac, splat(-3.3)));
  ac = wave(x, y, 0.22, 5.2, -4.6, 0.90, t);
  fx = f32x4.add(fx, f32x4.mul(ac, splat(-4.6))); fy = f32x4.sub(fy, f32x4.mul(ac, splat(5.2)));
  ac = wave(x, y, 0.12, -7.9, 8.3, 1.30, t);
  fx = f32x4.add(fx, f32x4.mul(ac, splat(8.3))); fy = f32x4.sub(fy, f32x4.mul(ac, splat(-7.9)));
  fx = f32x4.mul(fx, splat(FLOW_GAIN));
  fy = f32x4.mul(fy, splat(FLOW_GAIN));
  let dx = f32x4.sub(ax0, x), dy = f32x4.sub(ay0, y), inv = inverse_distance(dx, dy);
  fx = pull(fx, dx, inv); fy = pull(fy, dy, inv);
  dx = f32x4.sub(ax1, x); dy = f32x4.sub(ay1, y); inv = inverse_distance(dx, dy);
  fx = pull(fx, dx, inv); fy = pull(fy, dy, inv);
  dx = f32x4.sub(ax2, x); dy = f32x4.sub(ay2, y); inv = inverse_distance(dx, dy);
  fx = pull(fx, dx, inv); fy = pull(fy, dy, inv);
  const vdt = splat(dt);
  vx = f32x4.add(f32x4.mul(vx, splat(DAMPING)), f32x4.mul(fx, vdt));
  vy = f32x4.add(f32x4.mul(vy, splat(DAMPING)), f32x4.mul(fy, vdt));
  x = f32x4.add(x, f32x4.mul(vx, vdt));
  y = f32x4.add(y, f32x4.mul(vy, vdt));
  // Reflect off the walls of the [-1, 1] square.
  const one = splat(1.0), minus_one = splat(-1.0), two = splat(2.0), minus_two = splat(-2.0);
  let hi = f32x4.gt(x, one), lo = f32x4.lt(x, minus_one);
  x = v128.bitselect(f32x4.sub(two, x), v128.bitselect(f32x4.sub(minus_two, x), x, lo), hi);
  vx = v128.bitselect(f32x4.neg(vx), vx, v128.or(hi, lo));
  hi = f32x4.gt(y, one);
  lo = f32x4.lt(y, minus_one);
  y = v128.bitselect(f32x4.sub(two, y), v128.bitselect(f32x4.sub(minus_two, y), y, lo), hi);
  vy = v128.bitselect(f32x4.neg(vy), vy, v128.or(hi, lo));
  // Clamp what a huge dt could still push outside.
  x = v128.bitselect(one, v128.bitselect(minus_one, x, f32x4.lt(x, minus_one)), f32x4.gt(x, one));
  y = v128.bitselect(one, v128.bitselect(minus_one, y, f32x4.lt(y, minus_one)), f32x4.gt(y, one));
  sx = x; sy = y; svx = vx; svy = vy;
}

function particles_step(ctx: tp_kernel_ctx, begin: u32, end: u32): i32 {
  if (ctx.item_bytes != offsetof<tp_particle>()) return 2;
  if (begin > end || end > ctx.item_count) return 3;
  const out = tp_kernel_ptr(ctx, ctx.output_offset);
  if (ctx.flags & TP_CTX_FIRST_FRAME) {
    init_range(ctx, out, begin, end);
    return 0;
  }
  const input = tp_kernel_ptr(ctx, ctx.input_offset);
  attractors_at(ctx.time);
  const t = ctx.time, dt = ctx.dt;
  let i = begin;
  for (; i + 4 <= end; i += 4) {
    // AoS -> SoA: four {x, y, vx, vy} records become x, y, vx, vy vectors.
    const at = input + (<usize>i << 5);
    const r0 = v128.load(at), r1 = v128.load(at, 32), r2 = v128.load(at, 64), r3 = v128.load(at, 96);
    const t01lo = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5); // x0 x1 y0 y1
    const t23lo = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5); // x2 x3 y2 y3
    const t01hi = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7); // vx0 vx1 vy0 vy1
    const t23hi = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
    sx = v128.shuffle<f32>(t01lo, t23lo, 0, 1, 4, 5);
    sy = v128.shuffle<f32>(t01lo, t23lo, 2, 3, 6, 7);
    svx = v128.shuffle<f32>(t01hi, t23hi, 0, 1, 4, 5);
    svy = v128.shuffle<f32>(t01hi, t23hi, 2, 3, 6, 7);
    step4(t, dt);
    const xy01 = v128.shuffle<f32>(sx, sy, 0, 4, 1, 5); // x0 y0 x1 y1
    const xy23 = v128.shuffle<f32>(sx, sy, 2, 6, 3, 7);
    const v01 = v128.shuffle<f32>(svx, svy, 0, 4, 1, 5);
    const v23 = v128.shuffle<f32>(svx, svy, 2, 6, 3, 7);
    const to = out + (<usize>i << 5);
    v128.store(to, v128.shuffle<f32>(xy01, v01, 0, 1, 4, 5));
    v128.store(to, v128.shuffle<f32>(xy01, v01, 2, 3, 6, 7), 32);
    v128.store(to, v128.shuffle<f32>(xy23, v23, 0, 1, 4, 5), 64);
    v128.store(to, v128.shuffle<f32>(xy23, v23, 2, 3, 6, 7), 96);
    for (let j = i; j < i + 4; ++j) style(tp_particle_at(out, j), j);
  }
  for (; i < end; ++i) { // tail: one particle in lane 0, the same arithmetic
    const from = tp_particle_at(input, i), p = tp_particle_at(out, i);
    sx = splat(from.x); sy = splat(from.y); svx = splat(from.vx); svy = splat(from.vy);
    step4(t, dt);
    p.x = f32x4.extract_lane(sx, 0);
    p.y = f32x4.extract_lane(sy, 0);
    p.vx = f32x4.extract_lane(svx, 0);
    p.vy = f32x4.extract_lane(svy, 0);
    style(p, i);
  }
  return 0;
}

export function tp_kernel_abi_version(): u32 {
  return TP_KERNEL_ABI_VERSION;
}

export function tp_kernel_init(ctx: tp_kernel_ctx): i32 {
  return ctx.abi_version == TP_KERNEL_ABI_VERSION ? 0 : 1;
}

export function tp_kernel_step(ctx: tp_kernel_ctx, begin: u32, end: u32): i32 {
  return particles_step(ctx, begin, end);
}
