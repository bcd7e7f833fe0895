// SPDX-License-Identifier: Apache-2.0
// The cost of the kernel boundary: the frame path with the arena's two
// memories (the kernel's and the engine's; what every engine uses) against
// one memory that kernels and the engine share (the layout before the
// boundary, kept only as this benchmark's peer). Same scene, kernel, workers
// and pinning, runs interleaved in one process (two, one, two, one, ...), so
// drift hits both alike. Prints per-run p50/p99 of compute, hand-off and end
// to end, then the medians and the ratio two / one (1.00: no cost). Asserts
// nothing (docs/BENCHMARKS.md, "Kernel boundary").
//   node bench/node/boundary_bench.mjs [--particles N] [--frames N] [--hz N] [--rounds N] [--renderer cpu|vulkan]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchScene } from './scene.mjs';

const { lib, scene, own } = await benchScene(
  { particles: '100000', frames: '600', hz: '120', renderer: 'cpu', width: '320', height: '240' }, { rounds: '3' });
const SEGMENTS = ['compute', 'handoff', 'latency'];

async function once(oneMemory) {
  const engine = await lib.createEngine({ ...scene, _oneMemoryForBenchmark: oneMemory });
  const s = await engine.run({ intervalMs: 100 });
  const dir = mkdtempSync(join(tmpdir(), 'tp-boundary-'));
  engine.writeOutputs({ stats: join(dir, 'stats.json') });
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  await engine.close();
  const row = { presented: s.presented, failed: s.failed };
  for (const seg of SEGMENTS) {
    row[`${seg}_p50`] = stats.segments[seg].p50_ns / 1e6;
    row[`${seg}_p99`] = stats.segments[seg].p99_ns / 1e6;
  }
  return row;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = { two: [], one: [] };
console.log(`kernel boundary: ${scene.particles} particles, ${scene.frames} frames at ${scene.hz} Hz, ` +
  `${scene.renderer} renderer ${scene.width}x${scene.height}, ${own.rounds} interleaved rounds`);
for (let r = 0; r < Number(own.rounds); r++) {
  for (const mode of ['two', 'one']) {
    const row = await once(mode === 'one');
    runs[mode].push(row);
    console.log(`  round ${r + 1} ${mode} memor${mode === 'one' ? 'y ' : 'ies'}: ` +
      SEGMENTS.map((seg) => `${seg} ${row[`${seg}_p50`].toFixed(3)}/${row[`${seg}_p99`].toFixed(3)} ms`).join(', ') +
      `, presented ${row.presented}`);
  }
}
console.log('medians (p50 / p99, ms) and two / one:');
for (const seg of SEGMENTS) {
  const cells = ['p50', 'p99'].map((q) => {
    const two = median(runs.two.map((x) => x[`${seg}_${q}`]));
    const one = median(runs.one.map((x) => x[`${seg}_${q}`]));
    return `${q} ${two.toFixed(3)} vs ${one.toFixed(3)} (${(two / one).toFixed(2)}x)`;
  });
  console.log(`  ${seg.padEnd(8)} ${cells.join(', ')}`);
}
