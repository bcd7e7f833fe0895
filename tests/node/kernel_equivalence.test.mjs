// SPDX-License-Identifier: Apache-2.0
// The WASM build of kernels/particles.c equals its native build byte for byte,
// over several frames and chunkings, when run by V8 over a shared memory the
// way the engine runs it (ctx in memory, input/output slots at arena offsets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const buildDir = process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev';
const wasmPath = join(buildDir, 'kernels/particles.wasm');
const refTool = join(buildDir, 'tools/triptych-kernel-ref/triptych-kernel-ref');

function runWasm({ particles, frames, chunk, seed, dt }) {
  const module = new WebAssembly.Module(readFileSync(wasmPath));
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 32768, shared: true });
  const { exports } = new WebAssembly.Instance(module, { env: { memory } });
  const arenaBase = 2 * 65536; // above the module's static data and stack
  assert.ok(exports.__heap_base.value <= arenaBase);
  const bytesNeeded = arenaBase + 64 + 2 * 32 * particles;
  memory.grow(Math.max(0, Math.ceil(bytesNeeded / 65536) - memory.buffer.byteLength / 65536));
  const view = new DataView(memory.buffer);
  const slots = [64, 64 + 32 * particles];
  let input = 0;
  for (let frame = 1; frame <= frames; frame++) {
    const output = 1 - input;
    view.setUint32(arenaBase + 0, 2, true); // kernel ABI 2
    view.setUint32(arenaBase + 4, particles, true);
    view.setBigUint64(arenaBase + 8, BigInt(frame), true);
    view.setBigUint64(arenaBase + 16, BigInt(arenaBase), true);
    view.setBigUint64(arenaBase + 24, BigInt(slots[input]), true);
    view.setBigUint64(arenaBase + 32, BigInt(slots[output]), true);
    view.setUint32(arenaBase + 40, 32, true);
    view.setFloat32(arenaBase + 44, dt, true);
    view.setFloat32(arenaBase + 48, Math.fround(frame * Math.fround(dt)), true);
    view.setUint32(arenaBase + 52, seed, true);
    view.setUint32(arenaBase + 56, frame === 1 ? 1 : 0, true);
    for (let begin = 0; begin < particles; begin += chunk) {
      const rc = exports.tp_kernel_step(arenaBase, begin, Math.min(particles, begin + chunk));
      assert.equal(rc, 0);
    }
    input = output;
  }
  return Buffer.from(new Uint8Array(memory.buffer, arenaBase + slots[input], 32 * particles));
}

function runNative({ particles, frames, chunk, seed, dt }) {
  const out = join(mkdtempSync(join(tmpdir(), 'tp-ref-')), 'ref.bin');
  execFileSync(refTool, ['--particles', String(particles), '--frames', String(frames),
    '--chunk', String(chunk), '--seed', String(seed), '--dt', String(dt), '--out', out]);
  return readFileSync(out);
}

const built = existsSync(wasmPath) && existsSync(refTool);

for (const cfg of [
  { particles: 1000, frames: 1, chunk: 1000, seed: 7, dt: 0.0078125 },
  { particles: 4099, frames: 40, chunk: 256, seed: 1, dt: 0.0078125 },
  { particles: 777, frames: 25, chunk: 5, seed: 99, dt: 0.03125 },
]) {
  test(`particles.wasm equals the native build (${JSON.stringify(cfg)})`, { skip: !built && `build ${wasmPath} and ${refTool} first (make build)` }, () => {
    const wasm = runWasm(cfg);
    const native = runNative(cfg);
    assert.equal(wasm.length, native.length);
    const firstDiff = wasm.findIndex((b, i) => b !== native[i]);
    assert.equal(firstDiff, -1, `first differing byte at ${firstDiff} (particle ${Math.floor(firstDiff / 32)})`);
  });
}
