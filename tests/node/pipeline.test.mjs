// SPDX-License-Identifier: Apache-2.0
// The whole pipeline as `triptych run` drives it, headless on lavapipe: every
// frame's six stamps in order and accounted for, compute overlapping render,
// backpressure with a stalled render stage, the copy baseline, SIGINT, a
// missing Vulkan driver, the report in headless Chromium and the snapshot
// against a golden image.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, copyFileSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
process.env.TRIPTYCH_BUILD_DIR = buildDir;
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');
const require = createRequire(import.meta.url);

function triptych(args, env = {}) {
  const r = spawnSync(process.execPath, [cli, ...args], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 180000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function frames(dir) {
  const [head, ...rows] = readFileSync(join(dir, 'frames.csv'), 'utf8').trim().split('\n');
  const keys = head.split(',');
  return rows.map((r) => Object.fromEntries(r.split(',').map((v, i) => [keys[i], v])));
}

const STAGES = ['queued_ns', 'compute_start_ns', 'compute_end_ns', 'render_start_ns', 'render_end_ns', 'presented_ns'];

test('end to end: six ordered stamps per frame, every frame accounted for', { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-e2e-'));
  const r = triptych(['run', '--frames', '60', '--hz', '120', '--particles', '4000', '--width', '160', '--height', '120', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.err);
  const rows = frames(out);
  const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
  assert.equal(rows.length, 60);
  const m = /frames: issued (\d+), presented (\d+), late (\d+), dropped (\d+), failed (\d+)/.exec(r.out);
  const [issued, presented, late, dropped, failed] = m.slice(1).map(Number);
  assert.equal(issued, 60);
  assert.equal(presented + dropped + failed, issued, 'on time + late + dropped + failed = issued');
  assert.ok(late <= presented);
  for (const row of rows.filter((x) => x.status === 'complete')) {
    const t = STAGES.map((k) => BigInt(row[k]));
    for (let i = 1; i < t.length; i++) assert.ok(t[i] >= t[i - 1], `frame ${row.frame}: ${STAGES[i]} before ${STAGES[i - 1]}`);
  }
  assert.equal(stats.frames.complete, presented);
  assert.equal(stats.frames.invalid, 0);
  const trace = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8'));
  assert.ok(trace.traceEvents.length > 6 * presented);
});

test('compute of frame N+1 overlaps render of frame N', { skip }, () => {
  // A slow CPU render stage (large target) and --lag drop, so compute runs
  // freely: the frame after each rendered one is computed while it renders.
  // The governor stays off: it would shed the very render cost this needs.
  const out = mkdtempSync(join(tmpdir(), 'tp-overlap-'));
  const r = triptych(['run', '--frames', '60', '--hz', '60', '--particles', '20000', '--renderer', 'cpu',
    '--width', '1280', '--height', '960', '--lag', 'drop', '--governor', 'off', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.err);
  const rows = frames(out);
  let pairs = 0;
  let overlapped = 0;
  for (let i = 0; i + 1 < rows.length; i++) {
    if (rows[i].status !== 'complete' || rows[i + 1].compute_start_ns === '0') continue;
    pairs++;
    if (BigInt(rows[i + 1].compute_start_ns) < BigInt(rows[i].render_end_ns)) overlapped++;
  }
  assert.ok(pairs >= 5, `${pairs} rendered frames with a successor`);
  assert.ok(overlapped >= pairs * 0.8, `only ${overlapped} of ${pairs} frames overlapped`);
});

test('backpressure: a stalled render stage keeps memory flat and the policy exact', { skip }, async () => {
  const lib = await import('../../node/lib/index.mjs');
  for (const lag of ['wait', 'drop']) {
    const engine = await lib.createEngine({ particles: 20000, grain: 5000, hz: 0, seconds: 0, renderer: 'cpu', width: 1600, height: 1200, lag });
    engine.start();
    await new Promise((r) => setTimeout(r, 500));
    const rss0 = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, 2000));
    const rss1 = process.memoryUsage().rss;
    engine.requestStop();
    const s = await engine.wait();
    await engine.close();
    assert.equal(s.error, '');
    assert.equal(s.issued, s.computed + s.failed, lag);
    assert.equal(s.computed, s.presented + s.dropped, lag);
    if (lag === 'wait') assert.equal(s.dropped, 0, 'wait never drops');
    else assert.ok(s.dropped > 0, 'with render stalled, drop must drop');
    assert.ok((rss1 - rss0) / 2 ** 20 < 16, `${lag}: RSS grew ${((rss1 - rss0) / 2 ** 20).toFixed(1)} MiB in 2 s`);
  }
});

test('the copy-based baseline runs the same scene and accounts for every frame', { skip }, () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-copy-'));
  const r = triptych(['run', '--baseline', 'copy', '--frames', '20', '--hz', '0', '--particles', '3000', '--renderer', 'cpu',
    '--width', '160', '--height', '120', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /COPY BASELINE/);
  assert.match(r.out, /frames: issued 20, presented 20, late 0, dropped 0, failed 0/);
  assert.ok(statSync(join(out, 'report.html')).size > 0);
});

test('SIGINT stops cleanly and still writes the report', { skip }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-int-'));
  const child = spawn(process.execPath, [cli, 'run', '--seconds', '60', '--particles', '2000', '--renderer', 'cpu',
    '--width', '160', '--height', '120', '--out', out], { env: process.env });
  let stdout = '';
  child.stdout.on('data', (d) => { stdout += d; });
  await new Promise((r) => setTimeout(r, 2500));
  child.kill('SIGINT');
  const code = await new Promise((r) => child.on('exit', r));
  assert.equal(code, 0, stdout);
  assert.match(stdout, /interrupted; writing the report/);
  assert.ok(statSync(join(out, 'report.html')).size > 0);
  const rows = frames(out);
  assert.ok(rows.length > 10 && rows.length < 3600, `${rows.length} frames`);
});

test('a missing Vulkan driver: --renderer vulkan is a clear error, auto falls back and says so', { skip }, () => {
  const noDriver = { VK_ICD_FILENAMES: '/nonexistent/icd.json', VK_DRIVER_FILES: '/nonexistent/icd.json' };
  const r = triptych(['run', '--frames', '2', '--renderer', 'vulkan', '--quiet'], noDriver);
  assert.equal(r.code, 1, r.out + r.err);
  assert.match(r.err, /vulkan|Vulkan/);
  assert.match(r.err, /mesa-vulkan-drivers|driver|ICD|device/i);
  const auto = triptych(['run', '--frames', '2', '--quiet'], noDriver);
  assert.equal(auto.code, 0, auto.out + auto.err);
  assert.match(auto.out, /auto picked the CPU reference: no usable Vulkan device .*mesa-vulkan-drivers/);
  assert.match(auto.out, /frames: issued 2, presented 2/);
});

async function withChromium(fn) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try { return await fn(browser); } finally { await browser.close(); }
}

test('a real run: its report renders with data and its snapshot matches the golden image', { skip, timeout: 240000 }, async () => {
  const out = mkdtempSync(join(tmpdir(), 'tp-golden-'));
  const r = triptych(['run', '--frames', '40', '--hz', '0', '--particles', '6000', '--seed', '7',
    '--width', '192', '--height', '128', '--out', out, '--quiet']);
  assert.equal(r.code, 0, r.err);
  const golden = resolve('tests/node/golden/particles-192x128-f40.png');
  if (process.env.TRIPTYCH_UPDATE_GOLDEN === '1') {
    mkdirSync(resolve('tests/node/golden'), { recursive: true });
    copyFileSync(join(out, 'snapshot.png'), golden);
  }
  const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
  await withChromium(async (browser) => {
    const page = await browser.newPage();
    await page.goto(pathToFileURL(join(out, 'report.html')).href);
    await page.waitForFunction(() => document.body.dataset.ready === '1', null, { timeout: 30000 });
    const lengths = await page.evaluate(() => window.__triptych.plots.frameTime.data.map((s) => s.length));
    assert.ok(lengths.every((n) => n === stats.frames.complete) && stats.frames.complete === 40, JSON.stringify(lengths));
    // Pixel comparison in the browser: both PNGs as data URLs, so the canvas is not tainted.
    const url = (f) => `data:image/png;base64,${readFileSync(f).toString('base64')}`;
    const diff = await page.evaluate(async ([a, b]) => {
      const load = (src) => new Promise((res, rej) => { const i = new Image(); i.onload = () => res(i); i.onerror = rej; i.src = src; });
      const [ia, ib] = await Promise.all([load(a), load(b)]);
      if (ia.width !== ib.width || ia.height !== ib.height) return { size: [ia.width, ia.height, ib.width, ib.height] };
      const px = (img) => { const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
        const g = c.getContext('2d'); g.drawImage(img, 0, 0); return g.getImageData(0, 0, img.width, img.height).data; };
      const pa = px(ia); const pb = px(ib);
      let off = 0; let max = 0; let lit = 0;
      for (let i = 0; i < pa.length; i += 4) {
        let d = 0;
        for (let k = 0; k < 3; k++) d = Math.max(d, Math.abs(pa[i + k] - pb[i + k]));
        if (d > 2) off++;
        max = Math.max(max, d);
        if (pb[i] + pb[i + 1] + pb[i + 2] > 60) lit++;
      }
      return { off, max, lit, total: pa.length / 4 };
    }, [url(join(out, 'snapshot.png')), url(golden)]);
    assert.equal(diff.size, undefined, `size differs: ${diff.size}`);
    assert.ok(diff.lit > 100, 'the golden image shows particles');
    assert.ok(diff.off <= diff.total * 0.005, `${diff.off} of ${diff.total} pixels differ by more than 2 (max ${diff.max})`);
  });
});
