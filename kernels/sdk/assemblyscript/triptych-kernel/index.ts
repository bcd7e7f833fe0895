// SPDX-License-Identifier: Apache-2.0
// The triptych compute-kernel ABI (version 2) for AssemblyScript: the same
// context, particle record and constants as kernels/sdk/triptych_kernel.h,
// with the same names, so docs/wasm-kernels.md's tables hold for both
// languages. A kernel imports them with `from "triptych-kernel"` and exports
// tp_kernel_abi_version, tp_kernel_init and tp_kernel_step itself; the
// exports the C linker adds (__stack_pointer, __heap_base, TLS) come from
// ../runtime.ts, which `triptych kernel build` compiles in. The engine calls
// tp_kernel_step from several workers at once on disjoint [begin, end)
// ranges: write only your own items. Guide: docs/wasm-kernels.md,
// "AssemblyScript kernels"; byte layout: docs/PROTOCOL.md.

export const TP_KERNEL_ABI_VERSION: u32 = 2;

export const TP_SHAPE_CIRCLE: u32 = 0;
export const TP_SHAPE_ROUNDED_RECT: u32 = 1;
export const TP_SHAPE_LINE: u32 = 2;

/** flags: the input slot holds no previous frame; kernels initialise items. */
export const TP_CTX_FIRST_FRAME: u32 = 1;

/** One particle: 32 bytes, little-endian, as `tp_particle` in C. World
 * units: [-1, 1] fills the image's shorter side, +x right, +y down. Never
 * `new`: a record is a view of the kernel's memory (`tp_particle_at`). */
@unmanaged
export class tp_particle {
  x: f32;        //  0: position
  y: f32;        //  4
  vx: f32;       //  8: velocity, world units per second
  vy: f32;       // 12
  size: f32;     // 16: radius (circle) / half extent (rect) / half thickness (line)
  rgba: u32;     // 20: straight RGBA8, R in the lowest byte
  shape: u32;    // 24: TP_SHAPE_*; the renderer drops and counts unknown ids
  reserved: u32; // 28: zero
}

/** The per-frame context, written by the engine before a frame's chunks and
 * read-only to kernels: 64 bytes, as `tp_kernel_ctx` in C. Offsets count
 * from kernel_base (0 in WASM). Which fields hold what in tp_kernel_init, on
 * the first frame and later: docs/wasm-kernels.md. */
@unmanaged
export class tp_kernel_ctx {
  abi_version: u32;   //  0: TP_KERNEL_ABI_VERSION
  item_count: u32;    //  4: items in the input and output slots
  frame_id: u64;      //  8: 1, 2, 3, ...
  kernel_base: u64;   // 16: address of the kernel's memory (0 in WASM)
  input_offset: u64;  // 24: previous successful frame (read-only)
  output_offset: u64; // 32: this frame's slot (write [begin, end) only)
  item_bytes: u32;    // 40: bytes per item, 32 for tp_particle
  dt: f32;            // 44: the nominal frame period, 1/hz, not measured
  time: f32;          // 48: (frame_id - 1) * dt, likewise nominal
  seed: u32;          // 52: run seed, for deterministic initial states
  flags: u32;         // 56: TP_CTX_* bits
  reserved: u32;      // 60: zero
}

/** Address of an offset in the kernel's memory (input_offset, output_offset). */
// @ts-ignore: decorator
@inline
export function tp_kernel_ptr(ctx: tp_kernel_ctx, offset: u64): usize {
  return <usize>(ctx.kernel_base + offset);
}

/** Particle `index` of the slot at `slot` (an address from tp_kernel_ptr). */
// @ts-ignore: decorator
@inline
export function tp_particle_at(slot: usize, index: u32): tp_particle {
  return changetype<tp_particle>(slot + (<usize>index << 5));
}

/** A 32-bit integer hash, for deterministic initial states from
 * (ctx.seed, index): the one kernels/particles.c and the C template use. */
// @ts-ignore: decorator
@inline
export function tp_hash32(x: u32): u32 {
  x ^= x >>> 16;
  x *= 0x7feb352d;
  x ^= x >>> 15;
  x *= 0x846ca68b;
  x ^= x >>> 16;
  return x;
}
