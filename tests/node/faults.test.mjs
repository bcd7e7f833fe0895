// SPDX-License-Identifier: Apache-2.0
// The Node host under faults: Ctrl-C while the only worker hangs, a worker
// killed from outside the watchdog, a worker whose JS heap runs out, a worker
// that cannot be replaced, close() of an engine that never ran, a UI that
// never takes a frame. Each checks the one accounting (issued = presented +
// dropped + failed + in flight) and that the console, stats.json, frames.csv
// and report.html give the same counts. Every blocking wait asserts it
// returned well inside its bound. Design: docs/node.md ("Failure handling").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

process.env.TRIPTYCH_BUILD_DIR = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const buildDir = process.env.TRIPTYCH_BUILD_DIR;
const lib = await import('../../node/lib/index.mjs');
const kernel = (name) => join(buildDir, 'kernels', `${name}.wasm`);
const cli = resolve('node/bin/triptych.mjs');
const built = existsSync(join(buildDir, 'node/triptych.node')) && existsSync(kernel('faulty_hang'));
const skip = !built && `build ${buildDir} first (make build)`;

const small = { particles: 2000, grain: 1000, width: 32, height: 32, renderer: 'cpu' };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// The four outputs' counts. Console: the summary line; the files: what they hold.
function consoleCounts(text) {
  // In process, no frame can be lost to a render crash (that is --isolate's).
  const m = /frames: issued (\d+), presented (\d+), late \d+, dropped (\d+), failed (\d+), lost to a render crash 0, in flight (\d+)/.exec(text);
  assert.ok(m, `no summary line in:\n${text}`);
  const [issued, presented, dropped, failed, inFlight] = m.slice(1).map(Number);
  return { issued, presented, dropped, failed, inFlight };
}
function fileCounts(dir) {
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  const f = stats.frames;
  const fromStats = { issued: f.issued, presented: f.complete, dropped: f.dropped, failed: f.failed, inFlight: f.in_flight };
  assert.equal(f.invalid, 0, 'no invalid records');
  assert.equal(f.lost, 0, 'no lost records');
  const rows = readFileSync(join(dir, 'frames.csv'), 'utf8').trim().split('\n').slice(1).map((r) => r.split(','));
  const count = (status) => rows.filter((r) => r[1] === status).length;
  const fromCsv = { issued: rows.length, presented: count('complete'), dropped: count('dropped'), failed: count('failed'), inFlight: count('in_flight') };
  const html = readFileSync(join(dir, 'report.html'), 'utf8');
  const data = JSON.parse(/<script id="triptych-data" type="application\/json">(.*?)<\/script>/s.exec(html)[1]);
  const r = data.stats.frames;
  const fromReport = { issued: r.issued, presented: r.complete, dropped: r.dropped, failed: r.failed, inFlight: r.in_flight };
  return { fromStats, fromCsv, fromReport, stats };
}
function assertIdentity(c, what) {
  assert.equal(c.issued, c.presented + c.dropped + c.failed + c.inFlight,
    `${what}: issued = presented + dropped + failed + in flight (${JSON.stringify(c)})`);
}
// The engine's status against the files (and the console line, when given).
function assertAgree(status, dir, consoleText) {
  const fromStatus = { issued: status.issued, presented: status.presented, dropped: status.dropped, failed: status.failed, inFlight: status.inFlight };
  assertIdentity(fromStatus, 'status');
  const { fromStats, fromCsv, fromReport, stats } = fileCounts(dir);
  for (const [name, c] of [['stats.json', fromStats], ['frames.csv', fromCsv], ['report.html', fromReport]]) {
    assertIdentity(c, name);
    assert.deepEqual(c, fromStatus, `${name} agrees with the engine`);
  }
  if (consoleText !== undefined) assert.deepEqual(consoleCounts(consoleText), fromStatus, 'the console agrees');
  assert.equal(stats.failures.kept.length + stats.failures.not_kept, status.failed, 'a cause for every failed frame');
  return stats;
}

function outputs(dir) {
  return { stats: join(dir, 'stats.json'), csv: join(dir, 'frames.csv'), report: join(dir, 'report.html'), trace: join(dir, 'trace.json') };
}

test('SIGINT while the only worker hangs: the run ends within deadline + 2 s, writes the report, counts the frame failed', { skip, timeout: 60000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-sigint-'));
  const deadlineMs = 2000;
  const child = spawn(process.execPath, [cli, 'run', '--kernel', kernel('faulty_hang'), '--workers', '1',
    '--particles', '2000', '--grain', '1000', '--renderer', 'cpu', '--width', '32', '--height', '32',
    '--hz', '60', '--seconds', '30', '--deadline-ms', String(deadlineMs), '-q', '--out', out],
  { env: { ...process.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((res) => child.once('exit', (code, signal) => res({ code, signal, at: performance.now() })));
  const started = performance.now();
  while (!stdout.includes('triptych run:')) {
    assert.ok(performance.now() - started < 20000, `the run did not start:\n${stdout}\n${stderr}`);
    await sleep(10);
  }
  await sleep(600);  // frame 5 (0.08 s in at 60 Hz) hangs; the deadline is 2 s away
  const sigint = performance.now();
  child.kill('SIGINT');
  const { code, signal, at } = await exited;
  const took = at - sigint;
  process.stdout.write(`# SIGINT with a hung kernel: the run ended ${took.toFixed(0)} ms after SIGINT (deadline ${deadlineMs} ms)\n`);
  assert.equal(signal, null, stderr);
  assert.equal(code, 0, `${stdout}\n${stderr}`);
  assert.ok(took < deadlineMs + 2000, `ended ${took.toFixed(0)} ms after SIGINT, bound ${deadlineMs + 2000} ms`);
  assert.match(stdout, /interrupted; writing the report/);
  assert.match(stdout, /wrote report: /);
  const c = consoleCounts(stdout);
  assert.ok(c.failed >= 1, 'the hung frame is counted failed');
  assert.equal(c.inFlight, 0);
  assert.match(stdout, /failed frame 4: kernel faulty_hang passed the 2000 ms deadline at frame 5/);
  const { fromStats, fromCsv, fromReport, stats } = fileCounts(out);
  for (const x of [fromStats, fromCsv, fromReport]) { assertIdentity(x, 'file'); assert.deepEqual(x, c); }
  assert.match(stats.failures.kept[0].cause, /deadline at frame 5/);
});

test('a worker terminated from outside the watchdog is seen, logged with its cause and replaced; the run goes on', { skip, timeout: 60000 }, async () => {
  const lines = [];
  const engine = await lib.createEngine({ ...small, workers: 1, frames: 120, hz: 120, log: (l) => lines.push(l) });
  engine.start();
  await sleep(200);
  await engine._terminateWorkerForTest(0);
  const s = await engine.wait();
  const dir = mkdtempSync(join(tmpdir(), 'tp-kill-'));
  engine.writeOutputs(outputs(dir));
  const events = engine.workerEvents;
  const replacements = engine.replacements;
  assertAgree(s, dir, engine.summaryTable());
  await engine.close();
  assert.equal(s.error, '');
  assert.ok(lines.some((l) => /kernel particles: worker 0 died.*: exited with code 1/.test(l)), lines.join('\n'));
  assert.ok(lines.some((l) => /worker 0 replaced/.test(l)), lines.join('\n'));
  assert.deepEqual(events.map((e) => e.event), ['died', 'replaced']);
  assert.equal(replacements, 1);
  assert.equal(s.issued, 120, 'the run went on to its last frame');
  assert.equal(s.inFlight, 0);
  assert.ok(s.presented >= 110, `presented ${s.presented}`);
});

test('a worker whose JS heap runs out (resourceLimits) dies with ERR_WORKER_OUT_OF_MEMORY, is replaced; the run goes on', { skip, timeout: 60000 }, async () => {
  const lines = [];
  const engine = await lib.createEngine({ ...small, workers: 1, frames: 180, hz: 120, workerHeapMb: 16, log: (l) => lines.push(l) });
  engine.start();
  await sleep(150);
  engine._exhaustWorkerHeapForTest(0);
  const s = await engine.wait();
  const dir = mkdtempSync(join(tmpdir(), 'tp-oom-'));
  engine.writeOutputs(outputs(dir));
  const events = engine.workerEvents;
  assertAgree(s, dir, engine.summaryTable());
  await engine.close();
  assert.equal(s.error, '');
  assert.ok(lines.some((l) => /worker 0 died.*out of memory \(ERR_WORKER_OUT_OF_MEMORY/.test(l)), lines.join('\n'));
  assert.deepEqual(events.map((e) => e.event), ['died', 'replaced']);
  assert.equal(s.issued, 180);
  assert.equal(s.inFlight, 0);
});

test('a worker that dies and cannot be replaced stops the run with an error naming kernel and cause', { skip, timeout: 60000 }, async () => {
  const lines = [];
  const engine = await lib.createEngine({ ...small, workers: 1, seconds: 0, hz: 120, log: (l) => lines.push(l) });
  engine.start();
  await sleep(200);
  const t0 = performance.now();
  await engine._terminateWorkerForTest(0, { failRespawn: true });
  const s = await engine.wait();
  const took = performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'tp-lost-'));
  engine.writeOutputs(outputs(dir));
  assertAgree(s, dir, engine.summaryTable());
  await engine.close();
  assert.ok(took < 2000, `the run stopped ${took.toFixed(0)} ms after the death`);
  assert.match(s.error, /kernel particles: worker 0 \(exited with code 1\) could not be replaced: spawn refused/);
  assert.ok(lines.some((l) => /could not be replaced/.test(l)), lines.join('\n'));
  assert.equal(s.inFlight, 0);
});

test('close() of an engine that never ran returns in < 100 ms, and its workers are gone', { skip, timeout: 30000 }, async () => {
  const engine = await lib.createEngine({ ...small, frames: 10, hz: 60 });
  await sleep(100);  // workers parked in take()
  const t0 = performance.now();
  await engine.close();
  const took = performance.now() - t0;
  process.stdout.write(`# close() of an engine that never ran: ${took.toFixed(1)} ms\n`);
  assert.ok(took < 100, `close() took ${took.toFixed(1)} ms`);
  assert.throws(() => engine.start(), /closed/);
});

test('stop and close while a kernel hangs: bounded, and the event loop is never blocked', { skip, timeout: 60000 }, async () => {
  const deadlineMs = 500;
  const engine = await lib.createEngine({ ...small, workers: 1, seconds: 0, hz: 60, deadlineMs, kernel: kernel('faulty_hang') });
  engine.start();
  await sleep(300);  // frame 5 hangs from about 0.08 s
  let maxGap = 0;
  let last = performance.now();
  const ticker = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; }, 5);
  const t0 = performance.now();
  engine.requestStop();
  const s = await engine.wait();
  const stopped = performance.now() - t0;
  const dir = mkdtempSync(join(tmpdir(), 'tp-hang-'));
  engine.writeOutputs(outputs(dir));
  assertAgree(s, dir, engine.summaryTable());
  const t1 = performance.now();
  await engine.close();
  const closed = performance.now() - t1;
  clearInterval(ticker);
  process.stdout.write(`# hung kernel: stopped ${stopped.toFixed(0)} ms after requestStop (deadline ${deadlineMs}), close() ${closed.toFixed(0)} ms, longest event-loop gap ${maxGap.toFixed(0)} ms\n`);
  assert.ok(stopped < deadlineMs + 2000, `stopped after ${stopped.toFixed(0)} ms`);
  assert.ok(closed < 1000, `close() took ${closed.toFixed(0)} ms`);
  assert.ok(maxGap < 250, `the event loop was blocked for ${maxGap.toFixed(0)} ms`);
  assert.equal(s.failed, 1, 'the hung frame failed');
  assert.equal(s.inFlight, 0);
});

test('a UI that never takes a frame (hostPresents): every frame is counted dropped, none is unaccounted', { skip, timeout: 30000 }, async () => {
  const engine = await lib.createEngine({ ...small, frames: 10, hz: 120, hostPresents: true });
  const s = await engine.run();
  const dir = mkdtempSync(join(tmpdir(), 'tp-ui-'));
  engine.writeOutputs(outputs(dir));
  assertAgree(s, dir, engine.summaryTable());
  await engine.close();
  assert.equal(s.presented, 0);
  assert.equal(s.dropped, 10);
});

test('traps are "failed" in the status, the console line and every file, each with its cause', { skip, timeout: 60000 }, async () => {
  const engine = await lib.createEngine({ ...small, frames: 400, hz: 0, kernel: kernel('faulty_trap') });
  const s = await engine.run();
  const dir = mkdtempSync(join(tmpdir(), 'tp-trap-'));
  engine.writeOutputs(outputs(dir));
  const stats = assertAgree(s, dir, engine.summaryTable());
  await engine.close();
  assert.ok(s.failed > 0);
  assert.equal(s.dropped, 0);
  for (const f of stats.failures.kept) assert.match(f.cause, /kernel faulty_trap trapped at frame \d+, chunk \[0, 1000\): RuntimeError/);
});
