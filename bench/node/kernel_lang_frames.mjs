// SPDX-License-Identifier: Apache-2.0
// One kernel instance on the calling thread, without the engine: the
// kernel-language benchmark (kernel_lang_bench.mjs) times it and
// tests/node/kernel_as.test.mjs compares its frames across languages and
// wasm-opt. It places things as the engine does (the context on the first
// 64-byte line above __heap_base, the instance's stack above that, then two
// compute slots used in turn) and writes the context as the frame loop does
// (docs/PROTOCOL.md): frame 1 with TP_CTX_FIRST_FRAME, dt = 1/hz, time =
// (frame - 1) * dt. Single-threaded, blocking.

const WASM_PAGE = 65536;
const MAX_PAGES = 32768;
const PROBE_PAGES = 256;
const CONTEXT_BYTES = 64;
const PARTICLE_BYTES = 32;
const STACK_BYTES = 256 * 1024; // the engine's default workerStackBytes
const ABI_VERSION = 2;
const FIRST_FRAME = 1;

// A runner for `module` (a compiled kernel): {step(), frame, output()}, where
// step() runs the next frame in chunks of `chunk` items and throws if the
// kernel returns non-zero, and output() copies the last frame's slot.
export function kernelRunner(module, { particles, chunk, hz = 120, seed = 1 }) {
  const exports = WebAssembly.Module.exports(module).map((e) => e.name);
  if (!exports.includes('tp_kernel_step')) throw new Error('not a triptych kernel: no tp_kernel_step');
  const bytesAbove = CONTEXT_BYTES + STACK_BYTES + 2 * particles * PARTICLE_BYTES;
  // A scratch instance reads __heap_base (as loadKernel's probe does, on as many pages).
  const probe = new WebAssembly.Memory({ initial: PROBE_PAGES, maximum: MAX_PAGES, shared: true });
  const heapBase = new WebAssembly.Instance(module, { env: { memory: probe } }).exports.__heap_base.value;
  const ctx = Math.ceil(heapBase / CONTEXT_BYTES) * CONTEXT_BYTES;
  const pages = Math.max(PROBE_PAGES, Math.ceil((ctx + bytesAbove) / WASM_PAGE));
  const memory = new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
  const kernel = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const stackTop = ctx + CONTEXT_BYTES + STACK_BYTES;
  kernel.__stack_pointer.value = stackTop;
  const slots = [stackTop, stackTop + particles * PARTICLE_BYTES];
  const view = new DataView(memory.buffer);
  const dt = Math.fround(1 / hz);
  let frame = 0;
  let initialised = false;
  const writeContext = (input, output) => {
    view.setUint32(ctx, ABI_VERSION, true);
    view.setUint32(ctx + 4, particles, true);
    view.setBigUint64(ctx + 8, BigInt(frame), true);
    view.setBigUint64(ctx + 16, 0n, true);
    view.setBigUint64(ctx + 24, BigInt(input), true);
    view.setBigUint64(ctx + 32, BigInt(output), true);
    view.setUint32(ctx + 40, PARTICLE_BYTES, true);
    view.setFloat32(ctx + 44, dt, true);
    view.setFloat32(ctx + 48, Math.fround((frame - 1) * dt), true);
    view.setUint32(ctx + 52, seed, true);
    view.setUint32(ctx + 56, frame === 1 ? FIRST_FRAME : 0, true);
    view.setUint32(ctx + 60, 0, true);
  };
  return {
    get frame() { return frame; },
    step() {
      frame++;
      const output = slots[frame % 2];
      writeContext(frame === 1 ? output : slots[(frame + 1) % 2], output);
      if (!initialised) {
        const rc = kernel.tp_kernel_init(ctx);
        if (rc !== 0) throw new Error(`tp_kernel_init returned ${rc}`);
        initialised = true;
      }
      for (let begin = 0; begin < particles; begin += chunk) {
        const rc = kernel.tp_kernel_step(ctx, begin, Math.min(particles, begin + chunk));
        if (rc !== 0) throw new Error(`tp_kernel_step returned ${rc} at frame ${frame}, chunk ${begin}`);
      }
    },
    output() {
      const at = slots[frame % 2];
      return new Uint8Array(memory.buffer.slice(at, at + particles * PARTICLE_BYTES));
    },
  };
}
