// SPDX-License-Identifier: Apache-2.0
// Kernel languages and wasm-opt: the particle kernel as C (kernels/particles.c)
// and as AssemblyScript (kernels/particles.ts, the same computation, bit for
// bit), each built by `triptych kernel build` with --no-opt and --opt
// (binaryen's wasm-opt), run on this thread with no engine
// (kernel_lang_frames.mjs), V8's optimising tier up front (as the engine's
// default --wasm-tier eager). The four run interleaved in one process, the
// order rotating each round, so drift hits all alike. Prints each one's
// throughput (median over rounds) and frame time p50/p99, then the ratios
// AssemblyScript / C and opt / no-opt (>1: faster). Asserts nothing
// (docs/BENCHMARKS.md, "Kernel languages and wasm-opt"). Pin it with taskset:
//   taskset -c 1 node bench/node/kernel_lang_bench.mjs [--particles N] [--frames N] [--chunk N] [--rounds N]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

import { setWasmTiering } from '../../node/lib/index.mjs';
import { kernelRunner } from './kernel_lang_frames.mjs';

const { values } = parseArgs({
  options: {
    particles: { type: 'string', default: '262144' },
    frames: { type: 'string', default: '30' },
    chunk: { type: 'string', default: '4096' },
    rounds: { type: 'string', default: '7' },
  },
});
const particles = Number(values.particles);
const frames = Number(values.frames);
const chunk = Number(values.chunk);
const rounds = Number(values.rounds);

const checkout = resolve(new URL('../..', import.meta.url).pathname);
const cli = join(checkout, 'node/bin/triptych.mjs');
const variants = [
  { name: 'C', source: 'kernels/particles.c', opt: '--no-opt' },
  { name: 'C + wasm-opt', source: 'kernels/particles.c', opt: '--opt' },
  { name: 'AssemblyScript', source: 'kernels/particles.ts', opt: '--no-opt' },
  { name: 'AssemblyScript + wasm-opt', source: 'kernels/particles.ts', opt: '--opt' },
];

setWasmTiering('eager');
const dir = mkdtempSync(join(tmpdir(), 'triptych-kernel-lang-'));
try {
  for (const [i, v] of variants.entries()) {
    v.file = join(dir, `${i}.wasm`);
    const r = spawnSync(process.execPath, [cli, 'kernel', 'build', join(checkout, v.source), v.opt, '-o', v.file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`building ${v.name}: ${r.stderr}`);
    v.bytes = readFileSync(v.file).length;
    v.runner = kernelRunner(new WebAssembly.Module(readFileSync(v.file)), { particles, chunk });
    v.runner.step(); // the first frame initialises; not timed
    v.roundSeconds = [];
    v.frameMs = [];
  }
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const v = variants[(round + k) % variants.length];
      const start = process.hrtime.bigint();
      for (let f = 0; f < frames; f++) {
        const t0 = process.hrtime.bigint();
        v.runner.step();
        v.frameMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
      v.roundSeconds.push(Number(process.hrtime.bigint() - start) / 1e9);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const quantile = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];
const rate = (v) => (particles * frames) / quantile(v.roundSeconds, 0.5) / 1e6;
process.stdout.write(`particle kernel, ${particles} particles x ${frames} frames, chunks of ${chunk}, 1 thread, ` +
  `${rounds} interleaved rounds, V8 ${process.versions.v8} (eager tier)\n`);
for (const v of variants) {
  process.stdout.write(`  ${v.name.padEnd(27)} ${String(v.bytes).padStart(6)} B  ${rate(v).toFixed(1).padStart(6)} M particles/s  ` +
    `frame p50 ${quantile(v.frameMs, 0.5).toFixed(2)} ms  p99 ${quantile(v.frameMs, 0.99).toFixed(2)} ms\n`);
}
const [c, cOpt, as, asOpt] = variants;
const ratio = (a, b) => (rate(a) / rate(b)).toFixed(3);
process.stdout.write(`  AssemblyScript / C throughput:           ${ratio(as, c)}x (with wasm-opt: ${ratio(asOpt, cOpt)}x)\n`);
process.stdout.write(`  wasm-opt on / off throughput, C:         ${ratio(cOpt, c)}x\n`);
process.stdout.write(`  wasm-opt on / off throughput, AssemblyScript: ${ratio(asOpt, as)}x\n`);
