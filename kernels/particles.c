/* SPDX-License-Identifier: Apache-2.0
 * The default kernel: particles advected through a time-varying curl-noise
 * field with three moving attractors, inside the [-1, 1] square. Memory-bound
 * and written with 4-wide vector extensions, so the same source compiles to
 * wasm32 simd128 and to native SSE with the same SIMD width; built with
 * -ffp-contract=off and no fast-math, the two builds are bit-exact (the
 * native build is the reference in tests). Safe to call from several workers
 * at once on disjoint ranges: no mutable globals. ABI: kernels/sdk/triptych_kernel.h,
 * guide: docs/wasm-kernels.md. */
#include "triptych_kernel.h"

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

enum { kWaves = 4, kAttractors = 3 };

/* Wave k contributes a_k * sin(fx_k x + fy_k y + w_k t) to the stream function. */
static const float kWaveAmp[kWaves] = {0.55f, 0.35f, 0.22f, 0.12f};
static const float kWaveFx[kWaves] = {2.1f, -3.3f, 5.2f, -7.9f};
static const float kWaveFy[kWaves] = {1.7f, 2.9f, -4.6f, 8.3f};
static const float kWaveW[kWaves] = {0.40f, -0.65f, 0.90f, 1.30f};

static const float kFlowGain = 1.6f;      /* curl field → acceleration */
static const float kAttractorGain = 0.9f; /* attractor pull */
static const float kSoftening = 0.02f;    /* keeps the pull finite at the centre */
static const float kDamping = 0.985f;     /* per-step velocity decay */

static inline v4f splat(float x) { return (v4f){x, x, x, x}; }

static inline v4f select4(v4i mask, v4f a, v4f b) {
  return (v4f)((mask & (v4i)a) | (~mask & (v4i)b));
}

/* cos(x) for |x| < ~1e6: Cody–Waite reduction to [-pi, pi], then an even
 * Taylor polynomial to x^14 (|error| < 5e-6 there). Plain IEEE operations in
 * a fixed order, so wasm and native agree bit for bit. */
static inline v4f cos4(v4f x) {
  const v4f inv_two_pi = splat(0.15915494309189535f);
  const v4f two_pi_hi = splat(6.28125f);
  const v4f two_pi_lo = splat(0.0019353071795864769f);
  v4f q = x * inv_two_pi;
  q = q + select4(q >= splat(0.0f), splat(0.5f), splat(-0.5f));
  const v4f k = __builtin_convertvector(__builtin_convertvector(q, v4i), v4f);
  v4f r = x - k * two_pi_hi;
  r = r - k * two_pi_lo;
  const v4f r2 = r * r;
  v4f p = splat(-1.1470745597729725e-11f);           /* -1/14! */
  p = p * r2 + splat(2.08767569878681e-09f);         /*  1/12! */
  p = p * r2 + splat(-2.755731922398589e-07f);       /* -1/10! */
  p = p * r2 + splat(2.48015873015873e-05f);         /*  1/8!  */
  p = p * r2 + splat(-0.001388888888888889f);        /* -1/6!  */
  p = p * r2 + splat(0.041666666666666664f);         /*  1/4!  */
  p = p * r2 + splat(-0.5f);                         /* -1/2!  */
  p = p * r2 + splat(1.0f);
  return p;
}


/* Deterministic initial state from (seed, index): a 32-bit integer hash. */
static inline uint32_t hash32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

static inline float unit_float(uint32_t h) { /* [-1, 1) */
  return (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

/* Looks: size and colour follow speed (slow: small, deep blue; fast: larger,
 * warm white); every 64th particle is a rounded square. Scalar, after the
 * vector step, in the same order in both builds. */
static const float kBaseSize = 0.0035f;
static const float kSpeedForFullColour = 1.5f;

static inline uint32_t lerp_channel(float a, float b, float t) {
  return (uint32_t)(a + (b - a) * t + 0.5f);
}

static inline void style(tp_particle* p, uint32_t index) {
  const float speed2 = p->vx * p->vx + p->vy * p->vy;
  float t = speed2 * (1.0f / (kSpeedForFullColour * kSpeedForFullColour));
  t = t > 1.0f ? 1.0f : t;
  p->size = kBaseSize * (1.0f + t);
  const uint32_t r = lerp_channel(40.0f, 255.0f, t), g = lerp_channel(90.0f, 220.0f, t);
  const uint32_t b = lerp_channel(255.0f, 160.0f, t), a = 200u;
  p->rgba = r | (g << 8) | (b << 16) | (a << 24);
  p->shape = (index & 63u) == 0u ? TP_SHAPE_ROUNDED_RECT : TP_SHAPE_CIRCLE;
  p->reserved = 0u;
}

static void init_range(const tp_kernel_ctx* ctx, tp_particle* out, uint32_t begin, uint32_t end) {
  for (uint32_t i = begin; i < end; ++i) {
    const uint32_t h = hash32(ctx->seed ^ (i * 0x9e3779b9U));
    out[i].x = unit_float(h) * 0.9f;
    out[i].y = unit_float(hash32(h)) * 0.9f;
    out[i].vx = 0.0f;
    out[i].vy = 0.0f;
    style(&out[i], i);
  }
}

typedef struct attractors {
  v4f x[kAttractors], y[kAttractors];
} attractors;

static attractors attractors_at(float t) {
  attractors a;
  /* lane 0: cos(0.3t + 2πi/3), lane 1: sin(0.4t + 2πi/3) for each attractor. */
  for (int i = 0; i < kAttractors; ++i) {
    const float phase = 2.0943951023931953f * (float)i;
    const v4f c = cos4((v4f){0.3f * t + phase, 0.4f * t + phase - 1.5707963267948966f, 0.0f, 0.0f});
    a.x[i] = splat(0.55f * c[0]);
    a.y[i] = splat(0.55f * c[1]);
  }
  return a;
}

/* Four particles, structure-of-arrays. */
static inline void step4(const attractors* a, float t, float dt, v4f* px, v4f* py, v4f* pvx,
                         v4f* pvy) {
  v4f x = *px, y = *py, vx = *pvx, vy = *pvy;
  v4f fx = splat(0.0f), fy = splat(0.0f);
  for (int k = 0; k < kWaves; ++k) {
    /* curl of a*sin(θ): (∂ψ/∂y, -∂ψ/∂x) = a cos(θ) (fy, -fx) */
    const v4f theta = splat(kWaveFx[k]) * x + splat(kWaveFy[k]) * y + splat(kWaveW[k] * t);
    const v4f ac = splat(kWaveAmp[k]) * cos4(theta);
    fx = fx + ac * splat(kWaveFy[k]);
    fy = fy - ac * splat(kWaveFx[k]);
  }
  fx = fx * splat(kFlowGain);
  fy = fy * splat(kFlowGain);
  for (int i = 0; i < kAttractors; ++i) {
    const v4f dx = a->x[i] - x, dy = a->y[i] - y;
    const v4f inv = splat(kAttractorGain) / (dx * dx + dy * dy + splat(kSoftening));
    fx = fx + dx * inv;
    fy = fy + dy * inv;
  }
  const v4f vdt = splat(dt);
  vx = vx * splat(kDamping) + fx * vdt;
  vy = vy * splat(kDamping) + fy * vdt;
  x = x + vx * vdt;
  y = y + vy * vdt;
  /* Reflect off the walls of the [-1, 1] square. */
  const v4f one = splat(1.0f), two = splat(2.0f);
  v4i hi = x > one, lo = x < -one;
  x = select4(hi, two - x, select4(lo, -two - x, x));
  vx = select4(hi | lo, -vx, vx);
  hi = y > one;
  lo = y < -one;
  y = select4(hi, two - y, select4(lo, -two - y, y));
  vy = select4(hi | lo, -vy, vy);
  /* Clamp what a huge dt could still push outside (one reflection is not
   * enough past 3 units), so the output is always inside the square. */
  x = select4(x > one, one, select4(x < -one, -one, x));
  y = select4(y > one, one, select4(y < -one, -one, y));
  *px = x; *py = y; *pvx = vx; *pvy = vy;
}

static int32_t particles_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  if (ctx->item_bytes != sizeof(tp_particle)) return 2;
  if (begin > end || end > ctx->item_count) return 3;
  tp_particle* out = (tp_particle*)tp_kernel_ptr(ctx, ctx->output_offset);
  if (ctx->flags & TP_CTX_FIRST_FRAME) {
    init_range(ctx, out, begin, end);
    return 0;
  }
  const tp_particle* in = (const tp_particle*)tp_kernel_ptr(ctx, ctx->input_offset);
  const attractors a = attractors_at(ctx->time);
  const float t = ctx->time, dt = ctx->dt;
  uint32_t i = begin;
  for (; i + 4 <= end; i += 4) {
    /* AoS → SoA: four {x,y,vx,vy} records become x, y, vx, vy vectors. */
    v4f r0, r1, r2, r3;
    __builtin_memcpy(&r0, &in[i + 0], 16);
    __builtin_memcpy(&r1, &in[i + 1], 16);
    __builtin_memcpy(&r2, &in[i + 2], 16);
    __builtin_memcpy(&r3, &in[i + 3], 16);
    const v4f t01lo = __builtin_shufflevector(r0, r1, 0, 4, 1, 5); /* x0 x1 y0 y1 */
    const v4f t23lo = __builtin_shufflevector(r2, r3, 0, 4, 1, 5); /* x2 x3 y2 y3 */
    const v4f t01hi = __builtin_shufflevector(r0, r1, 2, 6, 3, 7); /* vx0 vx1 vy0 vy1 */
    const v4f t23hi = __builtin_shufflevector(r2, r3, 2, 6, 3, 7);
    v4f x = __builtin_shufflevector(t01lo, t23lo, 0, 1, 4, 5);
    v4f y = __builtin_shufflevector(t01lo, t23lo, 2, 3, 6, 7);
    v4f vx = __builtin_shufflevector(t01hi, t23hi, 0, 1, 4, 5);
    v4f vy = __builtin_shufflevector(t01hi, t23hi, 2, 3, 6, 7);
    step4(&a, t, dt, &x, &y, &vx, &vy);
    const v4f xy01 = __builtin_shufflevector(x, y, 0, 4, 1, 5);  /* x0 y0 x1 y1 */
    const v4f xy23 = __builtin_shufflevector(x, y, 2, 6, 3, 7);
    const v4f v01 = __builtin_shufflevector(vx, vy, 0, 4, 1, 5);
    const v4f v23 = __builtin_shufflevector(vx, vy, 2, 6, 3, 7);
    r0 = __builtin_shufflevector(xy01, v01, 0, 1, 4, 5);
    r1 = __builtin_shufflevector(xy01, v01, 2, 3, 6, 7);
    r2 = __builtin_shufflevector(xy23, v23, 0, 1, 4, 5);
    r3 = __builtin_shufflevector(xy23, v23, 2, 3, 6, 7);
    __builtin_memcpy(&out[i + 0], &r0, 16);
    __builtin_memcpy(&out[i + 1], &r1, 16);
    __builtin_memcpy(&out[i + 2], &r2, 16);
    __builtin_memcpy(&out[i + 3], &r3, 16);
    for (uint32_t j = i; j < i + 4; ++j) style(&out[j], j);
  }
  for (; i < end; ++i) { /* tail: one particle in lane 0, the same arithmetic */
    v4f x = splat(in[i].x), y = splat(in[i].y), vx = splat(in[i].vx), vy = splat(in[i].vy);
    step4(&a, t, dt, &x, &y, &vx, &vy);
    out[i].x = x[0];
    out[i].y = y[0];
    out[i].vx = vx[0];
    out[i].vy = vy[0];
    style(&out[i], i);
  }
  return 0;
}

/* The ABI exports. kernels/testing/ includes this file with
 * TP_PARTICLES_EMBEDDED defined to wrap particles_step in fault injection. */
#ifndef TP_PARTICLES_EMBEDDED
TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) {
  return TP_KERNEL_ABI_VERSION;
}

TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) {
  return ctx->abi_version == TP_KERNEL_ABI_VERSION ? 0 : 1;
}

TP_EXPORT(tp_kernel_step)
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  return particles_step(ctx, begin, end);
}
#endif
