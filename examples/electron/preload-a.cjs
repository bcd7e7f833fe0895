// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Variant A's preload (sandboxed, context-isolated, so CommonJS and only
// Electron's renderer modules): forwards the one MessagePort the main
// process sends on 'triptych-port' to the page, where ui-a.mjs takes it from
// a window 'message' event. Exposes nothing else. Renderer, once per load.
const { ipcRenderer } = require('electron');

ipcRenderer.once('triptych-port', (event) => {
  window.postMessage({ type: 'triptych-port' }, '*', event.ports);
});
