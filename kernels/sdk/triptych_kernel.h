/* SPDX-License-Identifier: Apache-2.0
 * The triptych compute-kernel ABI (version 2), for C and C++ compiled to
 * wasm32 (and natively, for reference builds). A kernel is a module that
 * imports a shared memory (the kernel's memory: its own static data, stacks,
 * the context and the compute slots, and nothing of the engine's) and exports
 * three functions; the engine calls
 * tp_kernel_init once per worker instance and tp_kernel_step once per chunk,
 * from several workers at once on disjoint [begin, end) item ranges. A kernel
 * must therefore write only its own items of the output slot and keep no
 * mutable global state (thread-locals are fine: each worker has its own TLS).
 * Full guide: docs/wasm-kernels.md; byte layout: docs/PROTOCOL.md. */
#ifndef TRIPTYCH_KERNEL_H
#define TRIPTYCH_KERNEL_H

#include <stddef.h>
#include <stdint.h>

#define TP_KERNEL_ABI_VERSION 2u

#if defined(__wasm__)
#define TP_EXPORT(name) __attribute__((export_name(#name), visibility("default")))
#else
#define TP_EXPORT(name) __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* A kernel has no heap: the memory above __heap_base holds the engine's
 * context and the workers' stacks and TLS, which an allocator would hand out
 * and overwrite. So using one fails the build here, with a reason, rather
 * than corrupting frames at run time. (I/O, clocks and threads need no guard:
 * their wasi-libc headers refuse the wasm32 target and there is no pthread.h.) */
#if defined(__wasm__) && defined(__clang__)
#define TP_NO_HEAP __attribute__((unavailable("a triptych kernel has no heap: see 'What libc a kernel has' in docs/wasm-kernels.md")))
void* malloc(size_t size) TP_NO_HEAP;
void* calloc(size_t count, size_t size) TP_NO_HEAP;
void* realloc(void* block, size_t size) TP_NO_HEAP;
void free(void* block) TP_NO_HEAP;
void* aligned_alloc(size_t alignment, size_t size) TP_NO_HEAP;
int posix_memalign(void** block, size_t alignment, size_t size) TP_NO_HEAP;
#undef TP_NO_HEAP
#endif

/* One particle: 32 bytes, the item type of the default scene's compute slots
 * and the render stage's input (include/triptych/render/scene.hpp, Particle).
 * World units: [-1, 1] on both axes is the square that fills the image's
 * shorter side, centred; +x points right, +y points down (at 640x480, x
 * spans about +-1.333). Coordinates: docs/wasm-kernels.md. */
typedef struct tp_particle {
  float x, y;      /* position */
  float vx, vy;    /* velocity, world units per second */
  float size;      /* radius (circle) / half extent (rect) / half thickness (line) */
  uint32_t rgba;   /* straight RGBA8, R in the lowest byte */
  uint32_t shape;  /* TP_SHAPE_*; the renderer drops and counts unknown ids */
  uint32_t reserved; /* zero */
} tp_particle;

#define TP_SHAPE_CIRCLE 0u
#define TP_SHAPE_ROUNDED_RECT 1u
#define TP_SHAPE_LINE 2u

/* The per-frame context, written by the engine into the kernel's memory
 * before a frame's chunks are dispatched and read-only to kernels (the engine
 * rewrites every field each frame and never reads one back). 64 bytes,
 * little-endian. Offsets count from kernel_base, the address of the kernel's
 * memory's first byte (0 in WASM; natively, a real address). */
typedef struct tp_kernel_ctx {
  uint32_t abi_version;   /*  0: TP_KERNEL_ABI_VERSION */
  uint32_t item_count;    /*  4: items in the input and output slots */
  uint64_t frame_id;      /*  8: monotonically increasing, first frame is 1 */
  uint64_t kernel_base;   /* 16: address of the kernel's memory (0 in WASM) */
  uint64_t input_offset;  /* 24: previous compute frame (read-only) */
  uint64_t output_offset; /* 32: this frame's compute slot (write [begin,end) only) */
  uint32_t item_bytes;    /* 40: sizeof one item, sizeof(tp_particle) for particles */
  float dt;               /* 44: the nominal frame period, 1/hz (1/120 at hz 0), not measured */
  float time;             /* 48: (frame_id - 1) * dt, likewise nominal */
  uint32_t seed;          /* 52: run seed, for deterministic initial states */
  uint32_t flags;         /* 56: TP_CTX_* bits */
  uint32_t reserved;      /* 60: zero */
} tp_kernel_ctx;

/* flags: the input slot holds no previous frame; kernels initialise items. */
#define TP_CTX_FIRST_FRAME 1u

#ifdef __cplusplus
static_assert(sizeof(tp_kernel_ctx) == 64, "the ABI fixes the context at 64 bytes");
static_assert(sizeof(tp_particle) == 32, "the ABI fixes a particle at 32 bytes");
#else
_Static_assert(sizeof(tp_kernel_ctx) == 64, "the ABI fixes the context at 64 bytes");
_Static_assert(sizeof(tp_particle) == 32, "the ABI fixes a particle at 32 bytes");
#endif

/* Returns TP_KERNEL_ABI_VERSION; the engine refuses any other value. */
uint32_t tp_kernel_abi_version(void);
/* Once per worker instance, just before its first step, with that frame's
 * context (docs/wasm-kernels.md: which fields hold what). 0 = ok, else an
 * error code, which fails the chunk it preceded. */
int32_t tp_kernel_init(const tp_kernel_ctx* ctx);
/* Processes items [begin, end). 0 = ok; non-zero fails the frame. A trap
 * (out-of-bounds access, unreachable, stack overflow) also fails the frame. */
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end);

/* Address of an offset in the kernel's memory (input_offset, output_offset). */
static inline void* tp_kernel_ptr(const tp_kernel_ctx* ctx, uint64_t offset) {
#ifdef __cplusplus
  return reinterpret_cast<void*>(static_cast<uintptr_t>(ctx->kernel_base + offset));
#else
  return (void*)(uintptr_t)(ctx->kernel_base + offset);
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* TRIPTYCH_KERNEL_H */
