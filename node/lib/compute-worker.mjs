// SPDX-License-Identifier: Apache-2.0
// One compute worker (a Node worker_thread). It joins the engine's compute
// pool through its own addon instance (which pins this OS thread to its plan
// CPU), instantiates the kernel module that the main thread compiled once,
// gives that instance its own stack and TLS block inside the arena's kernel
// zone, then loops: take a chunk (blocking natively on the futex), run
// tp_kernel_step, complete it. A trap fails only that chunk's frame and the
// instance is replaced; a hang is caught by the main thread's watchdog, which
// terminates this worker (the addon then fails the chunk in flight).
// Design: docs/node.md.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

const { addonPath, module, memory, engineId, slot, stackLow, stackHigh, tlsSize, tlsAlign,
  kernelName, busy, busyWords: W } = workerData;
const addon = createRequire(import.meta.url)(addonPath);
// This worker's words in the shared busy array: [frame, busy since (ns), command].
const busyWords = new BigInt64Array(busy);
const FRAME = slot * W;
const SINCE = slot * W + 1;
const COMMAND = slot * W + 2;

// Test only (Engine._exhaustWorkerHeapForTest): grow the JS heap until V8
// stops this worker (ERR_WORKER_OUT_OF_MEMORY under resourceLimits).
function exhaustHeap() {
  const hog = [];
  for (;;) hog.push(new Array(1 << 16).fill(hog.length + 0.5));
}

let instance = null;
let replaced = 0;

function instantiate(ctxAddress) {
  const inst = new WebAssembly.Instance(module, { env: { memory } });
  const e = inst.exports;
  // This instance's shadow stack grows down from the top of its region; its
  // TLS block sits at the bottom. Both are inside the arena's kernel zone.
  const tlsBase = Math.ceil(stackLow / Math.max(tlsAlign, 1)) * Math.max(tlsAlign, 1);
  if (tlsSize > 0) e.__wasm_init_tls(tlsBase);
  e.__stack_pointer.value = stackHigh & ~15;
  const rc = e.tp_kernel_init(ctxAddress);
  if (rc !== 0) throw new Error(`kernel ${kernelName}: tp_kernel_init returned ${rc}`);
  return inst;
}

const joined = addon.computeJoin(engineId);
parentPort.postMessage({ type: 'ready', slot, member: joined.slot, cpu: joined.cpu, tid: addon.threadInfo().tid });

const now = () => process.hrtime.bigint();
const job = new Float64Array(4);   // [begin, end, frame, ctxAddress], reused for every chunk
for (;;) {
  if (Atomics.load(busyWords, COMMAND) === 1n) exhaustHeap();
  const got = addon.computeTake(50, job);
  if (got < 0) break;              // the engine has finished
  if (got === 0) continue;         // timeout: look again
  const begin = job[0];
  const end = job[1];
  const frame = job[2];
  const ctxAddress = job[3];
  Atomics.store(busyWords, FRAME, BigInt(frame));
  Atomics.store(busyWords, SINCE, now());
  let rc;
  let message = '';
  try {
    if (instance === null) instance = instantiate(ctxAddress);
    rc = instance.exports.tp_kernel_step(ctxAddress, begin, end);
    if (rc !== 0) message = `kernel ${kernelName} returned ${rc} at frame ${frame}, chunk [${begin}, ${end})`;
  } catch (err) {
    // A trap (RuntimeError: unreachable, out of bounds, ...) or a stack
    // overflow (RangeError): the frame fails; this instance is discarded.
    rc = -1;
    message = `kernel ${kernelName} trapped at frame ${frame}, chunk [${begin}, ${end}): ${err.name}: ${err.message}`;
    instance = null;
    replaced++;
  }
  Atomics.store(busyWords, SINCE, 0n);
  addon.computeComplete(rc, message);
}
// 'done' first: the main thread then knows this exit was asked for.
parentPort.postMessage({ type: 'done', slot, replaced });
addon.computeLeave('engine finished');
