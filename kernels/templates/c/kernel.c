/* SPDX-License-Identifier: Apache-2.0
 * @NAME@: a triptych compute kernel. Every particle starts at a seeded place
 * with a seeded velocity, falls (+y points down the screen) and bounces
 * inside the [-1, 1] square. The engine runs tp_kernel_step on several
 * workers at once, each on its own [begin, end): no mutable globals.
 * Build and run: README.md. Guide: docs/wasm-kernels.md in triptych. */
#include <math.h>

#include "triptych_kernel.h"

#ifndef TP_GRAVITY
#define TP_GRAVITY 1.5f /* world units per second squared; build with -DTP_GRAVITY=... to change */
#endif

static const float kBounce = 0.85f; /* share of the speed kept at each bounce */

static uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352du;
  x ^= x >> 15;
  x *= 0x846ca68bu;
  x ^= x >> 16;
  return x;
}

static float unit(uint32_t h) { return (float)(h >> 8) * (1.0f / 16777216.0f); } /* [0, 1) */

/* Particle i of the first frame: the same for a given seed, whatever the chunking. */
static tp_particle spawn(uint32_t seed, uint32_t i) {
  const uint32_t h = hash32(seed ^ (i * 0x9e3779b9u));
  const float angle = 6.2831853f * unit(h);
  const float speed = 0.2f + 0.8f * unit(hash32(h));
  tp_particle p = {0};
  p.x = 1.8f * unit(hash32(h ^ 1u)) - 0.9f;
  p.y = 1.8f * unit(hash32(h ^ 2u)) - 0.9f;
  p.vx = speed * cosf(angle);
  p.vy = speed * sinf(angle);
  p.size = 0.004f;
  p.rgba = 0xff000000u | (hash32(h ^ 3u) & 0x00ffffffu); /* opaque, seeded colour */
  p.shape = TP_SHAPE_CIRCLE;
  return p;
}

/* Reflects a coordinate that left [-1, 1] back inside, slowing it. */
static void bounce(float* position, float* velocity) {
  if (*position > 1.0f) {
    *position = 2.0f - *position;
    *velocity = -kBounce * fabsf(*velocity);
  } else if (*position < -1.0f) {
    *position = -2.0f - *position;
    *velocity = kBounce * fabsf(*velocity);
  }
}

TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) { return TP_KERNEL_ABI_VERSION; }

/* Once per worker instance: refuse a scene whose items are not particles. */
TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) {
  return ctx->item_bytes == sizeof(tp_particle) ? 0 : 1;
}

TP_EXPORT(tp_kernel_step)
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  tp_particle* out = tp_kernel_ptr(ctx, ctx->output_offset);
  if (ctx->flags & TP_CTX_FIRST_FRAME) { /* no previous frame: the input holds nothing yet */
    for (uint32_t i = begin; i < end; ++i) out[i] = spawn(ctx->seed, i);
    return 0;
  }
  const tp_particle* in = tp_kernel_ptr(ctx, ctx->input_offset);
  const float dt = ctx->dt;
  for (uint32_t i = begin; i < end; ++i) {
    tp_particle p = in[i];
    p.vy += TP_GRAVITY * dt;
    p.x += p.vx * dt;
    p.y += p.vy * dt;
    bounce(&p.x, &p.vx);
    bounce(&p.y, &p.vy);
    out[i] = p;
  }
  return 0;
}
