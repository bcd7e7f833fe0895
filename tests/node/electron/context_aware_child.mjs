// SPDX-License-Identifier: Apache-2.0
// Child of electron_context_aware.test.mjs, run as `node --force-context-aware`
// (Node then refuses any addon that is not context-aware, as Electron's
// renderers do). The main thread loads the addon, then starts WORKERS
// worker_threads that each load it again, run an engine (its own compute
// workers, frame loop and render thread) and report frames; once every one
// runs it terminates them all mid-run. Prints one JSON line: what the test
// asserts. Main thread only.
import assert from 'node:assert/strict';
import { Worker, isMainThread, parentPort } from 'node:worker_threads';
import { readdirSync } from 'node:fs';

const WORKERS = 3;
const SMALL = { particles: 2000, grain: 1000, hz: 0, width: 32, height: 32, renderer: 'cpu', frames: 0, workers: 1 };
const lib = await import('../../../node/lib/index.mjs');
const threads = () => readdirSync('/proc/self/task').length;

if (!isMainThread) {
  const engine = await lib.createEngine(SMALL);
  engine.start();
  const timer = setInterval(() => parentPort.postMessage({ frames: engine.status().presented }), 20);
  timer.unref?.();
} else {
  const { addon } = lib.loadAddon();
  const baseline = threads();
  const workers = [];
  const running = [];
  for (let i = 0; i < WORKERS; i++) {
    const w = new Worker(new URL(import.meta.url));
    workers.push(w);
    running.push(new Promise((resolve, reject) => {
      w.on('message', (m) => { if (m.frames > 0) resolve(m.frames); });
      w.on('error', reject);
      w.on('exit', (code) => reject(new Error(`worker ${i} exited early (${code})`)));
    }));
  }
  const framesBefore = await Promise.all(running);
  // The parent test asserts on the JSON below; this child refuses at once to
  // report a run in which a worker's engine never presented.
  assert.ok(framesBefore.every((f) => f > 0), `every worker's engine presented before termination: ${framesBefore}`);
  const peak = threads();
  const began = Date.now();
  const codes = await Promise.all(workers.map((w) => w.terminate()));
  const terminateMs = Date.now() - began;
  // The engines' native threads end once each worker's environment is torn
  // down (its cleanup hooks finalize the engine it held): wait for that.
  let after = threads();
  const waitBegan = Date.now();
  while (after > baseline && Date.now() - waitBegan < 10_000) {
    await new Promise((r) => setTimeout(r, 20));
    after = threads();
  }
  const settleMs = Date.now() - waitBegan;
  // Engine ids count from 1 in this process (registry.cc); the main thread
  // made none, so the workers' engines were 1..WORKERS. Each finalizer
  // unregisters its engine: joining one now must find nothing.
  const stillRegistered = [];
  for (let id = 1; id <= WORKERS; id++) {
    try {
      addon.computeJoin(id);
      stillRegistered.push(id);
      addon.computeLeave('context-aware test: should not have joined');
    } catch (err) {
      if (!/no engine with id/.test(err.message)) throw err;
    }
  }
  // The main thread's addon instance is untouched by the workers' teardown.
  const mainEngine = await lib.createEngine({ ...SMALL, frames: 5 });
  const finalStatus = await mainEngine.run();
  await mainEngine.close();
  console.log(JSON.stringify({ baseline, peak, after, settleMs, terminateMs, codes, framesBefore, stillRegistered,
                               mainFinished: finalStatus.finished, mainFrames: finalStatus.presented }));
}
