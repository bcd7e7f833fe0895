// SPDX-License-Identifier: Apache-2.0
// The copy-based baseline (`triptych run --baseline copy`): the same scene and
// kernel, moved the way a typical Electron app does it. Each frame the main
// thread posts every worker its chunk of the previous frame (structured
// clone), the workers post their results back (clone), the main thread copies
// them into one staging buffer, the engine copies that into the compute slot
// and uploads it to the GPU through a staging buffer, reads the image back
// through a staging buffer, and the main thread copies the pixels out. Same
// pacing (the addon's FramePacer, the native frame loop's own rule), stamps and
// report as the zero-copy engine. Main thread only.
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { loadAddon, loadKernel, normaliseOptions, tableOptions, defaultKernelPath } from './index.mjs';
import { wrap } from './errors.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));

export class CopyBaseline {
  #native; #workers = []; #opts; #addon; #stop = false; #running = false; #frames; #startNs = 0n;

  constructor(native, workers, opts, addon) {
    this.#native = native; this.#workers = workers; this.#opts = opts; this.#addon = addon;
    this.#frames = opts.frames;
  }

  get renderer() { return this.#native.renderer; }
  get workerCount() { return this.#workers.length; }
  get replacements() { return 0; }
  get failures() { return []; }
  requestStop() { this.#stop = true; }
  status() { return { ...this.#native.status(), replacements: 0 }; }
  summaryTable() { return this.#native.summaryTable(); }
  writeOutputs(paths, runConfig = {}) {
    try { this.#native.writeOutputs(paths, runConfig); } catch (err) { throw wrap(err); }
  }

  async run({ onStatus, intervalMs = 500 } = {}) {
    const o = this.#opts;
    const now = () => this.#addon.nowNs();
    this.#native.start();
    this.#running = true;
    const n = o.particles;
    const W = this.#workers.length;
    const per = Math.ceil(n / W);
    let prev = new Uint8Array(32 * n);
    const pixels = new Uint8Array(o.width * o.height * 4);
    const periodNs = o.hz > 0 ? BigInt(Math.round(1e9 / o.hz)) : 0n;
    const dt = Math.fround(o.hz > 0 ? 1 / o.hz : 1 / 120);
    const pacer = new this.#addon.FramePacer(periodNs);  // the native frame loop's pacing rule
    // A run of `seconds` ends on the wall clock, as the engine's frame loop does.
    const endNs = o.frames === 0 && o.seconds > 0 ? now() + BigInt(Math.round(o.seconds * 1e9)) : 0n;
    let lastStatus = 0;
    for (let i = 0; (o.frames === 0 || i < o.frames) && !this.#stop && (endNs === 0n || now() < endNs); i++) {
      if (pacer.paced) {
        const deadline = pacer.deadlineNs;
        const wait = Number(deadline - now()) / 1e6;
        if (wait > 0) await sleep(Math.max(0, wait - 1));
        while (now() < deadline) await tick();
        pacer.startFrame();
      }
      const queued = now();
      const replies = this.#workers.map((w, k) => {
        const begin = k * per;
        const count = Math.max(0, Math.min(n, begin + per) - begin);
        return new Promise((res) => {
          w.once('message', res);
          w.postMessage({
            frame: i + 1, first: i === 0, dt, time: Math.fround(i * dt), seed: o.seed, begin, count,
            input: i === 0 ? null : prev.subarray(32 * begin, 32 * (begin + count)),   // clone
          });
        }).then((m) => ({ ...m, begin }));
      });
      const results = await Promise.all(replies);
      const computeEnd = now();
      const staging = new Uint8Array(32 * n);
      for (const r of results) {
        if (r.rc !== 0) throw new Error(`kernel returned ${r.rc}`);
        staging.set(r.output, 32 * r.begin);                                          // copy
      }
      const frame = this.#native.hostFrame(staging, queued, queued, computeEnd);      // copy into the arena
      for (;;) {                                                                      // UI waits for pixels
        const got = this.#native.copyResult(pixels);                                  // copy out
        if (got === frame) break;
        if (this.#native.status().error) break;
        await tick();
      }
      prev = staging;
      if (onStatus && Date.now() - lastStatus >= intervalMs) { lastStatus = Date.now(); onStatus(this.status()); }
    }
    this.#native.requestStop();
    while (!this.#native.status().finished) await sleep(5);
    this.#native.stop();
    this.#running = false;
    return this.status();
  }

  async close() {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#native.close();
  }
}

export async function createCopyBaseline(options = {}) {
  const opts = normaliseOptions(options);
  const { addon, path: addonPath } = loadAddon();
  const kernel = await loadKernel(opts.kernel ?? defaultKernelPath());
  let native;
  let plan;
  try {
    // The host copies each frame in: the engine has no frame loop of its own.
    const prepared = addon.prepareEngine({ ...tableOptions(opts), compute: 'copy-in', staging: true, hostPresents: true, frames: 0 });
    native = new addon.Engine(prepared.setup);
    plan = JSON.parse(prepared.plan);
  } catch (err) {
    throw wrap(err);
  }
  const count = opts.workers || plan.compute.threads.length;
  const workers = [];
  for (let k = 0; k < count; k++) {
    const w = new Worker(join(here, 'baseline-worker.mjs'), {
      workerData: { addonPath, module: kernel.module, cpu: plan.compute.threads[k % plan.compute.threads.length], particles: opts.particles },
    });
    await new Promise((res, rej) => { w.once('message', res); w.once('error', rej); });
    workers.push(w);
  }
  return new CopyBaseline(native, workers, opts, addon);
}
