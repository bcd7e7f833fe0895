// SPDX-License-Identifier: Apache-2.0
// A recording stand-in for the parts of the `electron` module the example's
// main process uses (app, BrowserWindow, MessageChannelMain,
// utilityProcess, protocol). Each call lands in `calls` as [what, ...args];
// tests fire the recorded event handlers themselves. Main thread only.
import { EventEmitter } from 'node:events';

export function fakeElectron() {
  const calls = [];
  const record = (...entry) => { calls.push(entry); };
  let readyResolve;
  const ready = new Promise((r) => { readyResolve = r; });
  const app = Object.assign(new EventEmitter(), {
    whenReady: () => { record('app.whenReady'); return ready; },
    quit: () => record('app.quit'),
    exit: (code) => record('app.exit', code),
  });
  const windows = [];
  class BrowserWindow extends EventEmitter {
    constructor(options) {
      super();
      record('new BrowserWindow', options);
      this.options = options;
      this.webContents = Object.assign(new EventEmitter(), {
        postMessage: (channel, message, ports) => record('webContents.postMessage', channel, message, ports),
      });
      windows.push(this);
    }
    loadFile(path) { record('window.loadFile', path); this.webContents.emit('did-finish-load'); return Promise.resolve(); }
    loadURL(url) { record('window.loadURL', url); this.webContents.emit('did-finish-load'); return Promise.resolve(); }
  }
  let channels = 0;
  class MessageChannelMain {
    constructor() {
      channels++;
      this.port1 = { channel: channels, end: 1 };
      this.port2 = { channel: channels, end: 2 };
      record('new MessageChannelMain', this.port1, this.port2);
    }
  }
  const utilities = [];
  const utilityProcess = {
    fork(modulePath, args, options) {
      record('utilityProcess.fork', modulePath, args, options);
      const child = Object.assign(new EventEmitter(), {
        postMessage: (message, ports) => record('utility.postMessage', message, ports),
      });
      utilities.push(child);
      return child;
    },
  };
  const handlers = new Map();
  const protocol = {
    registerSchemesAsPrivileged: (schemes) => record('protocol.registerSchemesAsPrivileged', schemes),
    handle: (scheme, handler) => { record('protocol.handle', scheme); handlers.set(scheme, handler); },
  };
  return { electron: { app, BrowserWindow, MessageChannelMain, utilityProcess, protocol }, calls, windows, utilities,
           handlers, makeReady: () => readyResolve() };
}
