// SPDX-License-Identifier: Apache-2.0
// `triptych plan` and `triptych run` as a user sees the core plan's fixes
// (docs/scheduler.md "Core plan"): on a 2-socket machine with its GPU on the
// second node each pool lies within one NUMA node and render sits near the
// GPU, and the notes say so; on one CPU the plan is degraded, says so, and a
// run still completes. Topologies: tests/sched/topologies/ and tests/sched/data/.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');
const gpuOnNode1 = 'tests/sched/topologies/2socket-l3x4-smt-gpu-node1.xml';
const RUN_TIMEOUT_MS = 120000;

function run(command, ...args) {
  const started = Date.now();
  const r = spawnSync(command, args, {
    encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, timeout: RUN_TIMEOUT_MS,
  });
  return { code: r.status, out: r.stdout, err: r.stderr, ms: Date.now() - started };
}
const triptych = (...args) => run(process.execPath, cli, ...args);

test('plan --topology: 2 sockets, GPU on node 1: each pool within one node, render near the GPU, said', { skip }, () => {
  const table = triptych('plan', '--topology', gpuOnNode1);
  assert.equal(table.code, 0, table.err);
  assert.match(table.out, /^render\s+4\s+32,34,36,38\s+1\s/m);
  assert.match(table.out, /^compute\s+13\s+6,8,10,.*,30\s+0\s/m);
  assert.match(table.out, /note: render: 4 thread\(s\), what the render stage can use/);
  assert.match(table.out, /note: GPU card1 \(PCI 0000:81:00\.0\) is nearest NUMA node\(s\) 1: render is placed there/);
  assert.match(table.out, /note: each pool within one NUMA node where one holds it: compute on NUMA node 0, render on NUMA node 1/);
  assert.doesNotMatch(table.out, /WARNING/);

  const json = triptych('plan', '--json', '--topology', gpuOnNode1);
  assert.equal(json.code, 0, json.err);
  const p = JSON.parse(json.out);
  assert.deepEqual(p.compute.numa_nodes, [0]);
  assert.deepEqual(p.render.numa_nodes, [1]);
  assert.equal(p.oversubscribed, false);
  assert.equal(p.degraded, false);
  const claimed = [...p.reserved, ...p.compute.cpus, ...p.render.cpus];
  assert.equal(new Set(claimed).size, claimed.length, 'reserved, compute and render are disjoint');
  for (const c of claimed) assert.ok(p.allowed.includes(c), `CPU ${c} is allowed`);
});

test('plan on 1 CPU: every pool gets the CPU, DEGRADED in the table and the warnings', { skip }, () => {
  const r = triptych('plan', '--topology', 'tests/sched/data/1core.xml');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /pool threads 2 on 1 allowed CPUs \(OVERSUBSCRIBED\) \(DEGRADED\)/);
  assert.match(r.out, /WARNING: DEGRADED: .*render .*shares CPU 0/);
  const p = JSON.parse(triptych('plan', '--json', '--topology', 'tests/sched/data/1core.xml').out);
  assert.deepEqual([p.compute.threads, p.render.threads, p.degraded], [[0], [0], true]);
});

const taskset = spawnSync('taskset', ['--version']).status === 0;
test('run on 1 CPU (taskset): warns DEGRADED and presents every frame', { skip: skip || (!taskset && 'no taskset') }, () => {
  const cpu = readFileSync('/proc/self/status', 'utf8').match(/^Cpus_allowed_list:\s*(\d+)/m)[1];
  const out = mkdtempSync(join(tmpdir(), 'tp-plan-1cpu-'));
  const r = run('taskset', '-c', cpu, process.execPath, cli, 'run', '--frames', '20', '--hz', '0',
    '--particles', '3000', '--renderer', 'cpu', '--width', '160', '--height', '120', '--quiet', '--out', out);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, new RegExp(`triptych: WARNING: DEGRADED: 1 allowed CPU\\(s\\) \\(${cpu}\\)`));
  assert.match(r.out, /frames: issued 20, presented 20, late 0, dropped 0, failed 0/);
  assert.ok(r.ms < RUN_TIMEOUT_MS / 4, `the run took ${r.ms} ms, well inside its ${RUN_TIMEOUT_MS} ms limit`);
});
