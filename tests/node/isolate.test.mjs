// SPDX-License-Identifier: Apache-2.0
// Isolation mode from the command a user types: `triptych run --isolate` and
// the native `triptych-run --isolate` render in a render process of their
// own, and a SIGKILL of that process mid-run costs at most the frame it held:
// the run goes on, exits 0, and its summary and stats.json count the crash.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');
const nativeRun = join(buildDir, 'tools/triptych-run/triptych-run');
const env = { ...process.env, TRIPTYCH_BUILD_DIR: buildDir };

// The render processes among `pid`'s children; `rendering`: only the one
// attached (it maps the memfds), not the warm standby waiting behind it.
function renderChildren(pid, rendering = false) {
  const found = [];
  for (const task of readdirSync(`/proc/${pid}/task`)) {
    let kids = '';
    try { kids = readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8'); } catch { continue; }
    for (const k of kids.trim().split(/\s+/).filter(Boolean)) {
      try {
        if (readFileSync(`/proc/${k}/comm`, 'utf8').trim() !== 'triptych-render') continue;
        if (rendering && !readFileSync(`/proc/${k}/maps`, 'utf8').includes('memfd:')) continue;
        found.push(Number(k));
      } catch { /* gone already */ }
    }
  }
  return found;
}

for (const [name, command, args] of [
  ['triptych run --isolate', process.execPath, [cli, 'run']],
  ['triptych-run --isolate (native)', nativeRun, []],
]) {
  test(`${name}: a SIGKILL of the render process mid-run is survived and counted`, { skip }, async () => {
    const out = mkdtempSync(join(tmpdir(), 'tp-isolate-'));
    const child = spawn(command, [...args, '--isolate', '--seconds', '4', '--hz', '60', '--particles', '3000',
      '--width', '160', '--height', '120', '--out', out, '--quiet'], { env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const exited = new Promise((done) => child.on('exit', (code) => done(code)));
    const kills = [];
    for (let k = 0; k < 2; ++k) {
      await sleep(600);
      // Start-up may be slow on a loaded machine: wait (bounded) for the render process.
      let pids = [];
      for (let waited = 0; waited < 5000 && pids.length === 0; waited += 50) {
        pids = renderChildren(child.pid, true).filter((p) => !kills.includes(p));
        if (pids.length === 0) await sleep(50);
      }
      assert.equal(pids.length, 1, `one render process serves the run (kill ${k}): ${pids}`);
      process.kill(pids[0], 'SIGKILL');
      kills.push(pids[0]);
    }
    const started = Date.now();
    const code = await exited;
    assert.ok(Date.now() - started < 10000, 'the run ends well inside the test timeout');
    assert.equal(code, 0, stderr);
    assert.match(stdout, /render process/);
    assert.match(stdout, /isolation: 2 render process crashes \(2 by SIGKILL, 0 hangs killed\), 2 respawns \(2 warm, 0 cold with no standby ready\)/);
    const frames = stdout.match(/frames: issued (\d+), presented (\d+), late \d+, dropped (\d+), failed (\d+), lost to a render crash (\d+), in flight (\d+)/);
    assert.ok(frames, stdout);
    const [issued, presented, dropped, failed, lost, inFlight] = frames.slice(1).map(Number);
    assert.equal(inFlight, 0);
    assert.equal(failed, 0);
    assert.ok(lost <= 2, `a kill costs at most the frame it held: ${lost}`);
    assert.equal(issued, presented + dropped + failed + lost);
    const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
    assert.equal(JSON.stringify(stats).includes(`"frames lost to a render crash":"${lost}"`), true);
    assert.deepEqual(renderChildren(process.pid), [], 'no render process outlives its host');
  });
}

test('--isolate is a switch, off by default, in the options table', { skip }, () => {
  const r = spawnSync(process.execPath, [cli, 'run', '--help'], { encoding: 'utf8', env });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /--isolate\s+render in a supervised render process/);
  const bad = spawnSync(process.execPath, [cli, 'run', '--isolate=maybe'], { encoding: 'utf8', env });
  assert.equal(bad.status, 2, bad.stderr);
});
