// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Variant A's page script: no Node, no Electron API. It waits for the port
// the preload forwards (a window 'message' of type 'triptych-port'), then
// shows what the pipeline process posts on it: stats as text, the low-rate
// thumbnail on a canvas. The stop button posts {type: 'stop'}. A classic
// script (a file: page's module scripts are cross-origin to it). Page's main
// thread only.
const show = (id, text) => { document.getElementById(id).textContent = text; };

// Shows one message from the pipeline.
function onPipelineMessage(message, canvas = /** @type {HTMLCanvasElement} */ (document.getElementById('thumbnail'))) {
  if (message.type === 'started') show('state', `running (${message.renderer})`);
  if (message.type === 'stats') {
    show('fps', String(message.fps));
    show('p50', `${message.p50Ms.toFixed(2)} ms`);
    show('p99', `${message.p99Ms.toFixed(2)} ms`);
    show('presented', String(message.presented));
    show('dropped', String(message.dropped));
    show('failed', String(message.failed));
    show('renderer', message.renderer);
    if (message.error) show('state', `error: ${message.error}`);
  }
  if (message.type === 'thumbnail') {
    canvas.width = message.width;
    canvas.height = message.height;
    canvas.getContext('2d').putImageData(new ImageData(message.pixels, message.width, message.height), 0, 0);
  }
  if (message.type === 'stopped') show('state', `stopped: ${message.why}`);
  if (message.type === 'error') show('state', `error: ${message.message}`);
}

window.addEventListener('message', (event) => {
  if (event.source !== window || event.data?.type !== 'triptych-port' || event.ports.length !== 1) return;
  const [port] = event.ports;
  port.onmessage = (e) => onPipelineMessage(e.data);
  document.getElementById('stop').onclick = () => port.postMessage({ type: 'stop' });
  show('state', 'connected');
});
