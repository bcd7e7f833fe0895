// SPDX-License-Identifier: Apache-2.0
// The addon's FramePacer (pipeline::FramePacer for the copy baseline's JS
// loop): the first deadline is a period from now, a late start moves the next
// deadline to now (no catch-up), 0n is unpaced, and a bad period is refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
process.env.TRIPTYCH_BUILD_DIR = buildDir;
const skip = !existsSync(join(buildDir, 'node/triptych.node')) && `build ${buildDir} first (make build)`;

test('FramePacer paces on the native rule', { skip }, async () => {
  const { loadAddon } = await import('../../node/lib/index.mjs');
  const { addon } = loadAddon();
  const period = 50_000_000n;  // 50 ms
  const before = addon.nowNs();
  const p = new addon.FramePacer(period);
  const after = addon.nowNs();
  assert.equal(p.paced, true);
  assert.ok(p.deadlineNs >= before + period && p.deadlineNs <= after + period, `${p.deadlineNs}`);
  const first = p.deadlineNs;
  p.startFrame();  // 50 ms early: the grid holds
  assert.equal(p.deadlineNs, first + period);
  await new Promise((r) => setTimeout(r, 200));  // now about two periods past the next deadline
  const late = addon.nowNs();
  p.startFrame();
  assert.ok(p.deadlineNs >= late && p.deadlineNs < late + period, 'a late start restarts from now');
  assert.equal(new addon.FramePacer(0n).paced, false);
  assert.throws(() => new addon.FramePacer(-1), RangeError);
});
