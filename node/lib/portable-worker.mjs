// SPDX-License-Identifier: Apache-2.0
// The worker abstraction: one worker module runs as a Node worker_thread
// (Node, Electron's utilityProcess) or as a Web Worker (an Electron renderer,
// whose Node refuses worker_threads; with nodeIntegrationInWorker its Web
// Workers can still load the addon), chosen by what the environment offers.
// The host side (spawnWorker, createChannel) hands the module its data and
// returns a worker with Node's surface (on/once 'message' | 'error' | 'exit',
// postMessage, terminate() -> Promise<exit code>). The worker side
// (workerEnvironment) gives the module that data, a way to post, a
// synchronous receive on a port and its addon. No static `node:` import:
// Chromium's module loader must be able to load this file in a Web Worker.
// Host side: the thread that owns the workers; worker side: the worker
// itself. Design: docs/node.md, "Workers in Node and in a renderer".

// The first message a Web Worker gets: its workerData (Node passes it at spawn).
const INIT = '__triptychWorkerData';
// The last message a Web Worker sends: it is done (a Node worker just exits).
const EXIT = '__triptychWorkerExit';

const nodeProcess = typeof process === 'object' && process !== null ? process : null;
// process.getBuiltinModule (Node 20.16+, package.json "engines") loads a
// builtin synchronously without a static import.
function builtin(name) {
  return nodeProcess?.getBuiltinModule?.(name) ?? null;
}

// 'worker_threads' where this thread may create Node workers (Node, a
// utilityProcess, a Node worker), 'web' where it may not but has Web Workers
// (an Electron renderer or a browser page), 'none' otherwise.
export function workerKind() {
  const type = nodeProcess?.type;  // Electron's process type; undefined in Node
  if (type !== 'renderer' && type !== 'worker' && builtin('node:worker_threads') !== null) return 'worker_threads';
  return typeof globalThis.Worker === 'function' ? 'web' : 'none';
}

// A file URL under `fileRoot` is served to Web Workers from `webRoot` (a
// Web Worker must come from the page's origin: Electron's renderer serves the
// repository through its custom protocol). Set by the page; null: unmapped.
let webRoots = null;
export function serveWorkersFrom(fileRoot, webRoot) {
  webRoots = { fileRoot: String(fileRoot), webRoot: String(webRoot) };
}

function webWorkerUrl(moduleUrl) {
  const url = String(moduleUrl);
  if (webRoots !== null && url.startsWith(webRoots.fileRoot)) return webRoots.webRoot + url.slice(webRoots.fileRoot.length);
  return url;
}

// A Web Worker with a Node Worker's surface.
class WebWorkerAdapter {
  #worker;
  #listeners = { message: [], error: [], exit: [] };
  #exitCode = null;

  constructor(url, workerData, transferList) {
    this.#worker = new globalThis.Worker(url, { type: 'module' });
    this.#worker.onmessage = (event) => {
      if (event.data?.[EXIT] !== undefined) { this.#exited(event.data[EXIT]); return; }
      this.#emit('message', event.data);
    };
    // A Node worker ends on an uncaught error (exit code 1); so does this one.
    this.#worker.onerror = (event) => {
      event.preventDefault?.();
      this.#emit('error', new Error(event.message ?? 'Web Worker failed to load or threw'));
      this.#worker.terminate();
      this.#exited(1);
    };
    this.#worker.postMessage({ [INIT]: workerData }, transferList);
  }

  #emit(type, value) {
    for (const { fn, once } of [...this.#listeners[type]]) {
      if (once) this.off(type, fn);
      fn(value);
    }
  }

  #exited(code) {
    if (this.#exitCode !== null) return;
    this.#exitCode = code;
    this.#emit('exit', code);
  }

  on(type, fn) { this.#listeners[type].push({ fn, once: false }); return this; }
  once(type, fn) { this.#listeners[type].push({ fn, once: true }); return this; }
  off(type, fn) { this.#listeners[type] = this.#listeners[type].filter((l) => l.fn !== fn); return this; }
  postMessage(message, transferList) { this.#worker.postMessage(message, transferList); }
  // As Node's: resolves with the exit code (1 when this ended it).
  terminate() {
    if (this.#exitCode === null) {
      this.#worker.terminate();
      this.#exited(1);
    }
    return Promise.resolve(this.#exitCode);
  }
}

// Starts the worker module at `moduleUrl` (a URL) with `workerData`, moving
// `transferList`. resourceLimits apply to Node workers only. Throws when the
// environment offers no workers.
export function spawnWorker(moduleUrl, { workerData, transferList = [], resourceLimits } = {}) {
  const kind = workerKind();
  if (kind === 'worker_threads') {
    const { Worker } = builtin('node:worker_threads');
    return new Worker(moduleUrl, { workerData, transferList, resourceLimits });
  }
  if (kind === 'web') return new WebWorkerAdapter(webWorkerUrl(moduleUrl), workerData, transferList);
  throw new Error('this environment offers neither worker_threads nor Web Workers');
}

// A channel whose ports can go to the workers spawnWorker starts here.
export function createChannel() {
  if (workerKind() === 'worker_threads') {
    const { MessageChannel } = builtin('node:worker_threads');
    return new MessageChannel();
  }
  return new globalThis.MessageChannel();
}

// Worker side: {kind, workerData, post(message), receiveNow(port),
// pumpEvents(), loadAddon(path), nowNs(), exit()}. Resolves once the data is
// here (a Web Worker waits for its first message).
export async function workerEnvironment() {
  const threads = builtin('node:worker_threads');
  if (threads !== null && threads.parentPort !== null) {
    const { parentPort, receiveMessageOnPort, workerData } = threads;
    const { createRequire } = builtin('node:module');
    return {
      kind: 'worker_threads',
      workerData,
      post: (message) => parentPort.postMessage(message),
      receiveNow: (port) => receiveMessageOnPort(port)?.message,
      pumpEvents: () => undefined,  // receiveNow reads the port synchronously
      loadAddon: async (path) => loadAddonModule(path, workerData, createRequire(import.meta.url)),
      nowNs: () => nodeProcess.hrtime.bigint(),
      exit: () => undefined,        // the thread ends when its loop is empty
    };
  }
  const workerData = await new Promise((resolve) => {
    globalThis.onmessage = (event) => {
      if (event.data?.[INIT] === undefined) return;
      globalThis.onmessage = null;
      resolve(event.data[INIT]);
    };
  });
  // Messages a port received, kept until receiveNow takes them: a Web
  // Worker has no synchronous receive, so they arrive while pumpEvents waits.
  const queues = new Map();
  const queueOf = (port) => {
    let queue = queues.get(port);
    if (queue === undefined) {
      queue = [];
      queues.set(port, queue);
      port.onmessage = (event) => queue.push(event.data);
    }
    return queue;
  };
  // Electron gives Web Workers `require` with nodeIntegrationInWorker.
  const nodeRequire = typeof globalThis.require === 'function' ? globalThis.require : null;
  return {
    kind: 'web',
    workerData,
    post: (message) => globalThis.postMessage(message),
    receiveNow: (port) => queueOf(port).shift(),
    pumpEvents: () => new Promise((resolve) => setTimeout(resolve, 0)),
    loadAddon: async (path) => loadAddonModule(path, workerData, nodeRequire),
    nowNs: () => (nodeProcess?.hrtime ? nodeProcess.hrtime.bigint()
      : BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))),
    exit: () => { globalThis.postMessage({ [EXIT]: 0 }); globalThis.close(); },
  };
}

// The addon at `path`: a native module (.node, through Node's require), or
// an ES module standing in for one (a test's stub: its createAddon(workerData)
// builds it).
async function loadAddonModule(path, workerData, nodeRequire) {
  if (String(path).endsWith('.node')) {
    if (nodeRequire === null) throw new Error(`cannot load ${path}: this worker has no Node integration (nodeIntegrationInWorker)`);
    return nodeRequire(path);
  }
  const stub = await import(path);
  return stub.createAddon(workerData);
}
