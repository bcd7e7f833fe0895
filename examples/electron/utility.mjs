// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Variant A's pipeline process (Electron utilityProcess: Node enabled, not
// sandboxed): the arena, the WASM worker_threads, the addon and the render
// stage all live here, in one process, because shared memory cannot cross
// Electron's processes. The main process sends {type: 'connect'} with one
// MessagePortMain (the window holds the other end) and later {type: 'stop'}.
// Over the port this posts {type: 'stats'} every STATS_MS and a small
// {type: 'thumbnail'} every THUMBNAIL_MS, and takes {type: 'stop'} from the
// UI too. On stop: the engine closes, the port closes, the main process gets
// {type: 'stopped'}, the process exits 0. Runs on the utility process's main
// thread; the engine's own threads and workers do the work. Design: README.md.
import { createEngine } from '../../node/lib/index.mjs';
import { newestResult, thumbnail } from './result-zone.mjs';

const STATS_MS = 250;
const THUMBNAIL_MS = 1000;
const THUMBNAIL_WIDTH = 96;
const EXIT_GRACE_MS = 100;
// What a bare `npm start` runs: an endless scene the UI watches.
const DEFAULT_ENGINE = { particles: 20000, hz: 60, frames: 0, width: 320, height: 240 };

// Serves one connection: `parentPort` is Electron's process.parentPort (or
// a test's stand-in with the same surface). Resolves when stopped.
export function serveUtility(parentPort, { exit = (code) => process.exit(code) } = {}) {
  return new Promise((resolveServed) => {
    let engine = null;
    let port = null;
    let timers = [];
    let stopping = null;

    const stop = (why) => {
      stopping ??= (async () => {
        for (const t of timers) clearInterval(t);
        let last = null;
        if (engine !== null) {
          engine.requestStop();
          last = await engine.wait();  // the final status: the run has finished
          await engine.close();
        }
        port?.postMessage({ type: 'stopped', why });
        port?.close();
        parentPort.postMessage({ type: 'stopped', why, finished: last === null || last.finished, last });
        resolveServed();
        // Posting only queues: give the last messages time to leave.
        setTimeout(() => exit(0), EXIT_GRACE_MS);
      })();
      return stopping;
    };

    const start = async (engineOptions, uiPort) => {
      port = uiPort;
      port.on('message', (event) => { if (event.data?.type === 'stop') stop('the window asked'); });
      port.start();
      try {
        engine = await createEngine({ ...DEFAULT_ENGINE, ...engineOptions, hostPresents: false });
      } catch (err) {
        port.postMessage({ type: 'error', message: err.message });
        parentPort.postMessage({ type: 'error', message: err.message });
        return;
      }
      engine.start();
      const memory = engine.engineMemory.buffer;
      const zones = engine.zoneMap.zones;
      port.postMessage({ type: 'started', renderer: engine.renderer });
      timers = [
        setInterval(() => {
          const s = engine.status();
          port.postMessage({ type: 'stats', fps: s.fps, p50Ms: s.p50Ms, p99Ms: s.p99Ms, presented: s.presented,
                             dropped: s.dropped, failed: s.failed, renderer: s.renderer, error: s.error });
          if (s.finished) stop('the run finished');
        }, STATS_MS),
        setInterval(() => {
          const result = newestResult(memory, zones);
          if (result === null) return;
          const small = thumbnail(result, THUMBNAIL_WIDTH);
          port.postMessage({ type: 'thumbnail', frame: Number(result.frame), ...small });
        }, THUMBNAIL_MS),
      ];
    };

    parentPort.on('message', (event) => {
      const message = event.data;
      if (message?.type === 'connect' && port === null && event.ports?.length === 1) {
        start(message.engineOptions ?? {}, event.ports[0]);
      } else if (message?.type === 'stop') {
        stop('the main process asked');
      }
    });
  });
}

// Under Electron, process.parentPort exists only in a utility process.
if (process.parentPort) serveUtility(process.parentPort);
