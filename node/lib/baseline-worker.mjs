// SPDX-License-Identifier: Apache-2.0
// A compute worker of the copy-based baseline (node/lib/baseline.mjs): the
// way a typical Electron app moves data. It owns a private memory (not the
// arena), receives its chunk of the previous frame by postMessage (structured
// clone), copies it in, runs the same kernel, copies the result out and posts
// it back (clone again). Pinned to its plan CPU like the zero-copy workers.
import { parentPort, workerData } from 'node:worker_threads';
import { createRequire } from 'node:module';

const { addonPath, module, cpu, particles } = workerData;
const addon = createRequire(import.meta.url)(addonPath);
if (cpu !== undefined) addon.pinThread([cpu]);

const slotBytes = 32 * particles;
const base = 4 * 65536;                 // above the module's static data and stack
const input = 64;                       // slots relative to base; ctx at base
const output = 64 + slotBytes;
const pages = Math.ceil((base + output + slotBytes) / 65536);
const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
const { exports } = new WebAssembly.Instance(module, { env: { memory } });
const view = new DataView(memory.buffer);
const bytes = new Uint8Array(memory.buffer);

parentPort.on('message', (m) => {
  // The same context the engine writes, so results match the zero-copy run.
  view.setUint32(base, 1, true);
  view.setUint32(base + 4, particles, true);
  view.setBigUint64(base + 8, BigInt(m.frame), true);
  view.setBigUint64(base + 16, BigInt(base), true);
  view.setBigUint64(base + 24, BigInt(input), true);
  view.setBigUint64(base + 32, BigInt(output), true);
  view.setUint32(base + 40, 32, true);
  view.setFloat32(base + 44, m.dt, true);
  view.setFloat32(base + 48, m.time, true);
  view.setUint32(base + 52, m.seed, true);
  view.setUint32(base + 56, m.first ? 1 : 0, true);
  if (!m.first) bytes.set(m.input, base + input + 32 * m.begin);        // copy in
  const rc = exports.tp_kernel_step(base, m.begin, m.begin + m.count);
  const lo = base + output + 32 * m.begin;
  const out = bytes.slice(lo, lo + 32 * m.count);                       // copy out (non-shared)
  parentPort.postMessage({ rc, output: out });                          // structured clone
});
parentPort.postMessage({ ready: true, tid: addon.threadInfo().tid });
