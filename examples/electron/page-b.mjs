// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Variant B's page script. The engine runs in this renderer: Node's loader
// (require, from nodeIntegration) loads node/lib, whose `node:` imports
// Chromium's module loader could not resolve; its compute workers are Web
// Workers (portable-worker.mjs), served from this page's origin. Each
// animation frame draws the newest result zone straight from the engine's
// shared memory (result-canvas.mjs) and shows the status. The page is
// cross-origin isolated (the triptych:// handler's COOP/COEP), which shared
// WebAssembly.Memory needs. Page's main thread only.
import { newestResult } from './result-zone.mjs';
import { resultCanvas } from './result-canvas.mjs';

// Shows `engine` ({engineMemory, zoneMap, status()}) on `canvas` until
// stopped. Resolves with the drawer once the first frame is drawn.
export function showEngine(engine, canvas, statusElement) {
  const drawer = resultCanvas(canvas);
  const memory = engine.engineMemory.buffer;
  const zones = engine.zoneMap.zones;
  let shown = -1n;
  return new Promise((firstDrawn) => {
    const tick = () => {
      const result = newestResult(memory, zones);
      if (result !== null && result.frame !== shown) {
        drawer.draw(result);
        if (shown === -1n) firstDrawn(drawer);
        shown = result.frame;
      }
      const s = engine.status();
      statusElement.textContent = `${s.fps} fps · p50 ${s.p50Ms.toFixed(2)} ms · p99 ${s.p99Ms.toFixed(2)} ms · ` +
        `presented ${s.presented} · dropped ${s.dropped} · failed ${s.failed} · ${drawer.path} · ` +
        `crossOriginIsolated ${globalThis.crossOriginIsolated}`;
      if (!s.finished) requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  });
}

// In Electron (variant B) `require` is Node's; in a plain browser (the
// tests) it is absent and the test drives showEngine itself.
if (typeof globalThis.require === 'function') {
  const root = new URL(window.location.href).searchParams.get('root');  // the repository, a file: URL
  const nodeRequire = globalThis.require;
  const { fileURLToPath } = nodeRequire('node:url');
  const lib = nodeRequire(fileURLToPath(`${root}/node/lib/index.mjs`));
  // The compute workers' module is served from this origin, not file:.
  nodeRequire(fileURLToPath(`${root}/node/lib/portable-worker.mjs`)).serveWorkersFrom(`${root}/`, `${window.location.origin}/`);
  const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('view'));
  const engine = await lib.createEngine({ particles: 20000, hz: 60, frames: 0, width: canvas.width, height: canvas.height });
  engine.start();
  window.addEventListener('beforeunload', () => { engine.requestStop(); });
  showEngine(engine, canvas, document.getElementById('status'));
}
