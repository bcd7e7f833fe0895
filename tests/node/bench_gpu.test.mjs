// SPDX-License-Identifier: Apache-2.0
// `make bench-gpu` stays working: its script (bench/gpu/run.mjs) in --short
// mode runs every scene for a few frames on whatever device is here and
// writes bench.json (checked against its schema: every scene, each with its
// figures and report folder), bench.md and each run's report. Its figures are
// never asserted: the benchmark is not part of make test's pass/fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const script = resolve('bench/gpu/run.mjs');
const skip = existsSync(join(buildDir, 'node/triptych.node')) ? false : `not built (${buildDir})`;

const number = (v) => typeof v === 'number' && Number.isFinite(v);

test('bench-gpu --short runs every scene and writes schema-valid JSON', { skip, timeout: 240_000 }, () => {
  const out = mkdtempSync(join(tmpdir(), 'bench-gpu-'));
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [script, '--short', '--out', out], {
    encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, timeout: 200_000,
  });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.ok(performance.now() - t0 < 200_000, 'finished well inside its timeout');
  const j = JSON.parse(readFileSync(join(out, 'bench.json'), 'utf8'));
  assert.equal(j.schema, 'triptych-bench-gpu/1');
  assert.equal(j.mode, 'short');
  assert.ok(!Number.isNaN(Date.parse(j.date)));
  assert.ok(number(j.machine.cpus) && typeof j.machine.kernel === 'string');
  assert.ok(j.device && typeof j.device.name === 'string', 'the device it ran on');
  assert.ok(Array.isArray(j.info.devices) && j.info.plan, 'triptych info and the plan');
  const groups = new Set(j.runs.map((run) => run.group));
  for (const g of ['headline', 'sizes', 'workers', 'zero-copy vs copy', 'GPU import vs CPU layout', 'frames in flight',
    'raster quads vs compute splat']) {
    assert.ok(groups.has(g), `scene group '${g}'`);
  }
  for (const run of j.runs) {
    assert.equal(run.status, 'ok', `${run.name}: ${run.status}`);
    assert.ok(number(run.particles) && number(run.frames) && run.hz === 120, run.name);
    const f = run.figures;
    for (const k of ['p50', 'p99', 'max']) assert.ok(number(f.latency_ms[k]), `${run.name} latency ${k}`);
    assert.ok(number(f.interval_sigma_ms), `${run.name} interval sigma`);
    assert.ok(Number.isInteger(f.misses_120hz), `${run.name} misses`);
    assert.equal(f.presented + f.dropped + f.failed, run.frames, `${run.name}: every frame accounted`);
    assert.ok(number(f.stages.render.p50_ms), `${run.name} render stage`);
    assert.ok(existsSync(join(run.report_dir, 'report.html')) && existsSync(join(run.report_dir, 'stats.json')), run.name);
  }
  for (const run of j.runs.filter((r) => r.group === 'raster quads vs compute splat')) {
    const splat = run.args.includes('splat');
    assert.match(run.raster, splat ? /^compute splat/ : /^raster quads/, `${run.name} drew the way it was asked`);
  }
  assert.equal(j.raster_vs_splat.length, 2, 'a splat/quads ratio at both sizes');
  for (const s of j.raster_vs_splat) assert.ok(number(s.render_p50_splat_over_quads), 'render ratio');
  assert.match(readFileSync(join(out, 'bench.md'), 'utf8'), /\| group \| scene \|/);
});
