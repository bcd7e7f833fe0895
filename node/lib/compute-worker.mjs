// SPDX-License-Identifier: Apache-2.0
// One compute worker (a Node worker_thread, or a Web Worker in an Electron
// renderer: portable-worker.mjs gives it the same surface). It joins the engine's compute
// pool through its own addon instance (which pins this OS thread to its plan
// CPU), instantiates the kernel module that the main thread compiled once,
// gives that instance its own stack and TLS block inside the arena's kernel
// zone, then loops: take a chunk (blocking natively on the futex), run
// tp_kernel_step, complete it. A trap fails only that chunk's frame and the
// instance is replaced; a hang is caught by the main thread's watchdog, which
// terminates this worker (the addon then fails the chunk in flight).
// Hot-swap: a kernel the main thread offers is instantiated here while this
// worker has no chunk waiting, and switched to at the first frame no chunk of
// which has run yet (docs/node.md, "Hot-swap"). Design: docs/node.md.
import { workerEnvironment } from './portable-worker.mjs';

const host = await workerEnvironment();
const { workerData } = host;
const { addonPath, memory, engineId, slot, stackLow, stackHigh, busy, busyWords: W, swap, swapFrom, offers } = workerData;
const addon = await host.loadAddon(addonPath);
// This worker's words in the shared busy array: [frame, busy since (ns), command].
const busyWords = new BigInt64Array(busy);
const FRAME = slot * W;
const SINCE = slot * W + 1;
const COMMAND = slot * W + 2;
// The swap words (index.mjs, SWAP_*): the generation offered and armed, who
// installs the armed kernel's static data, and what each worker prepared.
const swapWords = new Int32Array(swap);
const swapFromFrame = new BigInt64Array(swapFrom);
const { OFFERED, ARMED, CLAIM, INSTALLED, SWAP_US, PREPARED } = workerData.swapIndex;
// How long take() blocks before this loop looks at its words again.
const TAKE_WAIT_MS = 50;

// Test only (Engine._exhaustWorkerHeapForTest): grow the JS heap until V8
// stops this worker (ERR_WORKER_OUT_OF_MEMORY under resourceLimits).
function exhaustHeap() {
  const hog = [];
  for (;;) hog.push(new Array(1 << 16).fill(hog.length + 0.5));
}

// The kernel this worker runs: {generation, module, name, tlsSize, tlsAlign, image}.
let kernel = workerData.kernel;
let instance = null;
// Kernels offered and instantiated here, not yet switched to, by generation:
// {kernel, instance}. A refused offer stays until a later switch drops it.
const prepared = new Map();
// The newest generation offered that this worker took from its port.
let preparedGeneration = workerData.preparedGeneration;
let replaced = 0;

// Gives an instance this worker's stack and TLS block, then runs its
// tp_kernel_init. Throws when init traps or refuses.
function activate(inst, k, ctxAddress) {
  const e = inst.exports;
  // This instance's shadow stack grows down from the top of its region; its
  // TLS block sits at the bottom. Both are inside the arena's kernel zone.
  const tlsBase = Math.ceil(stackLow / Math.max(k.tlsAlign, 1)) * Math.max(k.tlsAlign, 1);
  if (k.tlsSize > 0) e.__wasm_init_tls(tlsBase);
  e.__stack_pointer.value = stackHigh & ~15;
  const rc = e.tp_kernel_init(ctxAddress);
  if (rc !== 0) throw new Error(`kernel ${k.name}: tp_kernel_init returned ${rc}`);
  return inst;
}

function instantiate(ctxAddress) {
  return activate(new WebAssembly.Instance(kernel.module, { env: { memory } }), kernel, ctxAddress);
}

// Instantiates every kernel offered on this worker's port. A swapped-in
// module has no start function (the main thread stripped it), so this
// touches no memory while the old kernel runs. Called when no chunk is
// waiting for this worker: off the frame path.
function prepareOffers() {
  for (let offer = host.receiveNow(offers); offer !== undefined; offer = host.receiveNow(offers)) {
    preparedGeneration = offer.generation;
    try {
      prepared.set(offer.generation, { kernel: offer, instance: new WebAssembly.Instance(offer.module, { env: { memory } }) });
      // SYNC(kernel-prepared): the main thread arms once every worker stored this.
      Atomics.store(swapWords, PREPARED + slot, offer.generation);
    } catch (err) {
      host.post({ type: 'prepare-failed', generation: offer.generation, message: `${err.name}: ${err.message}` });
    }
  }
}

// Copies kernel `k`'s static data (its data segments, as its start function
// would have written them) over the old kernel's, once: the first worker to
// claim the generation copies, the others wait for it. Returns true for the
// worker that copied.
function installStaticData(k) {
  const claim = Atomics.load(swapWords, CLAIM);
  if (claim < k.generation && Atomics.compareExchange(swapWords, CLAIM, claim, k.generation) === claim) {
    new Uint8Array(memory.buffer, 0, k.image.byteLength).set(new Uint8Array(k.image));
    // SYNC(kernel-installed): publishes the static data to every worker that
    // waits for this generation below, and to the main thread.
    Atomics.store(swapWords, INSTALLED, k.generation);
    Atomics.notify(swapWords, INSTALLED);
    return true;
  }
  for (let seen = Atomics.load(swapWords, INSTALLED); seen < k.generation; seen = Atomics.load(swapWords, INSTALLED)) {
    Atomics.wait(swapWords, INSTALLED, seen, 5);  // SYNC(kernel-installed)
  }
  return false;
}

// The kernel generation `frame` runs, called with a chunk of it in hand
// when the armed generation is not this worker's. The first worker to get
// here after an arm names the first frame of the armed kernel: the next
// one, of which no chunk exists yet (the frame loop dispatches a frame only
// after every chunk of the previous one completed, and this worker's chunk
// of `frame` is still open). Frames before it run the installed kernel,
// frames from it the armed one, so no frame mixes two kernels.
function generationOf(frame) {
  const armed = Atomics.load(swapWords, ARMED);  // SYNC(kernel-arm)
  const installed = Atomics.load(swapWords, INSTALLED);  // SYNC(kernel-installed)
  if (installed === armed) return armed;  // the boundary has passed
  const at = BigInt(frame);
  let from = Atomics.load(swapFromFrame, 0);
  if (from === 0n) {
    // SYNC(kernel-switch-frame): one CAS decides the boundary for everyone.
    Atomics.compareExchange(swapFromFrame, 0, 0n, at + 1n);
    from = Atomics.load(swapFromFrame, 0);
  }
  return at < from ? installed : armed;
}

// Switches this worker to kernel `generation`: its static data installed
// (once, by whichever worker comes first), its prepared instance given this
// worker's stack and TLS, its tp_kernel_init run. A refusing or trapping
// init fails this chunk like any init (the caller's catch); the next chunk
// tries a fresh instance of the new kernel.
function switchTo(generation, ctxAddress) {
  if (!prepared.has(generation)) prepareOffers();
  const next = prepared.get(generation);
  if (next === undefined) throw new Error(`worker ${slot} did not receive kernel generation ${generation}`);
  const begin = host.nowNs();
  const installer = installStaticData(next.kernel);
  kernel = next.kernel;
  instance = null;
  for (const g of prepared.keys()) if (g <= generation) prepared.delete(g);
  instance = activate(next.instance, kernel, ctxAddress);
  if (installer) Atomics.store(swapWords, SWAP_US, Number((host.nowNs() - begin) / 1000n));
}

const joined = addon.computeJoin(engineId);
host.post({ type: 'ready', slot, member: joined.slot, cpu: joined.cpu, tid: addon.threadInfo().tid });

const now = host.nowNs;
const job = new Float64Array(4);   // [begin, end, frame, ctxAddress], reused for every chunk
for (;;) {
  if (Atomics.load(busyWords, COMMAND) === 1n) exhaustHeap();
  // SYNC(kernel-offer): the main thread posted the module before storing this.
  const offered = Atomics.load(swapWords, OFFERED) !== preparedGeneration;
  // With an offer pending, only look for a chunk: prepare when none waits.
  const got = addon.computeTake(offered ? 0 : TAKE_WAIT_MS, job);
  if (got < 0) break;              // the engine has finished
  if (got === 0) {                 // no chunk for now: prepare an offer, or look again
    if (offered) {
      await host.pumpEvents();     // a Web Worker's offers arrive as events
      prepareOffers();
    }
    continue;
  }
  const begin = job[0];
  const end = job[1];
  const frame = job[2];
  const ctxAddress = job[3];
  Atomics.store(busyWords, FRAME, BigInt(frame));
  Atomics.store(busyWords, SINCE, now());
  let rc;
  let message = '';
  try {
    // SYNC(kernel-arm): one load per chunk; the swap path runs only after an arm.
    if (Atomics.load(swapWords, ARMED) !== kernel.generation) {
      const generation = generationOf(frame);
      if (generation !== kernel.generation) switchTo(generation, ctxAddress);
    }
    if (instance === null) instance = instantiate(ctxAddress);
    rc = instance.exports.tp_kernel_step(ctxAddress, begin, end);
    if (rc !== 0) message = `kernel ${kernel.name} returned ${rc} at frame ${frame}, chunk [${begin}, ${end})`;
  } catch (err) {
    // A trap (RuntimeError: unreachable, out of bounds, ...) or a stack
    // overflow (RangeError): the frame fails; this instance is discarded.
    rc = -1;
    message = `kernel ${kernel.name} trapped at frame ${frame}, chunk [${begin}, ${end}): ${err.name}: ${err.message}`;
    instance = null;
    replaced++;
  }
  Atomics.store(busyWords, SINCE, 0n);
  addon.computeComplete(rc, message);
}
// 'done' first: the main thread then knows this exit was asked for.
host.post({ type: 'done', slot, replaced });
addon.computeLeave('engine finished');
host.exit();
