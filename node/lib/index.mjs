// SPDX-License-Identifier: Apache-2.0
// The triptych JS API. createEngine() compiles the WASM kernel once, sizes and
// allocates the arena's two shared WebAssembly.Memory objects (C++ adopts
// both, no copies): the kernel's memory, the only one kernel instances are
// given (their data, stacks, context and the compute slots), and the
// engine's memory (control blocks, rings, trace, layout and result zones), starts one pinned worker per compute CPU of the core plan, and
// returns an Engine that runs frames natively (frame loop + render thread)
// while the main thread stays free: it only polls status and watches for
// hung kernels. Call from the main thread. Design: docs/node.md.
import { Worker } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { dirname, join, resolve, basename } from 'node:path';
import v8 from 'node:v8';

import { TriptychError, OptionError, KernelError, wrap } from './errors.mjs';
import { createChannel, spawnWorker } from './portable-worker.mjs';

export { TriptychError, OptionError, KernelError };

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../..');
const require = createRequire(import.meta.url);

const WASM_PAGE = 65536;
const MAX_WASM_PAGES = 32768; // the kernels' declared maximum (2 GiB)

// The build folder holding triptych.node and the kernels: TRIPTYCH_BUILD_DIR,
// else build/release, else build/dev.
export function buildDir() {
  if (process.env.TRIPTYCH_BUILD_DIR) return resolve(process.env.TRIPTYCH_BUILD_DIR);
  for (const d of ['build/release', 'build/dev']) {
    if (existsSync(join(root, d, 'node/triptych.node'))) return join(root, d);
  }
  return join(root, 'build/dev');
}

const loadedAddons = new Map();
function loadBuiltAddon(file) {
  if (loadedAddons.has(file)) return loadedAddons.get(file);
  const path = join(buildDir(), 'node', file);
  if (!existsSync(path)) {
    throw new TriptychError('ERR_TRIPTYCH_NOT_BUILT', `the native addon is not built (${path}): run 'make build'`);
  }
  const loaded = { addon: require(path), path };
  loadedAddons.set(file, loaded);
  return loaded;
}

// The production addon (triptych.node): {addon, path}.
export function loadAddon() {
  return loadBuiltAddon('triptych.node');
}

// The test and benchmark addon (triptych_testing.node, built beside
// triptych.node): kernelBenchNative and the zero-copy and futex probes the
// tests use. The engine never loads it.
export function loadTestingAddon() {
  return loadBuiltAddon('triptych_testing.node');
}

export function defaultKernelPath() {
  return join(buildDir(), 'kernels/particles.wasm');
}

// V8 tiering for the kernel, chosen before the first compile (flags are
// process-wide): 'eager' compiles every function with the optimising tier up
// front, so the first frames run optimised code; 'lazy' is V8's default
// (baseline first, optimised later in the background).
let tieringSet = null;
export function setWasmTiering(mode) {
  if (mode !== 'eager' && mode !== 'lazy') throw new OptionError(`wasmTier must be 'eager' or 'lazy', got '${mode}'`);
  if (tieringSet !== null && tieringSet !== mode) {
    throw new OptionError(`wasmTier is process-wide and already '${tieringSet}'`);
  }
  if (mode === 'eager') v8.setFlagsFromString('--no-liftoff');
  tieringSet = mode;
}


// Options only JS can hold: kept out of the table's check, passed through.
const JS_ONLY = ['log', '_oneMemoryForBenchmark'];

// Every createEngine() option with its default filled in, checked against
// the one run options table (the addon's; docs/cli.md). Throws OptionError.
export function normaliseOptions(options = {}) {
  if (options === null || typeof options !== 'object') throw new OptionError('options must be an object');
  let normalised;
  try {
    normalised = loadAddon().addon.normaliseRunOptions(tableOptions(options), 'api');
  } catch (err) {
    if (err?.code === 'ERR_TRIPTYCH_BAD_OPTION') throw new OptionError(err.message.replace(/^bad option: /, ''));
    throw wrap(err);
  }
  if (options.log !== undefined && typeof options.log !== 'function') throw new OptionError('log must be a function (line) => void');
  for (const k of JS_ONLY) if (options[k] !== undefined) normalised[k] = options[k];
  return normalised;
}

// The defaults every host shares, as createEngine() spells them.
export function defaults() {
  return normaliseOptions({});
}

// Compiles the kernel once and checks it against the ABI before any memory
// or thread exists. Returns the module and what the engine needs to place it.
export async function loadKernel(path) {
  return checkKernel(await readKernelFile(path), path);
}

async function readKernelFile(path) {
  try {
    return await readFile(path);
  } catch (err) {
    throw new KernelError('ERR_TRIPTYCH_KERNEL_NOT_FOUND', `cannot read kernel ${path}: ${err.message}`, { cause: err });
  }
}

// What names a kernel in the outputs: the short form of its bytes' sha256.
const HASH_CHARS = 12;

// Compiles `bytes` and checks them against the ABI: exports, imports, a probe
// instance over a scratch shared memory of `scratchPages` (its start function
// writes the module's static data there), the ABI version. `path` names the
// kernel in errors. Returns the module, its placement (heapBase, dataEnd,
// TLS), its identity (abi, sha256) and the scratch memory.
async function checkKernel(bytes, path, scratchPages = 256) {
  let module;
  try {
    module = await WebAssembly.compile(bytes);
  } catch (err) {
    throw new KernelError('ERR_TRIPTYCH_BAD_WASM', `${path} is not a valid WebAssembly module: ${err.message}`, { cause: err });
  }
  const exports = new Map(WebAssembly.Module.exports(module).map((e) => [e.name, e.kind]));
  const need = { tp_kernel_step: 'function', tp_kernel_init: 'function', tp_kernel_abi_version: 'function',
    __stack_pointer: 'global', __heap_base: 'global', __wasm_init_tls: 'function', __tls_size: 'global', __tls_align: 'global' };
  const missing = Object.entries(need).filter(([n, k]) => exports.get(n) !== k).map(([n]) => n);
  if (missing.length) {
    throw new KernelError('ERR_TRIPTYCH_KERNEL_EXPORTS', `${path} lacks the kernel ABI exports: ${missing.join(', ')} (build it with triptych_add_wasm_kernel)`);
  }
  const imports = WebAssembly.Module.imports(module);
  if (imports.length !== 1 || imports[0].module !== 'env' || imports[0].name !== 'memory' || imports[0].kind !== 'memory') {
    throw new KernelError('ERR_TRIPTYCH_KERNEL_IMPORTS', `${path} must import exactly env.memory (a shared memory); it imports ${imports.map((i) => `${i.module}.${i.name}`).join(', ') || 'nothing'}`);
  }
  // A probe instance on a scratch memory reads the module's static layout.
  let probe;
  let scratch;
  try {
    scratch = new WebAssembly.Memory({ initial: scratchPages, maximum: MAX_WASM_PAGES, shared: true });
    probe = new WebAssembly.Instance(module, { env: { memory: scratch } }).exports;
  } catch (err) {
    throw new KernelError('ERR_TRIPTYCH_BAD_WASM', `${path} cannot be instantiated over a shared memory: ${err.message}`, { cause: err });
  }
  let abi;
  try {
    abi = probe.tp_kernel_abi_version();
  } catch (err) {
    throw new KernelError('ERR_TRIPTYCH_KERNEL_ABI', `${path}: tp_kernel_abi_version trapped: ${err.message}`, { cause: err });
  }
  const want = loadAddon().addon.kernelAbiVersion;
  if (abi !== want) {
    const hint = abi === 1
      ? ': ABI 1 kernels shared one memory with the engine; rebuild it with the current kernels/sdk/triptych_kernel.h (tp_arena_ptr is now tp_kernel_ptr, arena_base is kernel_base)'
      : '';
    throw new KernelError('ERR_TRIPTYCH_KERNEL_ABI', `${path} speaks kernel ABI ${abi}; this engine speaks ${want}${hint}`);
  }
  const heapBase = probe.__heap_base.value;
  return {
    module, path, name: basename(path, '.wasm'), abi,
    sha256: createHash('sha256').update(bytes).digest('hex').slice(0, HASH_CHARS),
    // Where the static data ends (the link's own stack is not part of it).
    heapBase, dataEnd: probe.__data_end instanceof WebAssembly.Global ? probe.__data_end.value : heapBase,
    tlsSize: probe.__tls_size.value, tlsAlign: probe.__tls_align.value, scratch, bytes,
  };
}

// The module without its start section. wasm-ld's start function
// (__wasm_init_memory) writes the data segments once per memory, guarded by
// a flag word at an address of the new kernel's layout, which in a running
// engine holds the old kernel's bytes: run there, it could overwrite the
// old kernel mid-frame or wait forever. A swapped-in kernel's static data is
// copied in by the workers at the frame boundary instead (compute-worker.mjs).
export function withoutStartSection(bytes) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const kept = [b.subarray(0, 8)];
  let i = 8;
  while (i < b.length) {
    const id = b[i];
    let size = 0;
    let shift = 0;
    let j = i + 1;
    for (;;) {
      if (j >= b.length) throw new KernelError('ERR_TRIPTYCH_BAD_WASM', 'a section size runs past the end of the module');
      const byte = b[j++];
      size += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if ((byte & 0x80) === 0) break;
    }
    if (j + size > b.length) throw new KernelError('ERR_TRIPTYCH_BAD_WASM', 'a section runs past the end of the module');
    const START_SECTION = 8;
    if (id !== START_SECTION) kept.push(b.subarray(i, j + size));
    i = j + size;
  }
  return Buffer.concat(kept);
}

// How long close() waits past the deadline for the frame loop to finish
// before it gives up on the workers (docs/node.md, "Failure handling").
const CLOSE_MARGIN_MS = 1000;
// How long close() lets a worker leave on its own before terminating it.
const WORKER_LEAVE_MS = 250;
// Words per worker in the shared "busy" array: frame, busy since, command.
const BUSY_WORDS = 3;
const CMD_EXHAUST_HEAP = 1n;
// The swap words, an Int32Array shared with every worker (docs/node.md,
// "Hot-swap"): the kernel generation offered and armed, the generation whose
// static data a worker claimed and installed, how long that took (µs), then
// one word per worker slot: the generation it prepared.
const SWAP_INDEX = { OFFERED: 0, ARMED: 1, CLAIM: 2, INSTALLED: 3, SWAP_US: 4, PREPARED: 5 };
// How long every worker may take to instantiate an offered kernel, and the
// rehearsal to run its tp_kernel_init, before the swap is refused.
const PREPARE_LIMIT_MS = 5000;
const TP_CTX_FIRST_FRAME = 1;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Resolves true when `cond()` holds, false after `ms`, polling every 5 ms.
async function until(cond, ms) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() >= end) return false;
    await sleep(5);
  }
  return true;
}

// Why a worker died, in words, from its 'error' (if any) and exit code.
function deathCause(err, code) {
  if (err) {
    if (err.code === 'ERR_WORKER_OUT_OF_MEMORY') return `out of memory (${err.code}: ${err.message})`;
    if (err instanceof RangeError && /memory/i.test(err.message)) return `out of memory (RangeError: ${err.message})`;
    return `${err.name ?? 'Error'}${err.code ? ` ${err.code}` : ''}: ${err.message}`;
  }
  return `exited with code ${code}`;
}

const nsToMs = (ns) => Math.round(Number(ns) / 1e4) / 100;

// A kernel's bytes from what swapKernel accepts besides a path.
function kernelBytes(source) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer || source instanceof SharedArrayBuffer) return new Uint8Array(source);
  throw new KernelError('ERR_TRIPTYCH_KERNEL_SWAP', 'swapKernel takes a .wasm path, a Uint8Array or an ArrayBuffer');
}

// What names a kernel: its file, ABI version and hash (null for the
// particle kernel compiled into a native-compute engine).
function kernelIdentity(kernel) {
  if (!kernel) return { file: null, name: 'particles', abi: loadAddon().addon.kernelAbiVersion, sha256: null };
  return { file: kernel.path, name: kernel.name, abi: kernel.abi, sha256: kernel.sha256 };
}

// The outputs' run-config rows for a kernel ({file, abi, sha256}) and its swaps.
export function kernelRunConfig(first, swaps = []) {
  const config = {
    kernel: first.file ?? 'the particle kernel compiled into the engine (native compute)',
    'kernel abi': String(first.abi),
  };
  if (first.sha256) config['kernel sha256'] = first.sha256;
  if (swaps.length === 0) return config;
  const ok = swaps.filter((r) => r.ok).length;
  config['kernel swaps'] = `${ok} swapped, ${swaps.length - ok} refused`;
  swaps.forEach((r, i) => {
    config[`kernel swap ${i + 1}`] = r.ok
      ? `from frame ${r.fromFrame}: ${r.file} (ABI ${r.abi}, sha256 ${r.sha256}), build ${r.buildMs} ms, swap ${r.swapMs} ms (frame path ${r.frameCostMs} ms)`
      : `refused: ${r.error}`;
  });
  return config;
}

export class Engine {
  #native; #memory; #engineMemory; #workers = []; #opts; #kernel; #addonPath; #busy; #watchdog = null;
  #replacements = 0; #zoneMap; #stopping = false; #closing = null; #finalWorkers = false;
  #events = []; #log; #failSpawnsForTest = 0;
  // Hot-swap: the shared words, the generations handed out, the offer in
  // progress (posted to workers that start meanwhile), prepare failures by
  // generation, every swap tried, and the chain that runs them one at a time.
  #swapWords = null; #swapFrom = null; #generations = 0; #offer = null; #prepareFailures = new Map();
  #swaps = []; #swapChain = Promise.resolve(); #firstKernel; #ctxAddress; #rehearsal = null;

  constructor(native, memories, opts, kernel, addonPath, zoneMap, ctxAddress = 0) {
    this.#native = native; this.#memory = memories?.kernel ?? null; this.#engineMemory = memories?.engine ?? null;
    this.#opts = opts; this.#kernel = kernel; this.#addonPath = addonPath; this.#zoneMap = zoneMap;
    this.#ctxAddress = ctxAddress;
    this.#firstKernel = kernelIdentity(kernel);
    this.#log = typeof opts.log === 'function' ? opts.log : (line) => process.stderr.write(`triptych: ${line}\n`);
  }

  // The kernel's memory (what kernel instances import: compute slots here).
  get kernelMemory() { return this.#memory; }
  // The engine's memory (header, control blocks, trace, layout and result
  // zones), which no kernel is given; the UI reads result zones here.
  get engineMemory() { return this.#engineMemory; }
  get renderer() { return this.#native.renderer; }
  get workerCount() { return this.#workers.length; }
  // Workers started in place of one that was killed (deadline) or died.
  get replacements() { return this.#replacements; }
  // Each failed frame's cause (the first kept), as in stats.json's failures.
  get failures() { return this.#native.failures().kept.map((f) => f.cause); }
  // {kept: [{frame, cause}], notKept}
  failureLog() { return this.#native.failures(); }
  // Worker deaths and replacements: [{slot, event, cause}], also logged.
  get workerEvents() { return this.#events.map((e) => ({ ...e })); }
  get workers() { return this.#workers.map((w) => ({ ...w.info })); }
  get zoneMap() { return this.#zoneMap; }
  // The kernel running now: {file, name, abi, sha256, generation} (generation
  // 0 is the one createEngine loaded; each swap tried takes the next).
  get kernel() { return { ...kernelIdentity(this.#kernel), generation: this.#kernel?.generation ?? 0 }; }
  // Every swap tried, in order: {generation, ok, file, name, abi, sha256,
  // buildMs, swapMs, frameCostMs, fromFrame, error}.
  get kernelSwaps() { return this.#swaps.map((r) => ({ ...r })); }

  async _startWorkers(count) {
    this.#busy = new SharedArrayBuffer(8 * BUSY_WORDS * count);
    this.#swapWords = new Int32Array(new SharedArrayBuffer(4 * (SWAP_INDEX.PREPARED + count)));
    this.#swapFrom = new BigInt64Array(new SharedArrayBuffer(8));
    await Promise.all(Array.from({ length: count }, (_, slot) => this.#spawn(slot)));
  }

  #spawn(slot) {
    if (this.#failSpawnsForTest > 0) {
      this.#failSpawnsForTest--;
      return Promise.reject(new Error('spawn refused by _terminateWorkerForTest(slot, {failRespawn: true})'));
    }
    const l = this.#zoneMap;
    const stackLow = l.stacksOffset + slot * l.stackStride;
    const resourceLimits = this.#opts.workerHeapMb ? { maxOldGenerationSizeMb: this.#opts.workerHeapMb } : undefined;
    // A worker that starts during a swap gets its offer on this port too.
    const { port1: offers, port2: workerOffers } = createChannel();
    const k = this.#kernel;
    Atomics.store(this.#swapWords, SWAP_INDEX.PREPARED + slot, k.generation ?? 0);
    // A Node worker, or a Web Worker in an Electron renderer (portable-worker.mjs).
    const w = spawnWorker(new URL('compute-worker.mjs', import.meta.url), {
      workerData: {
        addonPath: this.#addonPath, memory: this.#memory, engineId: this.#native.id,
        slot, stackLow, stackHigh: stackLow + l.stackStride, busy: this.#busy, busyWords: BUSY_WORDS,
        kernel: { generation: k.generation ?? 0, module: k.module, name: k.name, tlsSize: k.tlsSize, tlsAlign: k.tlsAlign },
        swap: this.#swapWords.buffer, swapFrom: this.#swapFrom.buffer, swapIndex: SWAP_INDEX, offers: workerOffers,
        // An offer in progress is posted below; one refused before is not.
        preparedGeneration: this.#offer ? (k.generation ?? 0) : Atomics.load(this.#swapWords, SWAP_INDEX.OFFERED),
      },
      transferList: [workerOffers],
      resourceLimits,
    });
    offers.unref?.();  // a Web MessagePort keeps nothing alive
    if (this.#offer) offers.postMessage(this.#offer);
    // expected: set before we end a worker ourselves (watchdog, close) or
    // once it said it is done, so only a death nobody asked for is one.
    const entry = { worker: w, slot, info: { slot }, exited: null, expected: false, error: null, ready: false, offers };
    this.#workers[slot] = entry;
    entry.exited = new Promise((res) => w.once('exit', res));
    entry.exited.then(() => offers.close());
    return new Promise((resolveReady, rejectReady) => {
      w.on('message', (m) => {
        if (m.type === 'ready') {
          entry.info = { slot, cpu: m.cpu, tid: m.tid, member: m.member };
          entry.ready = true;
          resolveReady();
        }
        if (m.type === 'done') entry.expected = true;
        if (m.type === 'prepare-failed') this.#prepareFailures.set(m.generation, `worker ${slot}: ${m.message}`);
      });
      w.on('error', (err) => { entry.error ??= err; });
      w.once('exit', (code) => {
        if (!entry.ready) {
          rejectReady(wrap(entry.error ?? new TriptychError('ERR_TRIPTYCH_WORKER', `worker ${slot} exited with code ${code} before it joined`)));
          return;
        }
        // Exit code 0: the worker left after the engine finished.
        if (!entry.expected && !(code === 0 && !entry.error)) this.#onDeath(entry, deathCause(entry.error, code));
      });
    });
  }

  #busyWords() { return new BigInt64Array(this.#busy); }

  // A worker died without being asked to (an uncaught error, out of memory,
  // terminated from outside): log it with its cause and start another in its
  // slot; if that fails, the run stops with an error naming kernel and cause.
  #onDeath(entry, cause) {
    const words = this.#busyWords();
    const frame = Atomics.load(words, entry.slot * BUSY_WORDS);
    const busy = Atomics.load(words, entry.slot * BUSY_WORDS + 1) !== 0n;
    Atomics.store(words, entry.slot * BUSY_WORDS + 1, 0n);
    Atomics.store(words, entry.slot * BUSY_WORDS + 2, 0n);
    const what = `kernel ${this.#kernel.name}: worker ${entry.slot} died${busy ? ` at frame ${frame}` : ''}: ${cause}`;
    this.#events.push({ slot: entry.slot, event: 'died', cause });
    this.#log(what);
    this.#replace(entry.slot, cause);
  }

  #replace(slot, cause) {
    if (this.#finalWorkers || this.#native.status().finished) return;
    this.#spawn(slot).then(() => {
      this.#replacements++;
      this.#events.push({ slot, event: 'replaced', cause });
      this.#log(`kernel ${this.#kernel.name}: worker ${slot} replaced`);
    }, (err) => {
      const reason = `kernel ${this.#kernel.name}: worker ${slot} (${cause}) could not be replaced: ${err.message}`;
      this.#events.push({ slot, event: 'lost', cause: reason });
      this.#log(reason);
      this.#stopping = true;
      // The run fails with this reason; native code completes the chunks no
      // worker will run, so the frame loop never waits for one.
      try { this.#native.abandonCompute(reason); } catch { /* closed meanwhile */ }
    });
  }

  // Terminates a worker whose chunk outran the deadline and starts another
  // in its slot, also while stopping (the pool's chunks need a member). The
  // frame fails with the deadline as its cause; its other chunks are handed
  // back unrun.
  async #watch() {
    const words = this.#busyWords();
    const limit = BigInt(this.#opts.deadlineMs) * 1_000_000n;
    const now = process.hrtime.bigint();
    for (const entry of this.#workers) {
      if (!entry || entry.expected || !entry.ready) continue;
      const since = Atomics.load(words, entry.slot * BUSY_WORDS + 1);
      if (since === 0n || now - since <= limit) continue;
      const frame = Atomics.load(words, entry.slot * BUSY_WORDS);
      entry.expected = true;
      const cause = `kernel ${this.#kernel.name} passed the ${this.#opts.deadlineMs} ms deadline at frame ${frame}; worker ${entry.slot} terminated and replaced`;
      try { this.#native.failCurrentFrame(cause); } catch { /* closed meanwhile */ }
      Atomics.store(words, entry.slot * BUSY_WORDS + 1, 0n);
      this.#events.push({ slot: entry.slot, event: 'deadline', cause });
      await entry.worker.terminate();
      this.#replace(entry.slot, cause);
    }
  }

  start() {
    try { this.#native.start(); } catch (err) { throw wrap(err); }
    const period = Math.max(1, Math.min(50, Math.floor(this.#opts.deadlineMs / 4)));
    if (this.#workers.length) this.#watchdog = setInterval(() => { this.#watch(); }, period);
  }

  status() {
    const s = this.#native.status();
    return { ...s, replacements: this.#replacements };
  }

  // Resolves when the run has finished (all frames, or stop()). onStatus, if
  // given, is called with status() every `intervalMs`.
  async run({ onStatus, intervalMs = 500 } = {}) {
    this.start();
    return this.wait({ onStatus, intervalMs });
  }

  async wait({ onStatus, intervalMs = 500 } = {}) {
    let last = 0;
    for (;;) {
      const s = this.status();
      if (s.finished) break;
      if (onStatus && Date.now() - last >= intervalMs) { last = Date.now(); onStatus(s); }
      await sleep(20);
    }
    // Both native threads are done: this join returns at once. It also
    // counts a frame a UI never took (hostPresents) as dropped.
    this.#native.stop();
    return this.status();
  }

  // Asks the engine to stop after the frame in progress; run()/wait() resolve.
  // A hung kernel still meets the watchdog, so this ends within the deadline.
  requestStop() { this.#stopping = true; this.#native.requestStop(); }

  // Writes the outputs; `runConfig` (strings) is shown in the report and
  // stats.json "config", followed by the kernel's file, ABI and hash and
  // every swap tried.
  writeOutputs(paths, runConfig = {}) {
    const config = { ...runConfig, ...kernelRunConfig(this.#firstKernel, this.#swaps) };
    try { this.#native.writeOutputs(paths, config); } catch (err) { throw wrap(err); }
  }

  // Replaces the running kernel with `source` (a .wasm path, or its bytes)
  // at a frame boundary, keeping the particle state in the compute slots.
  // Off the frame path: read, compile, validate, tp_kernel_init rehearsed on
  // a scratch copy of the kernel's memory, then instantiated in every worker
  // while it has no chunk; the workers switch together at the next frame
  // (docs/node.md, "Hot-swap"). Resolves with the swap's record (as in
  // kernelSwaps); rejects with a KernelError when the kernel fails to load,
  // validate, fit or initialise, and the old kernel keeps running. Swaps run
  // one at a time, in call order. `buildMs`: time already spent producing
  // the bytes (a compiler run), counted in the build time; `file`: what to
  // call bytes in messages.
  swapKernel(source, options = {}) {
    const attempt = this.#swapChain.then(() => this.#swap(source, options));
    this.#swapChain = attempt.catch(() => {});
    return attempt;
  }

  async #swap(source, { buildMs: priorBuildMs = 0, file: named } = {}) {
    const { addon } = loadAddon();
    const generation = ++this.#generations;
    const file = typeof source === 'string' ? resolve(source) : (named ?? 'kernel bytes');
    const record = { generation, ok: false, file, name: null, abi: null, sha256: null, buildMs: null,
      swapMs: null, frameCostMs: null, fromFrame: null, error: null };
    const buildBegin = addon.nowNs() - BigInt(Math.round(priorBuildMs * 1e6));
    try {
      if (this.#memory === null) {
        throw new KernelError('ERR_TRIPTYCH_KERNEL_SWAP', this.#kernel
          ? 'the engine is closed' : "compute 'native' runs the compiled-in kernel; swapKernel needs compute 'wasm'");
      }
      const bytes = typeof source === 'string' ? await readKernelFile(file) : kernelBytes(source);
      const k = await checkKernel(bytes, file, this.#memory.buffer.byteLength / WASM_PAGE);
      Object.assign(record, { name: k.name, abi: k.abi, sha256: k.sha256 });
      this.#checkPlacement(k);
      let module;
      try {
        module = await WebAssembly.compile(withoutStartSection(bytes));
      } catch (err) {
        throw new KernelError('ERR_TRIPTYCH_BAD_WASM', `${file} without its start section does not compile: ${err.message}`, { cause: err });
      }
      // The static data as the probe's start function wrote it.
      const image = new SharedArrayBuffer(k.dataEnd);
      new Uint8Array(image).set(new Uint8Array(k.scratch.buffer, 0, k.dataEnd));
      await this.#rehearse(k, module);
      const built = addon.nowNs();
      record.buildMs = nsToMs(built - buildBegin);
      addon.traceSpan('kernel build', buildBegin, built);
      await this.#offerToWorkers({ generation, module, name: k.name, tlsSize: k.tlsSize, tlsAlign: k.tlsAlign, image });
      const armed = addon.nowNs();
      record.fromFrame = await this.#arm(generation);
      const installed = addon.nowNs();
      addon.traceSpan('kernel swap', armed, installed);
      this.#kernel = { module, path: file, name: k.name, abi: k.abi, sha256: k.sha256, generation,
        tlsSize: k.tlsSize, tlsAlign: k.tlsAlign };
      Object.assign(record, { ok: true, swapMs: nsToMs(installed - armed),
        frameCostMs: Atomics.load(this.#swapWords, SWAP_INDEX.SWAP_US) / 1000 });
      this.#swaps.push(record);
      return { ...record };
    } catch (err) {
      record.error = err.message;
      this.#swaps.push(record);
      throw wrap(err);
    } finally {
      this.#offer = null;
    }
  }

  // A new kernel's static data must end below the context, which sits where
  // the first kernel's static data (and link stack) ended; its TLS block
  // must leave most of a worker's stack region for the stack.
  #checkPlacement(k) {
    if (k.dataEnd > this.#ctxAddress) {
      throw new KernelError('ERR_TRIPTYCH_KERNEL_TOO_BIG', `${k.path}: its static data ends at byte ${k.dataEnd}, past the kernel context this engine placed at byte ${this.#ctxAddress} for the first kernel; load it in a new engine (restart the run)`);
    }
    const stride = this.#zoneMap.stackStride;
    if (k.tlsSize + k.tlsAlign > stride / 2) {
      throw new KernelError('ERR_TRIPTYCH_KERNEL_TOO_BIG', `${k.path}: its TLS block (${k.tlsSize} bytes) leaves too little of a worker's ${stride}-byte stack region`);
    }
  }

  // The context the rehearsal's init sees: the current frame's, or, before
  // the first frame, the one the frame loop will write for it.
  #rehearsalContext() {
    const ctx = new Uint8Array(64);
    ctx.set(new Uint8Array(this.#memory.buffer, this.#ctxAddress, 64));
    const v = new DataView(ctx.buffer);
    if (v.getUint32(0, true) !== 0) return ctx;
    const slot = this.#zoneMap.zones['compute A'].offset;
    v.setUint32(0, loadAddon().addon.kernelAbiVersion, true);
    v.setUint32(4, this.#opts.particles, true);
    v.setBigUint64(8, 1n, true);
    v.setBigUint64(24, BigInt(slot), true);
    v.setBigUint64(32, BigInt(slot), true);
    v.setUint32(40, 32, true);
    v.setFloat32(44, this.#opts.hz > 0 ? 1 / this.#opts.hz : 1 / 120, true);
    v.setUint32(52, this.#opts.seed, true);
    v.setUint32(56, TP_CTX_FIRST_FRAME, true);
    return ctx;
  }

  // Runs the new kernel's tp_kernel_init in the rehearsal worker over the
  // load probe's scratch memory; a trap, a refusal or a hang past the
  // deadline refuses the kernel (a hung rehearsal worker is terminated).
  async #rehearse(k, module) {
    new Uint8Array(k.scratch.buffer, this.#ctxAddress, 64).set(this.#rehearsalContext());
    if (this.#rehearsal === null) {
      this.#rehearsal = new Worker(join(here, 'kernel-rehearsal.mjs'));
      this.#rehearsal.unref();
    }
    const w = this.#rehearsal;
    const l = this.#zoneMap;
    const limit = this.#opts.deadlineMs;
    let timer;
    let onMessage;
    let onError;
    let onExit;
    const verdict = await new Promise((done) => {
      timer = setTimeout(() => done({ ok: false, hung: true, message: `kernel ${k.name}: tp_kernel_init ran past the ${limit} ms deadline` }), limit);
      onMessage = done;
      onError = (err) => done({ ok: false, hung: true, message: `kernel ${k.name}: tp_kernel_init failed: ${err.message}` });
      onExit = (code) => done({ ok: false, hung: true, message: `kernel ${k.name}: the init rehearsal exited with code ${code}` });
      w.on('message', onMessage).on('error', onError).on('exit', onExit);
      w.postMessage({ module, memory: k.scratch, ctxAddress: this.#ctxAddress, stackLow: l.stacksOffset,
        stackHigh: l.stacksOffset + l.stackStride, tlsSize: k.tlsSize, tlsAlign: k.tlsAlign, name: k.name });
    });
    clearTimeout(timer);
    w.off('message', onMessage).off('error', onError).off('exit', onExit);
    if (verdict.hung) {
      this.#rehearsal = null;
      await w.terminate();
    }
    if (!verdict.ok) throw new KernelError('ERR_TRIPTYCH_KERNEL_INIT', `${k.path}: ${verdict.message}`);
  }

  // Posts the new kernel to every worker (and to any that starts meanwhile)
  // and waits until each has instantiated it.
  async #offerToWorkers(next) {
    const words = this.#swapWords;
    const g = next.generation;
    this.#offer = next;
    for (const e of this.#workers) if (e) e.offers.postMessage(next);
    // SYNC(kernel-offer): the messages are queued before the workers see this.
    Atomics.store(words, SWAP_INDEX.OFFERED, g);
    const prepared = () => this.#workers.every((e) => !e || Atomics.load(words, SWAP_INDEX.PREPARED + e.slot) === g);
    const settled = await until(() => this.#prepareFailures.has(g) || this.#native.status().finished || prepared(), PREPARE_LIMIT_MS);
    if (this.#prepareFailures.has(g)) {
      throw new KernelError('ERR_TRIPTYCH_BAD_WASM', `${next.name} cannot be instantiated: ${this.#prepareFailures.get(g)}`);
    }
    if (!prepared()) {
      throw new KernelError('ERR_TRIPTYCH_KERNEL_SWAP', settled ? 'the run ended before the new kernel was loaded'
        : `the workers did not load the new kernel within ${PREPARE_LIMIT_MS} ms`);
    }
  }

  // Arms generation `g`: the workers switch to it at the next frame
  // boundary. Resolves with the first frame it computes; rejects (and
  // disarms) when the run ends first.
  async #arm(g) {
    const words = this.#swapWords;
    Atomics.store(this.#swapFrom, 0, 0n);
    // SYNC(kernel-arm): the reset boundary and the prepared kernel are visible to a worker that sees g.
    Atomics.store(words, SWAP_INDEX.ARMED, g);
    await until(() => Atomics.load(words, SWAP_INDEX.INSTALLED) === g || this.#native.status().finished, Infinity);
    if (Atomics.load(words, SWAP_INDEX.INSTALLED) !== g) {
      // Finished: no chunk will run, so no worker reads this any more.
      Atomics.store(words, SWAP_INDEX.ARMED, Atomics.load(words, SWAP_INDEX.INSTALLED));
      throw new KernelError('ERR_TRIPTYCH_KERNEL_SWAP', 'the run ended before a frame boundary; the kernel was not swapped');
    }
    return Number(Atomics.load(this.#swapFrom, 0));
  }

  summaryTable() { return this.#native.summaryTable(); }

  // With { hostPresents: true }: copies the newest finished frame's pixels
  // (RGBA8, width x height, rows top first) into `pixels` (a Uint8Array or
  // Uint8ClampedArray of at least width*height*4 bytes), marks it presented
  // and returns its frame id; null when no new frame is ready. Call it from
  // the UI's animation callback (e.g. to putImageData on a canvas).
  copyResult(pixels) {
    try { return this.#native.copyResult(pixels); } catch (err) { throw wrap(err); }
  }

  // Test only: terminates worker `slot` from outside the watchdog, as an
  // external kill would. With {failRespawn: true} its replacement is refused.
  _terminateWorkerForTest(slot, { failRespawn = false } = {}) {
    if (failRespawn) this.#failSpawnsForTest = 1;
    return this.#workers[slot].worker.terminate();
  }

  // Test only: worker `slot` allocates JS heap until V8 stops it
  // (ERR_WORKER_OUT_OF_MEMORY). Needs the workerHeapMb option.
  _exhaustWorkerHeapForTest(slot) {
    if (!this.#opts.workerHeapMb) throw new OptionError('_exhaustWorkerHeapForTest needs workerHeapMb');
    Atomics.store(this.#busyWords(), slot * BUSY_WORDS + 2, CMD_EXHAUST_HEAP);
  }

  // Stops everything and releases the memory. Never blocks the event loop:
  // it waits (asynchronously) at most deadlineMs + 1 s for the frame loop,
  // keeping the watchdog on so a hung kernel is cut off; past that it
  // abandons the workers; the native join runs on a libuv thread. Idempotent.
  close() {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close() {
    const native = this.#native;
    this.#stopping = true;
    native.requestStop();
    if (native.status().started && !native.status().finished) {
      const limit = this.#opts.deadlineMs + CLOSE_MARGIN_MS;
      if (!await until(() => native.status().finished, limit)) {
        native.abandonCompute(`close(): the run did not stop within ${limit} ms; its workers were abandoned`);
        this.#finalWorkers = true;
        for (const e of this.#workers) { if (e) { e.expected = true; e.worker.terminate(); } }
        await until(() => native.status().finished, CLOSE_MARGIN_MS);
      }
    }
    if (this.#watchdog) clearInterval(this.#watchdog);
    this.#finalWorkers = true;
    await this.#swapChain;
    await this.#rehearsal?.terminate();
    // Workers see the engine finished and leave on their own (members parked
    // in take() are woken); terminate any that do not within the bound.
    await Promise.all(this.#workers.map(async (e) => {
      if (!e) return;
      const left = await Promise.race([e.exited.then(() => true), sleep(WORKER_LEAVE_MS).then(() => false)]);
      if (!left) { e.expected = true; await e.worker.terminate(); }
    }));
    await native.closeAsync();
    this.#memory = null;
    this.#engineMemory = null;
  }
}

// createEngine({ kernel, particles, hz, seconds, frames, workers, renderer, ... })
export async function createEngine(options = {}) {
  const opts = normaliseOptions(options);
  const { addon, path: addonPath } = loadAddon();
  if (opts.compute === 'native') {
    const native = construct(addon, prepare(addon, opts).setup);
    return new Engine(native, null, opts, null, addonPath, null);
  }
  setWasmTiering(opts.wasmTier);
  const loaded = await loadKernel(resolve(opts.kernel ?? defaultKernelPath()));
  const kernel = { ...loaded, generation: 0, scratch: null, bytes: null };
  const ctxAddress = Math.ceil(kernel.heapBase / 64) * 64;
  // The one topology load, core plan and zone map of this engine.
  const prepared = prepare(addon, { ...opts, kernelStaticBytes: ctxAddress + 64 });
  const { zoneMap } = prepared;
  const { memories, kernelView, engineView } = allocateMemories(zoneMap, opts._oneMemoryForBenchmark === true);
  const native = construct(addon, prepared.setup, kernelView, engineView, { ctxAddress });
  const engine = new Engine(native, memories, opts, kernel, addonPath, zoneMap, ctxAddress);
  try {
    await engine._startWorkers(prepared.workers);
  } catch (err) {
    await engine.close();
    throw wrap(err);
  }
  return engine;
}

// The addon's options: the table's keys only (the JS-only ones stay here).
export function tableOptions(opts) {
  const o = { ...opts };
  for (const k of JS_ONLY) delete o[k];
  return o;
}

function prepare(addon, opts) {
  try { return addon.prepareEngine(tableOptions(opts)); } catch (err) { throw wrap(err); }
}

// The arena's two memories, each a shared WebAssembly.Memory that never
// grows. `oneMemory` is the benchmark's baseline only (bench/node/
// boundary_bench.mjs): both memories as two ranges of one WebAssembly.Memory
// that every kernel instance imports, the layout before the kernel boundary,
// so a kernel can reach the engine's bytes. No product path sets it.
function allocateMemories(zoneMap, oneMemory) {
  const pagesFor = (which, bytes) => {
    const pages = Math.ceil(bytes / WASM_PAGE);
    if (pages > MAX_WASM_PAGES) {
      throw new TriptychError('ERR_TRIPTYCH_MEMORY_TOO_SMALL',
        `the ${which} needs ${(bytes / 2 ** 20).toFixed(0)} MiB but a wasm32 shared memory stops at ${MAX_WASM_PAGES * WASM_PAGE / 2 ** 20} MiB: use fewer particles or a smaller resolution`);
    }
    return pages;
  };
  const shared = (pages) => new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  if (oneMemory) {
    const kernelPages = pagesFor("kernel's memory", zoneMap.kernelBytes);
    const one = shared(pagesFor('one memory', kernelPages * WASM_PAGE + zoneMap.engineBytes));
    const split = kernelPages * WASM_PAGE;
    return { memories: { kernel: one, engine: one }, kernelView: new Uint8Array(one.buffer, 0, split),
      engineView: new Uint8Array(one.buffer, split) };
  }
  const kernel = shared(pagesFor("kernel's memory", zoneMap.kernelBytes));
  const engine = shared(pagesFor("engine's memory", zoneMap.engineBytes));
  return { memories: { kernel, engine }, kernelView: new Uint8Array(kernel.buffer), engineView: new Uint8Array(engine.buffer) };
}

function construct(addon, setup, kernelView, engineView, placement) {
  try {
    return new addon.Engine(setup, kernelView, engineView, placement);
  } catch (err) {
    throw wrap(err);
  }
}

export function plan(options = {}) {
  try { return loadAddon().addon.plan(options); } catch (err) { throw wrap(err); }
}

export function devices() {
  try { return loadAddon().addon.devices(); } catch (err) { throw wrap(err); }
}

// Where `present: 'auto'` would show frames here: { window, why }.
export function presentProbe() {
  try { return loadAddon().addon.presentProbe(); } catch (err) { throw wrap(err); }
}
