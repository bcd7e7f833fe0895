// SPDX-License-Identifier: Apache-2.0
// The hot-swap rehearsal (a Node worker_thread, one per engine, started at
// its first swap): for each job, runs a new kernel's tp_kernel_init once
// over a scratch copy of the kernel's memory (its static data written by the
// load probe, the current frame's context), so a kernel that traps, refuses
// or hangs in init is refused before any compute worker sees it. In a worker
// so that a hang costs only this thread: Engine.swapKernel terminates it at
// the deadline and starts another for the next swap. Answers each job with
// {ok, message}. Design: docs/node.md ("Hot-swap").
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ module, memory, ctxAddress, stackLow, stackHigh, tlsSize, tlsAlign, name }) => {
  try {
    // The module has no start function: the static data is already in `memory`.
    const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
    const align = Math.max(tlsAlign, 1);
    if (tlsSize > 0) e.__wasm_init_tls(Math.ceil(stackLow / align) * align);
    e.__stack_pointer.value = stackHigh & ~15;
    const rc = e.tp_kernel_init(ctxAddress);
    parentPort.postMessage(rc === 0 ? { ok: true } : { ok: false, message: `kernel ${name}: tp_kernel_init returned ${rc}` });
  } catch (err) {
    parentPort.postMessage({ ok: false, message: `kernel ${name}: tp_kernel_init trapped: ${err.name}: ${err.message}` });
  }
});
