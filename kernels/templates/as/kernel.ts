// SPDX-License-Identifier: Apache-2.0
// @NAME@: a triptych compute kernel in AssemblyScript. Every particle
// starts at a seeded place with a seeded velocity, falls (+y points down the
// screen) and bounces inside the [-1, 1] square. The engine runs
// tp_kernel_step on several workers at once, each on its own [begin, end):
// write only your own particles. Build and run: README.md. Guide:
// docs/wasm-kernels.md in triptych, "AssemblyScript kernels".
import {
  TP_CTX_FIRST_FRAME, TP_KERNEL_ABI_VERSION, TP_SHAPE_CIRCLE,
  tp_hash32, tp_kernel_ctx, tp_kernel_ptr, tp_particle, tp_particle_at,
} from "triptych-kernel";

const GRAVITY: f32 = 1.5; // world units per second squared
const BOUNCE: f32 = 0.85; // share of the speed kept at each bounce

// [0, 1)
function unit(h: u32): f32 {
  return <f32>(h >>> 8) * <f32>(1.0 / 16777216.0);
}

// Particle i of the first frame: the same for a given seed, whatever the chunking.
function spawn(p: tp_particle, seed: u32, i: u32): void {
  const h = tp_hash32(seed ^ (i * 0x9e3779b9));
  const angle = <f32>6.2831853 * unit(h);
  const speed = <f32>0.2 + <f32>0.8 * unit(tp_hash32(h));
  p.x = <f32>1.8 * unit(tp_hash32(h ^ 1)) - <f32>0.9;
  p.y = <f32>1.8 * unit(tp_hash32(h ^ 2)) - <f32>0.9;
  p.vx = speed * Mathf.cos(angle);
  p.vy = speed * Mathf.sin(angle);
  p.size = 0.004;
  p.rgba = 0xff000000 | (tp_hash32(h ^ 3) & 0x00ffffff); // opaque, seeded colour
  p.shape = TP_SHAPE_CIRCLE;
  p.reserved = 0;
}

export function tp_kernel_abi_version(): u32 {
  return TP_KERNEL_ABI_VERSION;
}

// Once per worker instance: refuse a scene whose items are not particles.
export function tp_kernel_init(ctx: tp_kernel_ctx): i32 {
  return ctx.item_bytes == offsetof<tp_particle>() ? 0 : 1;
}

export function tp_kernel_step(ctx: tp_kernel_ctx, begin: u32, end: u32): i32 {
  const out = tp_kernel_ptr(ctx, ctx.output_offset);
  if (ctx.flags & TP_CTX_FIRST_FRAME) { // no previous frame: the input holds nothing yet
    for (let i = begin; i < end; ++i) spawn(tp_particle_at(out, i), ctx.seed, i);
    return 0;
  }
  const input = tp_kernel_ptr(ctx, ctx.input_offset);
  const dt = ctx.dt;
  for (let i = begin; i < end; ++i) {
    const from = tp_particle_at(input, i), p = tp_particle_at(out, i);
    let x = from.x, y = from.y, vx = from.vx, vy = from.vy + GRAVITY * dt;
    x += vx * dt;
    y += vy * dt;
    // Reflect a coordinate that left [-1, 1] back inside, slowing it.
    if (x > 1.0) { x = <f32>2.0 - x; vx = -BOUNCE * Mathf.abs(vx); }
    else if (x < -1.0) { x = <f32>-2.0 - x; vx = BOUNCE * Mathf.abs(vx); }
    if (y > 1.0) { y = <f32>2.0 - y; vy = -BOUNCE * Mathf.abs(vy); }
    else if (y < -1.0) { y = <f32>-2.0 - y; vy = BOUNCE * Mathf.abs(vy); }
    p.x = x; p.y = y; p.vx = vx; p.vy = vy;
    p.size = from.size; p.rgba = from.rgba; p.shape = from.shape; p.reserved = 0;
  }
  return 0;
}
