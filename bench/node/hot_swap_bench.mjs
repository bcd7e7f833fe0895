// SPDX-License-Identifier: Apache-2.0
// What hot-swap costs the frames: the same scene run with a kernel swap every
// --every-ms (engine.swapKernel, the particle kernel swapped for itself, so
// the frames' work is the same) against runs without swaps, interleaved in one
// process (none, swaps, none, swaps, ...) so drift hits both alike. Prints per
// run the frame time (presented -> next presented) p50/p99, the frames
// presented late, the swaps made and their build, swap and frame-path times,
// then the medians and the ratio swaps / none. Asserts nothing
// (docs/BENCHMARKS.md, "Hot-swap").
//   node bench/node/hot_swap_bench.mjs [--particles N] [--seconds S] [--hz N] [--every-ms MS] [--rounds N] [--renderer cpu|vulkan]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchScene } from './scene.mjs';

const { lib, scene, own } = await benchScene(
  { particles: '20000', seconds: '5', hz: '120', renderer: 'cpu', width: '320', height: '240' },
  { 'every-ms': '250', rounds: '3' });
const everyMs = Number(own['every-ms']);
const kernelFile = lib.defaultKernelPath();

async function once(withSwaps) {
  const engine = await lib.createEngine(scene);
  engine.start();
  const swaps = [];
  let refused = 0;
  if (withSwaps) {
    // Swap until the run ends; the last one may find it ended (refused).
    for (;;) {
      await new Promise((r) => setTimeout(r, everyMs));
      if (engine.status().finished) break;
      try {
        swaps.push(await engine.swapKernel(kernelFile));
      } catch {
        refused++;
      }
    }
  }
  const s = await engine.wait({ intervalMs: 100 });
  const dir = mkdtempSync(join(tmpdir(), 'tp-hot-swap-'));
  engine.writeOutputs({ stats: join(dir, 'stats.json') });
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  await engine.close();
  return {
    presented: s.presented, late: s.late, failed: s.failed, swaps: swaps.length, refused,
    interval_p50: stats.segments.interval.p50_ns / 1e6, interval_p99: stats.segments.interval.p99_ns / 1e6,
    build: median(swaps.map((w) => w.buildMs)), swap: median(swaps.map((w) => w.swapMs)),
    framePath: median(swaps.map((w) => w.frameCostMs)),
  };
}

function median(xs) {
  if (xs.length === 0) return NaN;
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

const runs = { none: [], swaps: [] };
console.log(`hot-swap: ${scene.particles} particles, ${scene.seconds} s at ${scene.hz} Hz, ${scene.renderer} renderer ` +
  `${scene.width}x${scene.height}, a swap every ${everyMs} ms, ${own.rounds} interleaved rounds`);
for (let r = 0; r < Number(own.rounds); r++) {
  for (const mode of ['none', 'swaps']) {
    const row = await once(mode === 'swaps');
    runs[mode].push(row);
    const swapText = mode === 'swaps'
      ? `  swaps ${row.swaps} (refused ${row.refused}): build ${row.build.toFixed(1)} ms, swap ${row.swap.toFixed(2)} ms, frame path ${row.framePath.toFixed(3)} ms`
      : '';
    console.log(`  round ${r + 1} ${mode.padEnd(5)}: frame time p50 ${row.interval_p50.toFixed(2)} ms p99 ${row.interval_p99.toFixed(2)} ms, ` +
      `presented ${row.presented}, late ${row.late}, failed ${row.failed}${swapText}`);
  }
}
const med = (mode, key) => median(runs[mode].map((x) => x[key]));
console.log('medians        none     swaps    swaps/none');
for (const key of ['interval_p50', 'interval_p99', 'late', 'failed']) {
  const a = med('none', key);
  const b = med('swaps', key);
  console.log(`  ${key.padEnd(12)} ${a.toFixed(2).padStart(7)} ${b.toFixed(2).padStart(9)} ${a === 0 ? '      -' : (b / a).toFixed(2).padStart(9)}`);
}
