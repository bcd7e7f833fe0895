/* SPDX-License-Identifier: Apache-2.0
 * Test kernel: the math library a kernel links (wasi-libc's, musl's libm)
 * against the native one. As a kernel it moves particles on circles with
 * sinf/cosf, so a libm-linked module loads and runs in the engine; its extra
 * exports evaluate each sampled function on a deterministic sample of inputs,
 * and the same file built natively (tests/kernels/libm_reference.c) prints
 * glibc's results for tests/node/kernel_libm.test.mjs to compare within 1 ulp.
 * Pure functions of their arguments: safe from any number of workers. */
#include <math.h>

#include "triptych_kernel.h"

/* The functions compared, in the order of tp_libm_eval's `fn`. */
enum {
  kSin, kCos, kTan, kAsin, kAcos, kAtan, kAtan2, kSinh, kCosh, kTanh,
  kExp, kExp2, kExpm1, kLog, kLog2, kLog10, kLog1p, kPow, kSqrt, kCbrt,
  kHypot, kFmod, kFloor, kCeil, kRound, kTrunc, kFabs, kFmin, kFmax, kCopysign,
  kFunctionCount
};

TP_EXPORT(tp_libm_function_count) uint32_t tp_libm_function_count(void) { return kFunctionCount; }

/* Input i of the sample: a spread of magnitudes (1e-3 to 1e4), both signs,
 * from an integer hash so both builds derive the same bits. */
TP_EXPORT(tp_libm_input) float tp_libm_input(uint32_t i) {
  uint32_t h = i * 0x9e3779b9u;
  h ^= h >> 16;
  h *= 0x7feb352du;
  h ^= h >> 15;
  const float unit = (float)(h >> 8) * (2.0f / 16777216.0f) - 1.0f; /* [-1, 1) */
  static const float kScales[] = {0.001f, 0.5f, 1.0f, 3.14159265f, 10.0f, 88.0f, 10000.0f};
  return unit * kScales[i % (sizeof kScales / sizeof kScales[0])];
}

TP_EXPORT(tp_libm_eval) float tp_libm_eval(uint32_t fn, float x, float y) {
  switch (fn) {
    case kSin: return sinf(x);
    case kCos: return cosf(x);
    case kTan: return tanf(x);
    case kAsin: return asinf(x);
    case kAcos: return acosf(x);
    case kAtan: return atanf(x);
    case kAtan2: return atan2f(x, y);
    case kSinh: return sinhf(x);
    case kCosh: return coshf(x);
    case kTanh: return tanhf(x);
    case kExp: return expf(x);
    case kExp2: return exp2f(x);
    case kExpm1: return expm1f(x);
    case kLog: return logf(fabsf(x));
    case kLog2: return log2f(fabsf(x));
    case kLog10: return log10f(fabsf(x));
    case kLog1p: return log1pf(fabsf(x));
    case kPow: return powf(fabsf(x), y / 100.0f);
    case kSqrt: return sqrtf(fabsf(x));
    case kCbrt: return cbrtf(x);
    case kHypot: return hypotf(x, y);
    case kFmod: return fmodf(x, y);
    case kFloor: return floorf(x);
    case kCeil: return ceilf(x);
    case kRound: return roundf(x);
    case kTrunc: return truncf(x);
    case kFabs: return fabsf(x);
    case kFmin: return fminf(x, y);
    case kFmax: return fmaxf(x, y);
    case kCopysign: return copysignf(x, y);
    default: return NAN;
  }
}

TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) { return TP_KERNEL_ABI_VERSION; }

TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) {
  return ctx->item_bytes == sizeof(tp_particle) ? 0 : 1;
}

/* Particle i circles the centre at radius 0.1 + 0.8 i / n, faster inside. */
TP_EXPORT(tp_kernel_step)
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  tp_particle* out = tp_kernel_ptr(ctx, ctx->output_offset);
  for (uint32_t i = begin; i < end; ++i) {
    const float radius = 0.1f + 0.8f * (float)i / (float)ctx->item_count;
    const float angle = ctx->time / radius + (float)i;
    out[i] = (tp_particle){.x = radius * cosf(angle), .y = radius * sinf(angle),
                           .vx = -sinf(angle) / radius, .vy = cosf(angle) / radius,
                           .size = 0.004f, .rgba = 0xff40c0ffu, .shape = TP_SHAPE_CIRCLE};
  }
  return 0;
}
