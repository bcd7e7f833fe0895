// SPDX-License-Identifier: Apache-2.0
// The Electron example's pages in Debian Chromium (playwright-core), no
// Electron binary:
// - variant A's UI renders the stats and thumbnail a fake pipeline posts on
//   the port its preload would forward, and its stop button posts a stop;
// - variant B's page, served by the example's own triptych:// handler
//   (isolatedFileHandler, behind a local HTTP server), is cross-origin
//   isolated (and is not without those headers: the control), and its
//   canvas shows the newest result zone of a shared memory;
// - node/lib/compute-worker.mjs runs as a Web Worker (portable-worker.mjs)
//   on a shared WebAssembly.Memory the page reads: it runs the particles
//   kernel for a chunk the page posts, and the page finds the same bytes its
//   own instance computes. A stub (electron/addon-stub.mjs) stands in for
//   the addon's take/complete: it is the only difference from variant B's
//   renderer, where the worker loads triptych.node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

import { isolatedFileHandler, ISOLATION_HEADERS } from '../../examples/electron/wiring.mjs';

const require = createRequire(import.meta.url);
const root = resolve('.');
const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const kernelPath = join(buildDir, 'kernels/particles.wasm');
const skipChromium = !existsSync(chromiumPath) && `no Chromium at ${chromiumPath}`;
const skipKernel = skipChromium || (!existsSync(kernelPath) && `build ${kernelPath} first (make build)`);
const WAIT_MS = 20_000;

// Serves the repository through the example's triptych:// handler (and the
// build folder under /build/); `isolate: false` strips the isolation headers.
async function serve({ isolate = true } = {}) {
  const repository = isolatedFileHandler(root);
  const build = isolatedFileHandler(buildDir);
  const server = createServer(async (req, res) => {
    const url = new URL(req.url, 'triptych://app');
    const onBuild = url.pathname.startsWith('/build/');
    const handler = onBuild ? build : repository;
    const response = await handler(new Request(onBuild ? new URL(url.pathname.slice('/build'.length), url) : url));
    const headers = Object.fromEntries(response.headers);
    if (!isolate) for (const name of Object.keys(ISOLATION_HEADERS)) delete headers[name.toLowerCase()];
    res.writeHead(response.status, headers);
    res.end(Buffer.from(await response.arrayBuffer()));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { origin: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => server.close(r)) };
}

async function withBrowser(fn) {
  const { chromium } = require('playwright-core');
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--headless', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await fn(page, errors);
  } finally {
    await browser.close();
  }
}

// Runs `fn` and asserts it returned well inside `limitMs`.
async function timed(what, limitMs, fn) {
  const began = Date.now();
  const value = await fn();
  const took = Date.now() - began;
  assert.ok(took < limitMs / 2, `${what} took ${took} ms of its ${limitMs} ms limit`);
  return value;
}

test('the isolation handler serves the repository with COOP/COEP and nothing outside it', async () => {
  const handler = isolatedFileHandler(root);
  const page = await handler(new Request('triptych://app/examples/electron/page-b.html'));
  assert.equal(page.status, 200);
  assert.equal(page.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(page.headers.get('cross-origin-embedder-policy'), 'require-corp');
  assert.match(page.headers.get('content-type'), /^text\/html/);
  for (const outside of ['triptych://app/../../etc/passwd', 'triptych://app/%2e%2e/%2e%2e/etc/passwd',
    'triptych://app/examples/electron/no-such-file.html', 'triptych://app/package-lock.json.bak']) {
    assert.equal((await handler(new Request(outside))).status, 404, outside);
  }
});

test('variant A UI: stats and thumbnail from a fake pipeline port; stop is posted back', { skip: skipChromium, timeout: 120_000 }, async () => {
  await withBrowser(async (page, errors) => {
    await page.goto(pathToFileURL(join(root, 'examples/electron/ui-a.html')).href);
    // What preload-a.cjs does with the port the main process sends.
    await page.evaluate(() => {
      const channel = new MessageChannel();
      window.fakePipeline = { port: channel.port1, heard: [] };
      channel.port1.onmessage = (e) => window.fakePipeline.heard.push(e.data);
      window.postMessage({ type: 'triptych-port' }, '*', [channel.port2]);
      const pixels = new Uint8ClampedArray(4 * 3 * 2).fill(255);
      pixels.set([255, 0, 0, 255], 0);
      channel.port1.postMessage({ type: 'started', renderer: 'CPU reference rasteriser' });
      channel.port1.postMessage({ type: 'stats', fps: 59, p50Ms: 1.25, p99Ms: 3.5, presented: 1234, dropped: 2, failed: 0, renderer: 'CPU reference rasteriser', error: '' });
      channel.port1.postMessage({ type: 'thumbnail', frame: 9, width: 3, height: 2, pixels });
    });
    await timed('the stats', WAIT_MS, () => page.waitForFunction(() => document.getElementById('presented').textContent === '1234', null, { timeout: WAIT_MS }));
    const shown = await page.evaluate(() => Object.fromEntries(['fps', 'p50', 'p99', 'dropped', 'failed', 'renderer', 'state']
      .map((id) => [id, document.getElementById(id).textContent])));
    assert.deepEqual(shown, { fps: '59', p50: '1.25 ms', p99: '3.50 ms', dropped: '2', failed: '0', renderer: 'CPU reference rasteriser', state: 'running (CPU reference rasteriser)' });
    await timed('the thumbnail', WAIT_MS, () => page.waitForFunction(() => document.getElementById('thumbnail').width === 3, null, { timeout: WAIT_MS }));
    const corner = await page.evaluate(() => [...document.getElementById('thumbnail').getContext('2d').getImageData(0, 0, 2, 1).data]);
    assert.deepEqual(corner, [255, 0, 0, 255, 255, 255, 255, 255]);
    await page.click('#stop');
    await timed('the stop', WAIT_MS, () => page.waitForFunction(() => window.fakePipeline.heard.some((m) => m.type === 'stop'), null, { timeout: WAIT_MS }));
    assert.deepEqual(errors, []);
  });
});

// Writes a result zone (scene.hpp's ResultZoneHeader, then RGBA8 rows) whose
// pixel (x, y) is [x * 40 + tint, y * 60, 200, 255]. Runs in the page.
function fakeEngineInPage() {
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  const zones = { 'result A': { offset: 4096, size: 8192 }, 'result B': { offset: 12288, size: 8192 }, 'result C': { offset: 20480, size: 8192 } };
  const write = (zone, frame, tint, width = 5, height = 3) => {
    const dv = new DataView(memory.buffer, zone.offset, zone.size);
    [0x53455254, 1, width, height, 64, 1, 4096, 0].forEach((v, i) => dv.setUint32(i * 4, v, true));
    dv.setBigUint64(32, BigInt(frame), true);
    for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) {
      new Uint8Array(memory.buffer, zone.offset + 4096 + y * 64 + x * 4, 4).set([x * 40 + tint, y * 60, 200, 255]);
    }
  };
  write(zones['result A'], 6, 7);
  write(zones['result B'], 7, 0);   // the newest: the one the canvas must show
  write(zones['result C'], 0, 50);  // never published
  const status = { fps: 60, p50Ms: 1, p99Ms: 2, presented: 7, dropped: 0, failed: 0, finished: true };
  return { engineMemory: memory, zoneMap: { zones }, status: () => status };
}

test('variant B page: cross-origin isolated through the handler, and the canvas shows the newest result zone', { skip: skipChromium, timeout: 120_000 }, async () => {
  const server = await serve();
  const plain = await serve({ isolate: false });
  try {
    await withBrowser(async (page, errors) => {
      await page.goto(`${plain.origin}/examples/electron/page-b.html`);
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), false, 'the control: no COOP/COEP, no isolation');
      await page.goto(`${server.origin}/examples/electron/page-b.html`);
      assert.equal(await page.evaluate(() => globalThis.crossOriginIsolated), true);
      const drawn = await timed('the first draw', WAIT_MS, () => page.evaluate(`(async () => {
        const { showEngine } = await import('/examples/electron/page-b.mjs');
        const engine = (${fakeEngineInPage})();
        const canvas = document.getElementById('view');
        const drawer = await showEngine(engine, canvas, document.getElementById('status'));
        const copy = document.createElement('canvas');
        copy.width = canvas.width; copy.height = canvas.height;
        const g = copy.getContext('2d');
        g.drawImage(canvas, 0, 0);
        return { path: drawer.path, width: canvas.width, height: canvas.height,
                 pixels: [...g.getImageData(0, 0, canvas.width, canvas.height).data],
                 status: document.getElementById('status').textContent };
      })()`));
      assert.deepEqual([drawn.width, drawn.height], [5, 3]);
      const want = [];
      for (let y = 0; y < 3; y++) for (let x = 0; x < 5; x++) want.push(x * 40, y * 60, 200, 255);
      assert.deepEqual(drawn.pixels, want, `the canvas (${drawn.path}) shows result B, the newest`);
      assert.equal(drawn.path, 'webgl2', 'drawn from the shared memory with no JS copy');
      assert.match(drawn.status, /presented 7 .* crossOriginIsolated true/);
      assert.deepEqual(errors, []);
    });
  } finally {
    await server.close();
    await plain.close();
  }
});

// Runs in the page: compute-worker.mjs as a Web Worker over a shared kernel
// memory, one chunk through the stub; returns what the page read.
async function workerRunInPage(kernelUrl) {
  const { spawnWorker, createChannel, workerKind } = await import('/node/lib/portable-worker.mjs');
  const { POSTED, COMPLETED, FINISHED } = await import('/tests/node/electron/addon-stub.mjs');
  const module = await WebAssembly.compileStreaming(fetch(kernelUrl));
  const PAGE = 65536, n = 256, ctx = 16 * PAGE, out = ctx + 64, input = out + 32 * n;
  const memory = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  const probe = new WebAssembly.Instance(module, { env: { memory } }).exports;
  const context = (mem) => {
    const dv = new DataView(mem.buffer, ctx, 64);
    dv.setUint32(0, 2, true); dv.setUint32(4, n, true); dv.setBigUint64(8, 1n, true);
    dv.setBigUint64(24, BigInt(input), true); dv.setBigUint64(32, BigInt(out), true);
    dv.setUint32(40, 32, true); dv.setFloat32(44, 1 / 60, true); dv.setUint32(52, 5, true); dv.setUint32(56, 1, true);
  };
  context(memory);
  const stub = new Int32Array(new SharedArrayBuffer(4 * 8));
  const swapIndex = { OFFERED: 0, ARMED: 1, CLAIM: 2, INSTALLED: 3, SWAP_US: 4, PREPARED: 5 };
  const { port2: offers } = createChannel();
  const stackLow = 32 * PAGE;
  const worker = spawnWorker(new URL('/node/lib/compute-worker.mjs', location.href), {
    workerData: {
      addonPath: '/tests/node/electron/addon-stub.mjs', stub: stub.buffer, memory, engineId: 1, slot: 0,
      stackLow, stackHigh: stackLow + 4 * PAGE, busy: new SharedArrayBuffer(8 * 3), busyWords: 3,
      kernel: { generation: 0, module, name: 'particles', tlsSize: probe.__tls_size.value, tlsAlign: probe.__tls_align.value },
      swap: new SharedArrayBuffer(4 * 6), swapFrom: new SharedArrayBuffer(8), swapIndex, offers, preparedGeneration: 0,
    },
    transferList: [offers],
  });
  const messages = [];
  worker.on('message', (m) => messages.push(m));
  const exited = new Promise((r) => worker.once('exit', r));
  const until = async (what, done) => {
    const began = performance.now();
    while (!done()) {
      if (performance.now() - began > 10_000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  await until('ready', () => messages.some((m) => m.type === 'ready'));
  stub.set([0, 0, n, 1, ctx], 0);
  Atomics.store(stub, 0, POSTED);
  Atomics.notify(stub, 0);
  await until('the chunk', () => Atomics.load(stub, 0) === COMPLETED);
  // The same kernel, same context, in the page on a memory of its own.
  const own = new WebAssembly.Memory({ initial: 64, maximum: 64, shared: true });
  const mine = new WebAssembly.Instance(module, { env: { memory: own } }).exports;
  context(own);
  mine.__stack_pointer.value = stackLow + 4 * PAGE;
  const rcMine = mine.tp_kernel_step(ctx, 0, n);
  const theirs = new Uint8Array(memory.buffer, out, 32 * n);
  const ours = new Uint8Array(own.buffer, out, 32 * n);
  Atomics.store(stub, 0, FINISHED);
  Atomics.notify(stub, 0);
  const code = await exited;
  return { kind: workerKind(), rc: Atomics.load(stub, 5), rcMine, leaves: Atomics.load(stub, 6), code,
           same: theirs.every((b, i) => b === ours[i]), nonZero: theirs.some((b) => b !== 0), messages };
}

test('compute-worker.mjs runs a kernel as a Web Worker on a shared memory the page reads (addon stubbed)', { skip: skipKernel, timeout: 120_000 }, async () => {
  const server = await serve();
  try {
    await withBrowser(async (page, errors) => {
      await page.goto(`${server.origin}/examples/electron/page-b.html`);
      const r = await timed('the Web Worker run', WAIT_MS, () => page.evaluate(`(${workerRunInPage})('/build/kernels/particles.wasm')`));
      assert.equal(r.kind, 'web', 'a page has no worker_threads: the abstraction chose Web Workers');
      assert.equal(r.messages[0].type, 'ready');
      assert.equal(r.rc, 0, 'the kernel step returned 0');
      assert.equal(r.rcMine, 0);
      assert.ok(r.nonZero, 'the worker wrote particles into the shared memory');
      assert.ok(r.same, 'the page reads, in place, the bytes its own instance computes');
      assert.equal(r.leaves, 1, 'the worker left the pool once the engine finished');
      assert.equal(r.code, 0, 'and ended on its own (exit 0)');
      assert.ok(r.messages.some((m) => m.type === 'done'));
      assert.deepEqual(errors, []);
    });
  } finally {
    await server.close();
  }
});
