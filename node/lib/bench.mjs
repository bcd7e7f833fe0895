// SPDX-License-Identifier: Apache-2.0
// `triptych bench kernel`: the particle kernel as WASM (V8, simd128) and as
// native C (same source, same 4-wide vectors), single-threaded, same particle
// count and frames, in one run; then handing one frame of compute output to a
// consumer through the shared arena versus postMessage (structured clone and
// transfer). Prints figures and ratios; asserts nothing (docs/BENCHMARKS.md).
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadTestingAddon, defaultKernelPath, setWasmTiering, createEngine } from './index.mjs';
import { createCopyBaseline } from './baseline.mjs';

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function wasmKernelSeconds(module, particles, frames, chunk) {
  const bytes = 64 + 2 * 32 * particles;
  const pages = Math.ceil((4 * 65536 + bytes) / 65536);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: 32768, shared: true });
  const e = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const base = 4 * 65536;
  const dv = new DataView(memory.buffer);
  const slots = [64, 64 + 32 * particles];
  const ctx = (frame, first, input, output) => {
    dv.setUint32(base, 1, true); dv.setUint32(base + 4, particles, true);
    dv.setBigUint64(base + 8, BigInt(frame), true); dv.setBigUint64(base + 16, BigInt(base), true);
    dv.setBigUint64(base + 24, BigInt(input), true); dv.setBigUint64(base + 32, BigInt(output), true);
    dv.setUint32(base + 40, 32, true); dv.setFloat32(base + 44, 1 / 120, true);
    dv.setFloat32(base + 48, frame / 120, true); dv.setUint32(base + 52, 1, true); dv.setUint32(base + 56, first ? 1 : 0, true);
  };
  ctx(1, true, slots[0], slots[0]);
  e.tp_kernel_step(base, 0, particles);
  const t0 = process.hrtime.bigint();
  for (let f = 0; f < frames; f++) {
    ctx(f + 2, false, slots[f % 2], slots[1 - (f % 2)]);
    for (let b = 0; b < particles; b += chunk) e.tp_kernel_step(base, b, Math.min(particles, b + chunk));
  }
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function handoff(mode, bytes, rounds) {
  // A worker produces `bytes` of output per round; the main thread consumes
  // (reads the last byte). Arena: the worker writes into shared memory and
  // posts only the offset. Clone / transfer: the worker posts the data itself.
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const { mode, bytes, shared } = workerData;
    const view = shared ? new Uint8Array(shared) : null;
    parentPort.on('message', (round) => {
      if (mode === 'arena') { view[bytes - 1] = round & 255; parentPort.postMessage(0); return; }
      const buf = new Uint8Array(bytes); buf[bytes - 1] = round & 255;
      if (mode === 'transfer') parentPort.postMessage(buf, [buf.buffer]);
      else parentPort.postMessage(buf);
    });`;
  const shared = mode === 'arena' ? new SharedArrayBuffer(bytes) : null;
  const view = shared ? new Uint8Array(shared) : null;
  const w = new Worker(code, { eval: true, workerData: { mode, bytes, shared } });
  const times = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    const got = await new Promise((res) => { w.once('message', res); w.postMessage(r); });
    const last = mode === 'arena' ? view[bytes - 1] : got[bytes - 1];
    if (last !== (r & 255)) throw new Error(`hand-off ${mode} delivered stale data`);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  await w.terminate();
  return median(times.slice(2));
}

export async function benchKernel({ particles, frames, grain, out }) {
  setWasmTiering('eager');
  const { addon } = loadTestingAddon();
  const module = new WebAssembly.Module(readFileSync(defaultKernelPath()));
  const reps = 5;
  const wasm = [];
  const native = [];
  for (let i = 0; i < reps; i++) {
    wasm.push(wasmKernelSeconds(module, particles, frames, grain));
    native.push(addon.kernelBenchNative({ particles, frames, chunk: grain }));
  }
  const w = median(wasm);
  const n = median(native);
  const rate = (s) => ((particles * frames) / s / 1e6).toFixed(1);
  out.write(`particle kernel, ${particles} particles x ${frames} frames, chunks of ${grain}, 1 thread, median of ${reps}\n`);
  out.write(`  native C (gcc, same source, 4-wide vectors)${(n * 1e3).toFixed(1)} ms  ${rate(n)} M particles/s\n`);
  out.write(`  WASM (V8 ${process.versions.v8}, simd128)   ${(w * 1e3).toFixed(1)} ms  ${rate(w)} M particles/s\n`);
  out.write(`  WASM / native throughput: ${(n / w).toFixed(2)}x\n\n`);
  const bytes = particles * 32;
  const rounds = 20;
  const arena = await handoff('arena', bytes, rounds);
  const clone = await handoff('clone', bytes, rounds);
  const transfer = await handoff('transfer', bytes, rounds);
  out.write(`hand-off of one frame (${(bytes / 2 ** 20).toFixed(1)} MiB) worker -> main, round trip, median of ${rounds - 2}\n`);
  out.write(`  shared arena (offset only)        ${arena.toFixed(3)} ms\n`);
  out.write(`  postMessage, structured clone     ${clone.toFixed(3)} ms  (${(clone / arena).toFixed(1)}x the arena)\n`);
  out.write(`  postMessage, transfer             ${transfer.toFixed(3)} ms  (${(transfer / arena).toFixed(1)}x the arena)\n`);
  return { nativeS: n, wasmS: w, arenaMs: arena, cloneMs: clone, transferMs: transfer };
}

// One run of either pipeline: its full-run statistics (from stats.json) and
// the process CPU time it used per frame.
async function pipelineRun(make, opts) {
  const engine = await make(opts);
  const cpu0 = process.cpuUsage();
  const status = await engine.run();
  const cpu = process.cpuUsage(cpu0);
  const dir = mkdtempSync(join(tmpdir(), 'tp-bench-'));
  engine.writeOutputs({ stats: join(dir, 'stats.json') });
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  await engine.close();
  const seg = stats.segments;
  return {
    presented: status.presented, late: status.late, failed: status.failed,
    p50: seg.latency.p50_ns / 1e6, p99: seg.latency.p99_ns / 1e6, jitter: seg.interval.stddev_ns / 1e6,
    cpuMs: (cpu.user + cpu.system) / 1000 / Math.max(1, status.presented),
  };
}

export async function benchPipeline({ particles, frames, hz, renderer, out }) {
  // Like for like: the governor would shed the zero-copy side's render cost
  // only (the copy baseline has none).
  const opts = { particles, frames, hz, renderer, grain: 2048, governor: 'off' };
  out.write(`zero-copy pipeline vs copy-based baseline: ${particles} particles, ${frames} frames at ${hz || 'max'} Hz, renderer ${renderer}\n`);
  const zero = await pipelineRun(createEngine, opts);
  const copy = await pipelineRun(createCopyBaseline, opts);
  const row = (name, z, c, unit, digits = 3) => out.write(`  ${name.padEnd(34)} ${z.toFixed(digits).padStart(10)} ${c.toFixed(digits).padStart(10)} ${unit.padEnd(4)} ${(c / z).toFixed(2).padStart(7)}x\n`);
  out.write(`  ${''.padEnd(34)} ${'zero-copy'.padStart(10)} ${'copy'.padStart(10)}      copy/zero\n`);
  row('end-to-end latency p50', zero.p50, copy.p50, 'ms');
  row('end-to-end latency p99', zero.p99, copy.p99, 'ms');
  row('frame-time jitter (interval stddev)', zero.jitter, copy.jitter, 'ms');
  row('process CPU time per frame', zero.cpuMs, copy.cpuMs, 'ms');
  out.write(`  frames presented ${zero.presented} / ${copy.presented}, late ${zero.late} / ${copy.late}\n`);
  return { zero, copy };
}
