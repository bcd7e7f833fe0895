// SPDX-License-Identifier: Apache-2.0
// The Electron example's main-process wiring (examples/electron/wiring.mjs)
// against a recording fake `electron` module (electron/fake-electron.mjs):
// variant A's window keeps Electron's secure defaults, the pipeline is
// forked as a utility process, and the two ends of one MessageChannelMain go
// one to each; variant B registers its scheme privileged, serves the page
// cross-origin isolated and states its unsandboxed preferences. main.mjs
// itself runs under Node with `electron` resolved to the same fake.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fakeElectron } from './electron/fake-electron.mjs';
import { variantFromArgs, startVariantA, startVariantB, registerVariantBScheme, repositoryRoot, SCHEME }
  from '../../examples/electron/wiring.mjs';

const only = (calls, what) => calls.filter((c) => c[0] === what);

test('--variant picks a or b; a is the default; anything else is refused', () => {
  assert.equal(variantFromArgs(['electron', '.']), 'a');
  assert.equal(variantFromArgs(['electron', '.', '--variant=b']), 'b');
  assert.throws(() => variantFromArgs(['--variant=c']), /--variant must be a or b, got 'c'/);
});

test('variant A: secure window, one utility fork, one port to each side, stop on close', async () => {
  const fake = fakeElectron();
  const started = startVariantA(fake.electron, { engineOptions: { particles: 100 } });
  await Promise.resolve();
  assert.equal(only(fake.calls, 'new BrowserWindow').length, 0, 'nothing is created before the app is ready');
  fake.makeReady();
  const { window, utility } = await started;

  const [[, options]] = only(fake.calls, 'new BrowserWindow');
  const prefs = options.webPreferences;
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegrationInWorker, undefined);
  assert.equal(basename(prefs.preload), 'preload-a.cjs');
  assert.ok(existsSync(prefs.preload));

  const forks = only(fake.calls, 'utilityProcess.fork');
  assert.equal(forks.length, 1, 'one utility process runs the whole pipeline');
  assert.equal(basename(forks[0][1]), 'utility.mjs');
  assert.ok(existsSync(forks[0][1]));

  const [[, port1, port2]] = only(fake.calls, 'new MessageChannelMain');
  const toUtility = only(fake.calls, 'utility.postMessage');
  assert.deepEqual(toUtility, [['utility.postMessage', { type: 'connect', engineOptions: { particles: 100 } }, [port1]]]);
  const toPage = only(fake.calls, 'webContents.postMessage');
  assert.deepEqual(toPage, [['webContents.postMessage', 'triptych-port', null, [port2]]]);
  assert.notEqual(port1, port2);

  const [[, page]] = only(fake.calls, 'window.loadFile');
  assert.equal(basename(page), 'ui-a.html');
  assert.ok(existsSync(page));

  window.emit('closed');
  assert.deepEqual(only(fake.calls, 'utility.postMessage').at(-1), ['utility.postMessage', { type: 'stop' }, undefined]);
  assert.equal(only(fake.calls, 'app.quit').length, 0);
  utility.emit('exit', 0);
  assert.equal(only(fake.calls, 'app.quit').length, 1, 'the app quits once the pipeline has left');
});

test('variant B: privileged scheme, isolated page, the unsandboxed preferences stated', async () => {
  const fake = fakeElectron();
  registerVariantBScheme(fake.electron);
  const [[, schemes]] = only(fake.calls, 'protocol.registerSchemesAsPrivileged');
  assert.deepEqual(schemes, [{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } }]);
  const started = startVariantB(fake.electron);
  fake.makeReady();
  await started;

  assert.deepEqual(only(fake.calls, 'protocol.handle'), [['protocol.handle', 'triptych']]);
  const [[, options]] = only(fake.calls, 'new BrowserWindow');
  assert.deepEqual(options.webPreferences, { sandbox: false, nodeIntegration: true, nodeIntegrationInWorker: true, contextIsolation: false });
  const [[, url]] = only(fake.calls, 'window.loadURL');
  const loaded = new URL(url);
  assert.equal(`${loaded.protocol}//${loaded.host}${loaded.pathname}`, 'triptych://app/examples/electron/page-b.html');
  assert.equal(fileURLToPath(loaded.searchParams.get('root')), repositoryRoot);

  const response = await fake.handlers.get('triptych')(new Request('triptych://app/examples/electron/page-b.html'));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('cross-origin-opener-policy'), 'same-origin');
  assert.equal(response.headers.get('cross-origin-embedder-policy'), 'require-corp');
  const worker = await fake.handlers.get('triptych')(new Request('triptych://app/node/lib/compute-worker.mjs'));
  assert.equal(worker.status, 200, 'the compute workers are served from the page\'s origin');
  assert.equal(worker.headers.get('content-type'), 'text/javascript');
});

// main.mjs itself, under Node with `electron` resolved to the recording fake.
function runMain(...args) {
  const TIMEOUT_MS = 30_000;
  const began = Date.now();
  const child = spawnSync(process.execPath, ['--import', './tests/node/electron/fake-electron-register.mjs', 'examples/electron/main.mjs', ...args],
    { encoding: 'utf8', timeout: TIMEOUT_MS });
  const took = Date.now() - began;
  assert.ok(took < TIMEOUT_MS / 2, `main.mjs took ${took} ms of its ${TIMEOUT_MS} ms limit`);
  const calls = child.stdout.trim() === '' ? [] : JSON.parse(child.stdout.trim().split('\n').at(-1));
  return { status: child.status, stderr: child.stderr, names: calls.map((c) => c[0]), calls };
}

test('main.mjs: variant B registers its scheme before the app is ready, then serves and loads the page', () => {
  const r = runMain('--variant=b');
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.names, ['protocol.registerSchemesAsPrivileged', 'app.whenReady', 'protocol.handle', 'new BrowserWindow', 'window.loadURL']);
});

test('main.mjs: variant A by default; a bad --variant is refused', () => {
  const r = runMain();
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.names, ['app.whenReady', 'new BrowserWindow', 'utilityProcess.fork', 'new MessageChannelMain',
    'utility.postMessage', 'window.loadFile', 'webContents.postMessage']);
  const bad = runMain('--variant=c');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--variant must be a or b, got 'c'/);
});
