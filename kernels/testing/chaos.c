/* SPDX-License-Identifier: Apache-2.0
 * Chaos kernels: the particle kernel plus one kind of misbehaviour each, for
 * the kernel-boundary tests (tests/node/chaos.test.mjs). A kernel may spoil
 * its own output; none of these may crash the process, reach the engine's
 * memory, lose a frame from the accounting, or get a failed frame presented.
 * Built in variants (kernels/CMakeLists.txt), one define each:
 *   TP_CHAOS_SCRIBBLE=N   every chunk writes N random bytes at random
 *                         addresses anywhere in the kernel's memory (its
 *                         data, the context, every worker's stack, every slot)
 *   TP_CHAOS_OVERRUN=K    every chunk also writes K particles past its `end`
 *   TP_CHAOS_UNDERRUN=K   every chunk also writes K particles before `begin`
 *   TP_CHAOS_CONTEXT      chunk 0 overwrites the kernel context with garbage
 *   TP_CHAOS_NONFINITE    writes NaN, +-Inf, huge and negative sizes and
 *                         unknown shapes into a share of its particles
 * Stray writes are what a buggy kernel does: they can land outside the
 * kernel's memory (WASM traps: the frame fails) or inside it (garbage that
 * the render stage's validation must absorb). */
#define TP_PARTICLES_EMBEDDED 1
#include "../particles.c"

TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) { return TP_KERNEL_ABI_VERSION; }

TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) {
  return ctx->abi_version == TP_KERNEL_ABI_VERSION ? 0 : 1;
}

/* Per-call pseudo-random stream (no mutable globals: several workers). */
__attribute__((unused)) static inline uint32_t next_random(uint32_t* state) {
  *state = hash32(*state + 0x9e3779b9u);
  return *state;
}

#if defined(TP_CHAOS_OVERRUN) || defined(TP_CHAOS_UNDERRUN)
static void stray_particles(const tp_kernel_ctx* ctx, uint32_t first, uint32_t count, uint32_t seed) {
  /* Index arithmetic in 64 bits, then truncated to an address the way a
   * buggy pointer would be: underruns wrap below the slot. */
  tp_particle* out = (tp_particle*)tp_kernel_ptr(ctx, ctx->output_offset);
  for (uint32_t k = 0; k < count; ++k) {
    tp_particle* p = out + (int32_t)(first + k);
    p->x = unit_float(hash32(seed + k));
    p->y = unit_float(hash32(seed ^ k));
    p->vx = 0.0f;
    p->vy = 0.0f;
    p->size = 0.01f;
    p->rgba = 0xff00ffffu;
    p->shape = TP_SHAPE_CIRCLE;
    p->reserved = 0;
  }
}
#endif

TP_EXPORT(tp_kernel_step)
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  const uint32_t frame = (uint32_t)ctx->frame_id;
  __attribute__((unused)) uint32_t rng = hash32(frame * 0x85ebca6bu ^ begin);
  const int32_t rc = particles_step(ctx, begin, end);
#ifdef TP_CHAOS_SCRIBBLE
  {
    const uint32_t bytes = (uint32_t)__builtin_wasm_memory_size(0) * 65536u;
    for (uint32_t k = 0; k < (TP_CHAOS_SCRIBBLE); ++k) {
      volatile uint8_t* at = (volatile uint8_t*)(uintptr_t)(next_random(&rng) % bytes);
      *at = (uint8_t)next_random(&rng);
    }
  }
#endif
#ifdef TP_CHAOS_OVERRUN
  stray_particles(ctx, end, (TP_CHAOS_OVERRUN), rng);
#endif
#ifdef TP_CHAOS_UNDERRUN
  stray_particles(ctx, begin - (TP_CHAOS_UNDERRUN), (TP_CHAOS_UNDERRUN), rng);
#endif
#ifdef TP_CHAOS_CONTEXT
  if (begin == 0) {
    volatile uint32_t* words = (volatile uint32_t*)ctx;
    for (uint32_t k = 0; k < sizeof(tp_kernel_ctx) / 4; ++k) words[k] = next_random(&rng);
  }
#endif
#ifdef TP_CHAOS_NONFINITE
  {
    tp_particle* out = (tp_particle*)tp_kernel_ptr(ctx, ctx->output_offset);
    const float inf = __builtin_inff();
    for (uint32_t i = begin; i < end; ++i) {
      switch (hash32(i ^ frame) % 16u) {
        case 0: out[i].x = __builtin_nanf(""); break;
        case 1: out[i].y = inf; break;
        case 2: out[i].vx = -inf; break;
        case 3: out[i].size = 3.0e38f; break;
        case 4: out[i].size = -1.0f; break;
        case 5: out[i].shape = 0xdeadbeefu; break;
        case 6: out[i].x = 1.0e30f; break;
        default: break;
      }
    }
  }
#endif
  return rc;
}
