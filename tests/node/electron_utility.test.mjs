// SPDX-License-Identifier: Apache-2.0
// Variant A's utility entry (examples/electron/utility.mjs) under Node,
// through a parentPort stand-in (electron/utility_host.mjs): stats and a
// thumbnail of the result zone arrive over the port, and a stop from the
// main process closes the engine, tells both sides and exits 0 promptly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const skip = !existsSync(join(buildDir, 'node/triptych.node')) && `build ${buildDir} first (make build)`;
const TIMEOUT_MS = 60_000;

test('variant A utility: stats and a thumbnail arrive, a stop shuts it down cleanly', { skip }, () => {
  const began = Date.now();
  const child = spawnSync(process.execPath, ['tests/node/electron/utility_host.mjs'], {
    encoding: 'utf8', timeout: TIMEOUT_MS,
    env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir,
      TRIPTYCH_TEST_ENGINE: JSON.stringify({ particles: 2000, grain: 1000, hz: 30, width: 64, height: 48, renderer: 'cpu', frames: 0 }) },
  });
  const ended = Date.now();
  assert.ok(ended - began < TIMEOUT_MS / 2, `the utility took ${ended - began} ms of its ${TIMEOUT_MS} ms limit`);
  assert.equal(child.signal, null, `killed by ${child.signal}:\n${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  const events = child.stdout.trim().split('\n').map((line) => JSON.parse(line));
  const fromPort = events.filter((e) => e.from === 'port');
  assert.equal(fromPort[0].type, 'started');
  assert.match(fromPort[0].renderer, /CPU/);
  const stats = fromPort.filter((e) => e.type === 'stats');
  assert.ok(stats.length >= 2, 'stats arrive every 250 ms');
  const last = stats.at(-1);
  assert.ok(last.presented > 0 && last.failed === 0 && last.error === '', JSON.stringify(last));
  for (const key of ['fps', 'p50Ms', 'p99Ms', 'dropped']) assert.equal(typeof last[key], 'number', key);
  const thumb = fromPort.find((e) => e.type === 'thumbnail');
  assert.ok(thumb, 'a thumbnail arrives');
  assert.deepEqual([thumb.width, thumb.height], [64, 48], 'a 64x48 result fits the 96-pixel thumbnail whole');
  assert.equal(thumb.pixels.length, 64 * 48 * 4);
  assert.ok(thumb.pixels.nonZero, 'the thumbnail shows the rendered particles');
  assert.ok(thumb.frame > 0);
  // The stop: the window's port hears it, then the main process, then exit 0.
  const stopAt = events.find((e) => e.from === 'host').stopAt;
  assert.ok(fromPort.some((e) => e.type === 'stopped'), 'the window hears the stop');
  const stopped = events.find((e) => e.from === 'utility' && e.type === 'stopped');
  assert.ok(stopped, 'the main process hears the stop');
  assert.equal(stopped.why, 'the main process asked');
  assert.equal(stopped.finished, true, 'the engine finished before the utility said so');
  assert.ok(ended - stopAt < 5_000, `exited ${ended - stopAt} ms after the stop`);
});
