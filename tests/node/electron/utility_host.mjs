// SPDX-License-Identifier: Apache-2.0
// Child of electron_utility.test.mjs: plays Electron's part for variant A's
// utility entry (examples/electron/utility.mjs) under plain Node. It sets
// process.parentPort to a stand-in with Electron's surface (on('message')
// with {data, ports}, postMessage), imports the entry as Electron would run
// it, connects a port shaped like a MessagePortMain, and plays the window on
// the other end: it collects stats and a thumbnail, then asks the main
// process's way for a stop. Prints one JSON line per event; the utility
// exits the process itself. Main thread only.
import { EventEmitter } from 'node:events';
import { MessageChannel } from 'node:worker_threads';

const print = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

// Electron's MessagePortMain delivers {data, ports}; Node's port the data.
function portMain(port) {
  const emitter = new EventEmitter();
  port.on('message', (data) => emitter.emit('message', { data, ports: [] }));
  return {
    on: (type, fn) => { emitter.on(type, fn); },
    start: () => port.start(),
    postMessage: (data) => port.postMessage(data),
    close: () => port.close(),
  };
}

const parentPort = new EventEmitter();
parentPort.postMessage = (message) => print({ from: 'utility', ...message });
process.parentPort = parentPort;
await import('../../../examples/electron/utility.mjs');

const { port1, port2 } = new MessageChannel();
let stats = 0;
let thumbnails = 0;
let stopAsked = false;
port2.on('message', (m) => {
  print({ from: 'port', ...m, pixels: m.pixels ? { length: m.pixels.length, nonZero: m.pixels.some((b) => b !== 0) } : undefined });
  if (m.type === 'stats' && m.presented > 0) stats++;
  if (m.type === 'thumbnail') thumbnails++;
  if (!stopAsked && stats >= 2 && thumbnails >= 1) {
    stopAsked = true;
    print({ from: 'host', stopAt: Date.now() });
    parentPort.emit('message', { data: { type: 'stop' }, ports: [] });
  }
});
const engineOptions = JSON.parse(process.env.TRIPTYCH_TEST_ENGINE ?? '{}');
parentPort.emit('message', { data: { type: 'connect', engineOptions }, ports: [portMain(port1)] });
