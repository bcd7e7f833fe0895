/* SPDX-License-Identifier: Apache-2.0
 * The native reference for the kernel math test: kernels/testing/libm.c built
 * natively against glibc's libm. Prints one line per (function, input):
 * "fn i x_bits y_bits result_bits" in hex, for the sample size given as the
 * only argument; tests/node/kernel_libm.test.mjs runs the wasm build on the
 * same inputs and compares. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "triptych_kernel.h"

uint32_t tp_libm_function_count(void);
float tp_libm_input(uint32_t i);
float tp_libm_eval(uint32_t fn, float x, float y);

static uint32_t bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

int main(int argc, char** argv) {
  const long samples = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
  if (samples <= 0 || samples > (1L << 20)) {
    fprintf(stderr, "usage: %s SAMPLES (1 .. 1048576)\n", argv[0]);
    return 2;
  }
  /* The second argument is another input of the sample, so pairs vary too. */
  for (uint32_t fn = 0; fn < tp_libm_function_count(); ++fn) {
    for (uint32_t i = 0; i < (uint32_t)samples; ++i) {
      const float x = tp_libm_input(i);
      const float y = tp_libm_input(i + 7919u);
      printf("%" PRIu32 " %" PRIu32 " %08" PRIx32 " %08" PRIx32 " %08" PRIx32 "\n", fn, i, bits(x), bits(y),
             bits(tp_libm_eval(fn, x, y)));
    }
  }
  return 0;
}
