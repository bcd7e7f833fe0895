// SPDX-License-Identifier: Apache-2.0
// The triptych CLI as a user types it: help, exit codes (0 ok, 1 runtime
// failure, 2 bad usage), a short headless run that writes every output, and
// plan/info in JSON.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');

function triptych(...args) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, timeout: 120000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('help and usage errors', { skip }, () => {
  assert.equal(triptych('--help').code, 0);
  assert.equal(triptych().code, 2);
  const unknown = triptych('paint');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /unknown command 'paint'/);
  for (const cmd of ['run', 'plan', 'info', 'bench']) {
    const r = triptych(cmd, '--help');
    assert.equal(r.code, 0, cmd);
    assert.match(r.out, /usage: triptych/, cmd);
  }
  const bad = [
    [['run', '--particles=-5'], /--particles must be an integer/],
    [['run', '--particles', '0'], /--particles must be an integer in \[1, 16777216\], got 0/],
    [['run', '--hz', 'fast'], /--hz must be a number in \[0, 1000\], got .fast./],
    [['run', '--renderer', 'metal'], /--renderer must be one of auto, vulkan, cpu/],
    [['run', '--seconds', '1', '--frames', '10'], /not both/],
    [['run', '--nonsense'], /Unknown option '--nonsense'/],
    [['plan', '--reserved-cores', 'x'], /--reserved-cores must be an integer/],
    [['run', '--compute', 'native', '--kernel', 'k.wasm'], /not a .wasm: drop the kernel/],
    [['run', '--frames=-1'], /--frames must be an integer in \[0, /],
  ];
  for (const [args, message] of bad) {
    const r = triptych(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, message, args.join(' '));
  }
});

test('run writes the report, trace, CSV, stats and snapshot', { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-cli-'));
  const r = triptych('run', '--frames', '20', '--hz', '0', '--particles', '3000', '--renderer', 'cpu',
    '--width', '160', '--height', '120', '--out', out, '--quiet');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /frames: issued 20, presented 20, late 0, dropped 0, failed 0/);
  for (const f of ['trace.json', 'report.html', 'frames.csv', 'stats.json', 'snapshot.png']) {
    assert.ok(statSync(join(out, f)).size > 0, f);
  }
  const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8'));
  assert.ok((trace.traceEvents ?? trace).length > 20);
  assert.equal(readFileSync(join(out, 'frames.csv'), 'utf8').trim().split('\n').length, 21);
  const png = readFileSync(join(out, 'snapshot.png'));
  assert.equal(png.subarray(1, 4).toString(), 'PNG');
});

test('a runtime failure exits 1 with the reason', { skip }, () => {
  const r = triptych('run', '--frames', '2', '--kernel', '/nonexistent/k.wasm', '--renderer', 'cpu', '--quiet');
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot read kernel .*k\.wasm.*ERR_TRIPTYCH_KERNEL_NOT_FOUND/);
  const d = triptych('run', '--frames', '2', '--device', 'no such GPU anywhere', '--quiet');
  assert.equal(d.code, 1);
  assert.match(d.err, /no such GPU anywhere/);
});

test('plan and info print JSON', { skip }, () => {
  const plan = triptych('plan', '--json');
  assert.equal(plan.code, 0, plan.err);
  const p = JSON.parse(plan.out);
  assert.ok(p.compute.threads.length >= 1);
  const gpu = triptych('plan', '--json', '--topology', 'tests/sched/data/gpu-16core.xml');
  assert.equal(gpu.code, 0, gpu.err);
  assert.equal(JSON.parse(gpu.out).compute.threads.length, 9);
  const info = triptych('info', '--json');
  assert.equal(info.code, 0, info.err);
  const i = JSON.parse(info.out);
  assert.equal(i.wasm.simd128, true);
  assert.equal(i.wasm.threads, true);
  assert.ok(Array.isArray(i.devices));
  // --raster auto's rule, per usable device: a software rasteriser takes quads.
  for (const d of i.devices.filter((x) => x.usable)) {
    assert.match(d.raster, d.type === 'cpu' ? /^quads/ : /^auto: quads or compute splat/, d.name);
  }
  // Where --present auto would show frames, and why (docs/presenter.md).
  assert.equal(typeof i.present.window, 'boolean');
  if (!process.env.DISPLAY) {
    assert.equal(i.present.window, false);
    assert.match(i.present.why, /^offscreen: no display: DISPLAY is not set/);
  }
});
