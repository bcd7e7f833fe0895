// SPDX-License-Identifier: Apache-2.0
// A stand-in for the addon's compute-member calls (computeJoin, computeTake,
// computeComplete, computeLeave, threadInfo), for running
// node/lib/compute-worker.mjs as a Web Worker in plain Chromium, where no
// native addon can load (electron_page.test.mjs). It is the only difference
// from variant B's renderer, where the worker loads triptych.node through
// nodeIntegrationInWorker. Chunks come through workerData.stub, an Int32Array
// over a SharedArrayBuffer the page writes: [state, begin, end, frame, ctx,
// rc, leaves], state 0 idle, 1 posted, 2 taken, 3 completed, -1 finished.
// Called from the worker's thread only.
const STATE = 0, BEGIN = 1, END = 2, FRAME = 3, CTX = 4, RC = 5, LEAVES = 6;
export const POSTED = 1, TAKEN = 2, COMPLETED = 3, FINISHED = -1;

export function createAddon(workerData) {
  const words = new Int32Array(workerData.stub);
  return {
    computeJoin: (engineId) => ({ slot: 0, cpu: -1, engineId }),
    threadInfo: () => ({ tid: 0, cpus: [] }),
    // As the addon's: 1 with [begin, end, frame, ctx] in `job`, 0 on timeout,
    // -1 once the engine finished.
    computeTake(timeoutMs, job) {
      const seen = Atomics.load(words, STATE);
      if (seen !== POSTED && seen !== FINISHED) Atomics.wait(words, STATE, seen, timeoutMs);
      const state = Atomics.load(words, STATE);
      if (state === FINISHED) return -1;
      if (state !== POSTED) return 0;
      job[0] = words[BEGIN]; job[1] = words[END]; job[2] = words[FRAME]; job[3] = words[CTX];
      Atomics.store(words, STATE, TAKEN);
      return 1;
    },
    computeComplete(rc) {
      Atomics.store(words, RC, rc);
      Atomics.store(words, STATE, COMPLETED);
      Atomics.notify(words, STATE);
    },
    computeLeave() { Atomics.add(words, LEAVES, 1); },
  };
}
