// SPDX-License-Identifier: Apache-2.0
// End-to-end check of the trace exporters: runs the native triptych-trace-demo
// (from $TRIPTYCH_BUILD_DIR, default build/dev), opens its report.html in
// headless Debian Chromium through playwright-core (no browser download),
// checks that every uPlot plot has data points and that the numbers in the
// tables match stats.json, and saves build/test-output/report.png. Also parses
// trace.json / frames.csv and runs triptych-report on the saved table and on
// corrupt bytes. Skips, saying why, only when the binaries are not built.
// Run: node --test tests/report/   (docs/tracing.md, "Tests").
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const require = createRequire(import.meta.url);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = path.resolve(root, process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const demo = path.join(buildDir, 'tools/triptych-trace-demo/triptych-trace-demo');
const reporter = path.join(buildDir, 'tools/triptych-report/triptych-report');
const outRoot = path.join(root, 'build/test-output');
const outDir = path.join(outRoot, 'report-demo');
const missing = !fs.existsSync(demo) &&
  `triptych-trace-demo is not built at ${demo}: build it (cmake --build ${path.relative(root, buildDir)} ` +
  '--target triptych-trace-demo) or set TRIPTYCH_BUILD_DIR';
const FRAMES = 240;

let ran = false;
function runDemo() {
  if (ran) return;
  fs.rmSync(outDir, { recursive: true, force: true });
  execFileSync(demo, ['--frames', String(FRAMES), '--rate', '120', '--compute-ms', '1', '--render-ms', '1.5',
    '--present-ms', '0.2', '--jitter-ms', '0.3', '--spike-every', '37', '--out', outDir], { stdio: 'pipe' });
  ran = true;
}
const readJson = (f) => JSON.parse(fs.readFileSync(path.join(outDir, f), 'utf8'));

test('demo writes trace.json that parses back and matches frames.csv', { skip: missing }, () => {
  runDemo();
  const stats = readJson('stats.json');
  const trace = readJson('trace.json');
  const rows = fs.readFileSync(path.join(outDir, 'frames.csv'), 'utf8').trim().split('\n');
  assert.equal(rows.length, 1 + FRAMES, 'one CSV row per issued frame');
  const complete = rows.slice(1).filter((r) => r.split(',')[1] === 'complete').length;
  assert.equal(complete, stats.frames.complete);
  assert.equal(stats.frames.complete + stats.frames.dropped + stats.frames.failed + stats.frames.in_flight + stats.frames.invalid, FRAMES);
  assert.equal(stats.frames.invalid, 0);
  const computeSlices = trace.traceEvents.filter((e) => e.ph === 'X' && e.cat === 'frame' && e.tid === 2);
  assert.equal(computeSlices.length, stats.frames.complete);
  const flows = trace.traceEvents.filter((e) => e.ph === 'f');
  assert.equal(flows.length, stats.frames.complete, 'one finished flow arrow per complete frame');
  const names = trace.traceEvents.filter((e) => e.ph === 'M' && e.name === 'thread_name').map((e) => e.args.name);
  for (const n of ['2 compute', '4 render', 'compute', 'render + present', 'frame loop']) assert.ok(names.includes(n), n);
  assert.ok(trace.traceEvents.some((e) => e.ph === 'X' && e.name === 'GPU submit'), 'spans are exported');
});

test('report.html renders in headless Chromium with data that matches stats.json', { skip: missing, timeout: 180_000 },
  async () => {
    runDemo();
    const stats = readJson('stats.json');
    const { chromium } = require('playwright-core');
    const browser = await chromium.launch({
      executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
        '--disable-component-update', '--disable-sync', '--no-first-run'],
    });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors = [];
      const remote = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
      page.on('request', (r) => { if (!r.url().startsWith('file:') && !r.url().startsWith('data:')) remote.push(r.url()); });
      await page.goto(pathToFileURL(path.join(outDir, 'report.html')).href);
      await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30_000 });

      const plots = await page.evaluate(() => Object.fromEntries(Object.entries(window.__triptych.plots)
        .map(([k, u]) => [k, { lengths: u.data.map((s) => s.length), series: u.series.length,
          ys: u.data.slice(1).map((s) => s.filter((v) => v != null).length),
          total: u.data[1].reduce((a, b) => a + (b ?? 0), 0) }])));
      const n = stats.frames.complete;
      // How many frames a loaded machine drops varies; the checks below only
      // need some complete frames and compare everything against stats.json.
      assert.ok(n >= 2, `complete frames: ${n}`);
      assert.deepEqual(plots.frameTime.lengths, [n, n, n, n, n]);
      assert.equal(plots.frameTime.ys[0], n - 1, 'interval: every frame but the first');
      assert.equal(plots.frameTime.ys[1], n, 'latency: every frame');
      assert.deepEqual(plots.breakdown.lengths, [n, n, n, n, n, n]);
      assert.ok(plots.breakdown.ys.every((c) => c === n));
      assert.ok(plots.histogram.lengths[0] > 1);
      assert.equal(plots.histogram.total, n, 'the histogram bins every complete frame');

      const cells = await page.evaluate(() => Object.fromEntries(
        [...document.querySelectorAll('[data-key]')].map((e) => [e.dataset.key, e.textContent])));
      let checked = 0;
      for (const [seg, d] of Object.entries(stats.segments)) {
        for (const [k, v] of Object.entries(d)) {
          const want = k === 'count' ? String(v) : (v / 1e6).toFixed(3);
          assert.equal(cells[`${seg}.${k}`], want, `${seg}.${k}`);
          checked += 1;
        }
      }
      for (const [k, v] of Object.entries(stats.frames)) {
        if (`frames.${k}` in cells) { assert.equal(cells[`frames.${k}`], String(v), k); checked += 1; }
      }
      for (const d of stats.deadline_misses) { assert.equal(cells[`deadline.${d.hz}`], String(d.missed)); checked += 1; }
      assert.ok(checked >= 7 * 9 + 3, `checked ${checked} cells`);
      const threadRows = await page.locator('#threads tr').count();
      assert.equal(threadRows, 1 + stats.threads.length);

      assert.deepEqual(errors, [], 'no page errors');
      assert.deepEqual(remote, [], 'no network requests');
      fs.mkdirSync(outRoot, { recursive: true });
      await page.screenshot({ path: path.join(outRoot, 'report.png'), fullPage: true });
      assert.ok(fs.statSync(path.join(outRoot, 'report.png')).size > 10_000);
    } finally {
      await browser.close();
    }
  });

test('triptych-report re-reads the saved table; corrupt bytes give an error, not a crash',
  { skip: missing || (!fs.existsSync(reporter) && `triptych-report is not built at ${reporter}`) }, () => {
    runDemo();
    const stats = readJson('stats.json');
    const again = path.join(outRoot, 'report-again');
    execFileSync(reporter, [path.join(outDir, 'trace-table.bin'), '--out', again], { stdio: 'pipe' });
    const restats = JSON.parse(fs.readFileSync(path.join(again, 'stats.json'), 'utf8'));
    assert.equal(restats.frames.complete, stats.frames.complete);
    assert.equal(restats.segments.latency.p99_ns, stats.segments.latency.p99_ns);

    const bytes = fs.readFileSync(path.join(outDir, 'trace-table.bin'));
    const corrupt = Buffer.from(bytes);
    corrupt.writeUInt32LE(7, 8);  // capacity 7: not a power of two
    const bad = path.join(outRoot, 'corrupt-table.bin');
    fs.writeFileSync(bad, corrupt);
    const r = spawnSync(reporter, [bad, '--out', path.join(outRoot, 'corrupt')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /corrupt header/);

    // Impossible stamps in an otherwise valid table: counted invalid, still reported.
    const tampered = Buffer.from(bytes);
    const rec = 128 + 64 * 3;                         // frame 3's record
    tampered.writeBigUInt64LE(1n, rec + 8 + 8 * 5);   // presented before queued
    const tamperedFile = path.join(outRoot, 'tampered-table.bin');
    fs.writeFileSync(tamperedFile, tampered);
    const t = path.join(outRoot, 'tampered');
    execFileSync(reporter, [tamperedFile, '--out', t], { stdio: 'pipe' });
    const tstats = JSON.parse(fs.readFileSync(path.join(t, 'stats.json'), 'utf8'));
    assert.equal(tstats.frames.invalid, 1);
    assert.equal(tstats.frames.invalid_out_of_order, 1);
    assert.equal(spawnSync(reporter, ['--bogus']).status, 2);
  });
