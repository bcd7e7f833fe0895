// SPDX-License-Identifier: Apache-2.0
// The addon is context-aware, as Electron's renderers and utility processes
// require: under `node --force-context-aware` it loads on the main thread and
// in several worker_threads at once, each running an engine; workers
// terminated mid-run leave nothing behind (their environment's cleanup hook
// stops the engine: its native threads end and the registry forgets it), and
// the main thread's instance still runs an engine afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir}/node/triptych.node first (make build)`;
const TIMEOUT_MS = 120_000;

test('loads in the main thread and 3 workers under --force-context-aware; terminated workers are cleaned up', { skip }, () => {
  const began = Date.now();
  const child = spawnSync(process.execPath, ['--force-context-aware', 'tests/node/electron/context_aware_child.mjs'], {
    encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, timeout: TIMEOUT_MS,
  });
  const tookMs = Date.now() - began;
  assert.ok(tookMs < TIMEOUT_MS / 2, `the child took ${tookMs} ms of its ${TIMEOUT_MS} ms limit`);
  assert.equal(child.signal, null, `the child died by ${child.signal}:\n${child.stderr}`);
  assert.equal(child.status, 0, child.stderr);
  const r = JSON.parse(child.stdout.trim().split('\n').at(-1));
  assert.equal(r.framesBefore.length, 3, 'every worker ran frames before it was terminated');
  for (const frames of r.framesBefore) assert.ok(frames > 0);
  assert.ok(r.peak > r.baseline, `the workers' engines added threads (${r.baseline} -> ${r.peak})`);
  assert.deepEqual(r.codes, [1, 1, 1], 'terminate() reports each worker stopped');
  assert.ok(r.terminateMs < 10_000, `terminating took ${r.terminateMs} ms`);
  assert.equal(r.after, r.baseline, `threads back to the baseline ${r.baseline} (left: ${r.after}, after ${r.settleMs} ms)`);
  assert.ok(r.settleMs < 5_000, `threads ended ${r.settleMs} ms after the terminations`);
  assert.deepEqual(r.stillRegistered, [], 'each terminated engine left the registry');
  assert.equal(r.mainFinished, true, 'the main thread still runs an engine to its end');
  assert.equal(r.mainFrames, 5);
});
