// SPDX-License-Identifier: Apache-2.0
// The Node engine end to end: WASM kernels on pinned workers over one shared
// memory, exact frame accounting, trap and hang recovery, load-time errors,
// and create/close cycles that leak nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

process.env.TRIPTYCH_BUILD_DIR = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const buildDir = process.env.TRIPTYCH_BUILD_DIR;
const lib = await import('../../node/lib/index.mjs');
const kernel = (name) => join(buildDir, 'kernels', `${name}.wasm`);
const built = existsSync(join(buildDir, 'node/triptych.node')) && existsSync(kernel('faulty_trap'));
const skip = !built && `build ${buildDir} first (make build)`;

const small = { particles: 2000, grain: 1000, hz: 0, width: 32, height: 32, renderer: 'cpu' };

test('WASM workers compute every frame, pinned to the plan, zero copies', { skip }, async () => {
  const engine = await lib.createEngine({ ...small, frames: 60 });
  const plan = JSON.parse(lib.plan({}).json);
  for (const w of engine.workers) {
    const status = readFileSync(`/proc/self/task/${w.tid}/status`, 'utf8');
    const allowed = /Cpus_allowed_list:\s*(\S+)/.exec(status)[1];
    assert.equal(allowed, String(w.cpu), `worker ${w.slot} runs where the plan put it`);
    assert.ok(plan.compute.threads.includes(w.cpu), `cpu ${w.cpu} is a compute CPU of the plan`);
  }
  const s = await engine.run();
  assert.equal(s.error, '');
  assert.equal(s.issued, 60);
  assert.equal(s.presented, 60);
  assert.equal(s.failed, 0);
  // The arena header C++ wrote is in the engine's memory JS allocated, at its
  // address 0; the kernel's particles are in the compute zones of the
  // kernel's memory; the two are different memories.
  assert.notEqual(engine.kernelMemory, engine.engineMemory);
  assert.equal(new DataView(engine.engineMemory.buffer).getUint32(0, true), 0x50495254, 'arena magic visible to JS');
  assert.notEqual(new DataView(engine.kernelMemory.buffer).getUint32(0, true), 0x50495254, 'no header in the kernel\'s memory');
  const zone = engine.zoneMap.zones['compute A'];
  assert.equal(zone.memory, 'kernel');
  assert.equal(engine.zoneMap.zones['result A'].memory, 'engine');
  const particles = new Float32Array(engine.kernelMemory.buffer, zone.offset, small.particles * 8);
  let inside = 0;
  for (let i = 0; i < small.particles; i++) inside += Math.abs(particles[i * 8]) <= 1 && Math.abs(particles[i * 8 + 1]) <= 1;
  assert.equal(inside, small.particles, 'every particle the kernel wrote is inside the square');
  assert.ok(engine.engineMemory.buffer.byteLength >= engine.zoneMap.engineBytes);
  assert.ok(engine.kernelMemory.buffer.byteLength >= engine.zoneMap.kernelBytes);
  await engine.close();
});

test('a UI host takes frames with copyResult (hostPresents); none goes unaccounted', { skip }, async () => {
  const engine = await lib.createEngine({ ...small, frames: 30, hz: 120, hostPresents: true });
  const pixels = new Uint8ClampedArray(small.width * small.height * 4);
  assert.throws(() => engine.copyResult(new Uint8Array(10)), /needs \d+ bytes/);
  engine.start();
  const seen = [];
  const take = () => { const f = engine.copyResult(pixels); if (f !== null) seen.push(f); return f; };
  while (!engine.status().finished) {
    if (take() === null) await new Promise((r) => setImmediate(r));
  }
  take();  // the last frame, rendered after our previous look
  const s = await engine.wait();
  await engine.close();
  assert.equal(s.error, '');
  assert.ok(seen.length > 0);
  assert.equal(s.presented, seen.length);
  assert.equal(s.computed, s.presented + s.dropped, 'every computed frame was taken by the UI or counted dropped');
  assert.ok(seen.every((f, i) => i === 0 || f > seen[i - 1]), 'frames arrive in order');
  assert.ok(pixels.some((v, i) => i % 4 !== 3 && v > 60), 'the last frame shows particles');
});

test('1% of frames trap: none is presented, every other frame is, workers recover', { skip }, async () => {
  const frames = 1000;
  const probe = new WebAssembly.Instance(new WebAssembly.Module(readFileSync(kernel('faulty_trap'))), {
    env: { memory: new WebAssembly.Memory({ initial: 256, maximum: 32768, shared: true }) },
  }).exports;
  let expected = 0;
  for (let f = 1; f <= frames; f++) expected += probe.tp_fault_traps(f);
  assert.ok(expected > 0, 'the fault kernel traps on some frames');
  const engine = await lib.createEngine({ ...small, frames, kernel: kernel('faulty_trap') });
  const s = await engine.run();
  assert.equal(s.failed, expected);
  assert.equal(s.presented, frames - expected);
  assert.equal(s.issued, frames);
  assert.equal(engine.failures.length, expected);
  assert.match(engine.failures[0], /kernel faulty_trap trapped at frame \d+, chunk \[0, 1000\): RuntimeError/);
  await engine.close();
});

test('a kernel that hangs fails its frame at the deadline; its worker is replaced', { skip }, async () => {
  const engine = await lib.createEngine({ ...small, frames: 12, deadlineMs: 200, kernel: kernel('faulty_hang') });
  const s = await engine.run();
  assert.equal(s.failed, 1);
  assert.equal(s.presented, 11);
  assert.equal(engine.replacements, 1);
  assert.ok(engine.failures.some((f) => /deadline at frame 5/.test(f)), engine.failures.join('\n'));
  await engine.close();
});

test('bad kernels and options are refused at load time with stable codes', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tp-bad-'));
  const garbage = join(dir, 'garbage.wasm');
  writeFileSync(garbage, Buffer.from('this is not webassembly'));
  const cases = [
    [{ kernel: join(dir, 'missing.wasm') }, 'ERR_TRIPTYCH_KERNEL_NOT_FOUND', lib.KernelError],
    [{ kernel: garbage }, 'ERR_TRIPTYCH_BAD_WASM', lib.KernelError],
    [{ kernel: kernel('faulty_no_step') }, 'ERR_TRIPTYCH_KERNEL_EXPORTS', lib.KernelError],
    [{ kernel: kernel('faulty_abi') }, 'ERR_TRIPTYCH_KERNEL_ABI', lib.KernelError],
    [{ particles: 1 << 24, width: 8192, height: 8192 }, 'ERR_TRIPTYCH_MEMORY_TOO_SMALL', lib.TriptychError],
    [{ particles: -5 }, 'ERR_TRIPTYCH_BAD_OPTION', lib.OptionError],
    [{ renderer: 'metal' }, 'ERR_TRIPTYCH_BAD_OPTION', lib.OptionError],
    [{ renderer: 'vulkan', device: 'no such GPU anywhere' }, /^ERR_TRIPTYCH_/, lib.TriptychError],
    [{ plan: { computeCpus: '4000' } }, /^ERR_TRIPTYCH_/, lib.TriptychError],
  ];
  for (const [opts, code, cls] of cases) {
    await assert.rejects(lib.createEngine({ ...small, frames: 1, ...opts }), (err) => {
      assert.ok(err instanceof cls, `${JSON.stringify(opts)}: ${err}`);
      if (code instanceof RegExp) assert.match(err.code, code); else assert.equal(err.code, code);
      assert.ok(err.message.length > 10);
      return true;
    });
  }
});

test('create/close cycles leak nothing: threads exit and RSS stays flat', { skip }, async () => {
  const cycles = 100;
  const rss = [];
  for (let i = 0; i < cycles; i++) {
    const engine = await lib.createEngine({ ...small, frames: 2 });
    await engine.run();
    await engine.close();
    if (i === 9 || i === cycles - 1) {
      // Collect first: each engine's WebAssembly.Memory is freed only when V8
      // collects it, which it may postpone; a native leak survives this.
      for (let k = 0; k < 3; k++) { gc(); await new Promise((r) => setTimeout(r, 20)); }
      rss.push(process.memoryUsage().rss);
    }
  }
  const threads = readFileSync('/proc/self/status', 'utf8').match(/Threads:\s*(\d+)/)[1];
  const growthMiB = (rss[1] - rss[0]) / 2 ** 20;
  console.log(`RSS after 10 cycles ${(rss[0] / 2 ** 20).toFixed(1)} MiB, after ${cycles}: ${(rss[1] / 2 ** 20).toFixed(1)} MiB; threads ${threads}`);
  // Each cycle maps a fresh arena and starts workers; a leak of either would
  // grow RSS by megabytes per cycle, hundreds over 90 cycles.
  assert.ok(growthMiB < 16, `RSS grew ${growthMiB.toFixed(1)} MiB over ${cycles - 10} create/close cycles`);
  assert.ok(Number(threads) < 40, `${threads} threads left after ${cycles} cycles`);
});
