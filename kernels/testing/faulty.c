/* SPDX-License-Identifier: Apache-2.0
 * Test kernels: the particle kernel with faults injected, for the failure
 * tests (tests/node/engine.test.mjs, faults.test.mjs). Built in variants:
 *   TP_FAULT_TRAP_EVERY=N   traps (unreachable) in chunk 0 of frames whose id
 *                           hashes to 0 mod N (about 1/N of frames)
 *   TP_FAULT_HANG_FRAME=F   loops forever in chunk 0 of frame F
 *   TP_FAULT_ABI=V          reports kernel ABI version V
 *   TP_FAULT_NO_STEP        exports no tp_kernel_step
 * Good frames compute exactly what kernels/particles.c computes. */
#define TP_PARTICLES_EMBEDDED 1
#include "../particles.c"

#ifndef TP_FAULT_ABI
#define TP_FAULT_ABI TP_KERNEL_ABI_VERSION
#endif

TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) { return TP_FAULT_ABI; }

TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) {
  return ctx->abi_version == TP_KERNEL_ABI_VERSION ? 0 : 1;
}

/* Which frames trap: shared with the tests, which predict them. */
TP_EXPORT(tp_fault_traps) int32_t tp_fault_traps(uint32_t frame_id) {
#ifdef TP_FAULT_TRAP_EVERY
  return hash32(frame_id ^ 0x5bd1e995u) % TP_FAULT_TRAP_EVERY == 0;
#else
  (void)frame_id;
  return 0;
#endif
}

#ifndef TP_FAULT_NO_STEP
TP_EXPORT(tp_kernel_step)
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  if (begin == 0 && tp_fault_traps((uint32_t)ctx->frame_id)) __builtin_trap();
#ifdef TP_FAULT_HANG_FRAME
  if (begin == 0 && ctx->frame_id == TP_FAULT_HANG_FRAME) {
    volatile int spinning = 1;
    while (spinning) {
    }
  }
#endif
  return particles_step(ctx, begin, end);
}
#else
/* Keeps the step referenced (and this variant warning-free) while exporting
 * nothing under the ABI name. */
TP_EXPORT(tp_not_the_step) int32_t tp_not_the_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  return particles_step(ctx, begin, end);
}
#endif
