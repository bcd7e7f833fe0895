// SPDX-License-Identifier: Apache-2.0
// The Node-API addons' low-level bindings: zero copy over a shared
// WebAssembly.Memory, thread pinning, native futex blocking across worker
// threads, no external buffers, clear errors on bad arguments, and the
// test/bench entry points living in triptych_testing.node, not triptych.node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const addonPath = join(buildDir, 'node/triptych.node');
const testingPath = join(buildDir, 'node/triptych_testing.node');
const built = existsSync(addonPath) && existsSync(testingPath);
const skip = !built && `build ${addonPath} and ${testingPath} first (make build)`;
const addon = built ? createRequire(import.meta.url)(addonPath) : null;
const testing = built ? createRequire(import.meta.url)(testingPath) : null;
const testOnly = ['addressOf', 'checksum', 'futexWait', 'futexWake', 'kernelBenchNative'];

function fnv1a(bytes) {
  let h = 2166136261;
  for (const b of bytes) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

test('C++ reads the bytes a WASM kernel wrote, in place', { skip }, () => {
  const wasmPath = join(buildDir, 'kernels/particles.wasm');
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const memory = new WebAssembly.Memory({ initial: 8, maximum: 32768, shared: true });
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const base = 4 * 65536, n = 256;
  const dv = new DataView(memory.buffer);
  dv.setUint32(base, 1, true); dv.setUint32(base + 4, n, true);
  dv.setBigUint64(base + 16, BigInt(base), true);
  dv.setBigUint64(base + 32, 64n, true); dv.setUint32(base + 40, 32, true);
  dv.setUint32(base + 52, 5, true); dv.setUint32(base + 56, 1, true);
  assert.equal(exports.tp_kernel_step(base, 0, n), 0);
  const whole = new Uint8Array(memory.buffer);
  const fromJs = fnv1a(whole.subarray(base + 64, base + 64 + 32 * n));
  assert.equal(testing.checksum(whole, base + 64, 32 * n), fromJs);
  // Same address for two views of the same memory: no copy was made for C++.
  const a0 = testing.addressOf(whole);
  const a1 = testing.addressOf(new Uint8Array(memory.buffer, base + 64));
  assert.equal(a1 - a0, BigInt(base + 64));
});

test('neither addon creates external buffers (Electron memory cage)', { skip }, () => {
  for (const path of [addonPath, testingPath]) {
    const symbols = execFileSync('nm', ['-D', '--undefined-only', path], { encoding: 'utf8' });
    assert.match(symbols, /napi_get_typedarray_info/, path);
    assert.doesNotMatch(symbols, /napi_create_external_(arraybuffer|buffer)/, path);
  }
});

test('test and bench entry points live in the testing addon only', { skip }, () => {
  // DefineAddon's methods are not enumerable: ask for each name, not Object.keys.
  assert.deepEqual(testOnly.filter((name) => name in addon), [], 'the production addon exports none');
  for (const name of testOnly) assert.equal(typeof testing[name], 'function', name);
  assert.ok(testing.kernelBenchNative({ particles: 64, frames: 2 }) > 0);
});

test('pinThread pins the calling worker thread only', { skip }, async () => {
  const before = addon.threadInfo().cpus;
  const target = before[before.length - 1];
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const addon = require(workerData.addonPath);
    const tid = addon.pinThread([workerData.cpu]);
    const status = require('node:fs').readFileSync('/proc/self/task/' + tid + '/status', 'utf8');
    parentPort.postMessage({ info: addon.threadInfo(), allowed: /Cpus_allowed_list:\\s*(\\S+)/.exec(status)[1] });`;
  const w = new Worker(code, { eval: true, workerData: { addonPath, cpu: target } });
  const msg = await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
  await w.terminate();
  assert.deepEqual(msg.info.cpus, [target]);
  assert.equal(msg.allowed, String(target));
  assert.deepEqual(addon.threadInfo().cpus, before, 'the main thread keeps its affinity');
});

test('a worker blocked natively in futexWait is woken by futexWake', { skip }, async () => {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const testing = require(workerData.testingPath);
    const words = new Uint32Array(workerData.buffer);
    parentPort.postMessage('waiting');
    parentPort.postMessage(testing.futexWait(words, 64, 0, 10000));`;
  const w = new Worker(code, { eval: true, workerData: { testingPath, buffer: memory.buffer } });
  const messages = [];
  const done = new Promise((res, rej) => {
    w.on('message', (m) => { messages.push(m); if (messages.length === 2) res(); });
    w.once('error', rej);
  });
  const words = new Uint32Array(memory.buffer);
  while (messages.length === 0 || Atomics.load(words, 17) === 0) await new Promise((r) => setTimeout(r, 1));
  assert.equal(testing.futexWake(words, 64, 1), 0);
  await done;
  await w.terminate();
  assert.deepEqual(messages, ['waiting', 'changed']);
});

test('bad arguments throw clear errors', { skip }, () => {
  const u = new Uint8Array(new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer);
  assert.throws(() => testing.addressOf({}), { name: 'TypeError', message: /TypedArray/ });
  assert.throws(() => testing.checksum(u, 65530, 100), { name: 'RangeError', message: /outside/ });
  assert.throws(() => testing.checksum(u, -1, 1), { name: 'RangeError' });
  assert.throws(() => testing.futexWait(u, 3, 0, 1), { name: 'RangeError', message: /misaligned/ });
  assert.throws(() => testing.futexWait(u, 65536, 0, 1), { name: 'RangeError' });
  assert.throws(() => testing.futexWait(u, 0, 0, NaN), { name: 'RangeError', message: /timeoutMs/ });
  assert.throws(() => testing.kernelBenchNative({ particles: 0 }), { name: 'RangeError', message: /particles/ });
  assert.throws(() => addon.pinThread([]), { name: 'RangeError' });
  assert.throws(() => addon.pinThread([100000]), { name: 'RangeError', message: /out of range/ });
  assert.throws(() => addon.pinThread('0'), { name: 'TypeError' });
  assert.throws(() => addon.computeTake(1, new Float64Array(4)), /join the compute pool first/);
  assert.throws(() => addon.computeComplete(0, ''), /join the compute pool first/);
  assert.throws(() => addon.computeJoin(987654), { name: 'RangeError', message: /no engine with id 987654/ });
  const host = new addon.Engine({ compute: 'copy-in', renderer: 'cpu', width: 32, height: 32, particles: 10 });
  assert.throws(() => host.hostFrame(new Uint8Array(320), 1, 2n, 3n), { name: 'TypeError', message: /BigInt/ });
  assert.throws(() => host.hostFrame(new Uint8Array(3), 1n, 2n, 3n), { code: 'ERR_TRIPTYCH_INVALID_ARGUMENT', message: /320 bytes/ });
  assert.throws(() => host.copyResult(new Uint8Array(4)), { code: 'ERR_TRIPTYCH_INVALID_ARGUMENT', message: /hostPresents|host_presents/ });
  host.close();
});

