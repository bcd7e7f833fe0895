// SPDX-License-Identifier: Apache-2.0
// devices() and `triptych info` show the engine's own device choice (the
// render stage's ranking, render::choose_device): the addon marks the picked
// device and says why, and the CLI prints that device rather than ranking
// devices itself.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
process.env.TRIPTYCH_BUILD_DIR = buildDir;
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');

function info(...args) {
  const r = spawnSync(process.execPath, [cli, 'info', ...args], { encoding: 'utf8', env: process.env, timeout: 120000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

function listed() {
  return import('../../node/lib/index.mjs').then((lib) => {
    try { return lib.devices(); } catch { return null; }  // no Vulkan loader: nothing to pick from
  });
}

test('devices() marks at most one picked device, usable, and says why for every device', { skip }, async () => {
  const devices = await listed();
  if (devices === null) return;
  const picked = devices.filter((d) => d.picked);
  assert.equal(picked.length, devices.some((d) => d.usable) ? 1 : 0, JSON.stringify(devices));
  for (const d of devices) {
    assert.equal(typeof d.why, 'string');
    assert.ok(d.why.length > 0, `device ${d.index} has no reason`);
    if (!d.usable) assert.match(d.why, /unusable/);
    if (d.usable && !d.picked) assert.match(d.why, new RegExp(`ranked below \\[${picked[0].index}\\]`));
  }
  if (picked.length === 1) assert.ok(picked[0].usable);
});

test('triptych info prints the device devices() picked, with the reason', { skip }, async () => {
  const devices = await listed();
  if (devices === null) return;
  const picked = devices.find((d) => d.picked);
  assert.equal(JSON.parse(info('--json')).pick, picked?.name ?? null);
  const text = info();
  const line = text.split('\n').find((l) => l.startsWith('engine would pick: '));
  assert.ok(line, text);
  assert.equal(line, picked ? `engine would pick: ${picked.name}: ${picked.why}` : 'engine would pick: no usable Vulkan device (use --renderer cpu)');
});
