// SPDX-License-Identifier: Apache-2.0
// The deadline governor, on against off, in one invocation: the same scene
// (`make run`'s by default) run twice through the CLI, then late frames,
// latency p50/p99, what was delivered (resolution, particles, rate) and the
// governor's decisions: how long from the first shed to the last one (its
// convergence) and how many changes after that. Figures for
// docs/BENCHMARKS.md; not a test.
//   TRIPTYCH_BUILD_DIR=build/dev node bench/node/governor_bench.mjs [-- extra run flags]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const cli = resolve('node/bin/triptych.mjs');
const extra = process.argv.slice(2).filter((a) => a !== '--');

function run(governor) {
  const out = mkdtempSync(join(tmpdir(), `tp-gov-${governor}-`));
  const r = spawnSync(process.execPath, [cli, 'run', '--headless', '--quiet', '--governor', governor, '--out', out, ...extra],
    { encoding: 'utf8', env: process.env });
  if (r.status !== 0) throw new Error(`run --governor ${governor} failed: ${r.stderr}`);
  const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
  rmSync(out, { recursive: true, force: true });
  const line = (re) => (re.exec(r.stdout) || [])[1] ?? '?';
  const lat = /latency\s+\d+\s+[\d.]+\s+([\d.]+)\s+([\d.]+)/.exec(r.stdout) || [];
  const decisions = stats.governor || [];
  const t0 = stats.frames.first_ns;
  const sheds = decisions.filter((d) => !d.reason.startsWith('headroom'));
  const lastShed = sheds.length ? sheds[sheds.length - 1].at_ns : 0;
  return {
    governor, late: line(/frames: issued \d+, presented \d+, late (\d+)/), presented: line(/presented (\d+), late/),
    p50: lat[1], p99: lat[2], delivered: line(/delivered: (.*)/), renderer: line(/renderer: (.*)/),
    changes: decisions.length,
    converged_s: sheds.length ? ((lastShed - sheds[0].at_ns) / 1e9).toFixed(2) : '-',
    first_shed_s: sheds.length ? ((sheds[0].at_ns - t0) / 1e9).toFixed(2) : '-',
  };
}

const rows = [run('on'), run('off')];
console.log('governor | late / presented | latency p50 / p99 ms | first shed s | first->last shed s | changes | delivered');
for (const r of rows) {
  console.log(`${r.governor} | ${r.late} / ${r.presented} | ${r.p50} / ${r.p99} | ${r.first_shed_s} | ${r.converged_s} | ${r.changes} | ${r.delivered}`);
}
console.log(`renderer: ${rows[0].renderer}`);
