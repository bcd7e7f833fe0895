// SPDX-License-Identifier: Apache-2.0
// @ts-check
// The main process's wiring for both variants, given the electron module
// (main.mjs passes the real one; the tests pass a recording fake).
// Variant A: a window with Electron's secure defaults (context isolation,
// no Node, sandbox) shows a thin UI; the pipeline runs in one
// utilityProcess (utility.mjs); a MessageChannelMain joins them, one port
// to each. Variant B: the engine runs in the renderer itself (sandbox off,
// Node on, Node in Web Workers), and the page is served through the
// triptych:// scheme with COOP/COEP so it is cross-origin isolated
// (SharedArrayBuffer and shared WebAssembly.Memory need that). Main
// process only. Design: README.md.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join, resolve, sep } from 'node:path';
import { readFile } from 'node:fs/promises';

const here = dirname(fileURLToPath(import.meta.url));
// Variant B serves the repository (the page, node/lib, the built kernels).
export const repositoryRoot = resolve(here, '../..');
export const SCHEME = 'triptych';
export const PAGE_B = `${SCHEME}://app/examples/electron/page-b.html`;

// 'a' or 'b' from `--variant=<v>` (default 'a'); anything else throws.
export function variantFromArgs(argv) {
  const flag = argv.find((a) => a.startsWith('--variant='));
  const variant = flag === undefined ? 'a' : flag.slice('--variant='.length);
  if (variant !== 'a' && variant !== 'b') throw new Error(`--variant must be a or b, got '${variant}'`);
  return variant;
}

// Variant A's window: Electron's secure defaults, spelled out so a reader
// (and the test) sees them; the preload only forwards the port.
export const VARIANT_A_WEB_PREFERENCES = Object.freeze({
  contextIsolation: true,
  nodeIntegration: false,
  sandbox: true,
  preload: join(here, 'preload-a.cjs'),
});

// Variant B's window: the renderer loads the addon and runs the engine, so
// the sandbox is OFF and Node is ON (in the page and in its Web Workers).
// Any script this page runs can do what the user can: load only this
// repository's files (the scheme handler serves nothing else).
export const VARIANT_B_WEB_PREFERENCES = Object.freeze({
  sandbox: false,
  nodeIntegration: true,
  nodeIntegrationInWorker: true,
  contextIsolation: false,
});

/** @typedef {typeof import('electron')} Electron */

// Starts variant A: resolves with {window, utility} once both run.
/** @param {Electron} electron @param {{engineOptions?: object}} [options] */
export async function startVariantA(electron, { engineOptions = {} } = {}) {
  const { app, BrowserWindow, MessageChannelMain, utilityProcess } = electron;
  await app.whenReady();
  const window = new BrowserWindow({ width: 720, height: 560, title: 'triptych (variant A)', webPreferences: { ...VARIANT_A_WEB_PREFERENCES } });
  const utility = utilityProcess.fork(join(here, 'utility.mjs'), [], { serviceName: 'triptych pipeline', stdio: 'inherit' });
  const { port1, port2 } = new MessageChannelMain();
  // One port to the pipeline, one to the page: they talk directly after this.
  utility.postMessage({ type: 'connect', engineOptions }, [port1]);
  window.webContents.once('did-finish-load', () => window.webContents.postMessage('triptych-port', null, [port2]));
  await window.loadFile(join(here, 'ui-a.html'));
  // Closing the window stops the pipeline; the app quits once it has left.
  window.on('closed', () => utility.postMessage({ type: 'stop' }));
  utility.once('exit', () => app.quit());
  return { window, utility };
}

// Registers triptych:// as a standard, secure scheme (fetch, Web Workers
// and cross-origin isolation work on it). Call before app is ready.
/** @param {Electron} electron */
export function registerVariantBScheme(electron) {
  electron.protocol.registerSchemesAsPrivileged([
    { scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
  ]);
}

// The headers that make a document cross-origin isolated, on every response.
export const ISOLATION_HEADERS = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
});

const TYPES = { '.html': 'text/html; charset=utf-8', '.mjs': 'text/javascript', '.js': 'text/javascript',
  '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

// The triptych:// handler: a file under `root` with the isolation headers,
// 404 for anything outside it (a path that climbs out, an unknown type).
export function isolatedFileHandler(root = repositoryRoot) {
  const base = resolve(root) + sep;
  /** @param {Request} request @returns {Promise<Response>} */
  return async (request) => {
    const { pathname } = new URL(request.url);
    const path = resolve(base, `.${decodeURIComponent(pathname)}`);
    const type = TYPES[path.slice(path.lastIndexOf('.'))];
    if (!path.startsWith(base) || type === undefined) {
      return new Response('not found', { status: 404, headers: ISOLATION_HEADERS });
    }
    try {
      return new Response(await readFile(path), { status: 200, headers: { ...ISOLATION_HEADERS, 'Content-Type': type } });
    } catch {
      return new Response('not found', { status: 404, headers: ISOLATION_HEADERS });
    }
  };
}

// Starts variant B: resolves with {window} once the page loads.
/** @param {Electron} electron */
export async function startVariantB(electron) {
  const { app, BrowserWindow, protocol } = electron;
  await app.whenReady();
  protocol.handle(SCHEME, isolatedFileHandler());
  const window = new BrowserWindow({ width: 720, height: 600, title: 'triptych (variant B)', webPreferences: { ...VARIANT_B_WEB_PREFERENCES } });
  app.on('window-all-closed', () => app.quit());
  await window.loadURL(`${PAGE_B}?root=${encodeURIComponent(pathToFileURL(repositoryRoot).href)}`);
  return { window };
}
