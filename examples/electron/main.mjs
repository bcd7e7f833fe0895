// SPDX-License-Identifier: Apache-2.0
// Electron main process: one window whose renderer has Node integration, so
// the triptych addon loads in-process there (Node-API only, no external
// buffers: it works inside Electron's V8 memory cage). Untested here: Electron
// cannot be fetched on the project's machines (docs/node.md, "Electron").
import { app, BrowserWindow } from 'electron';
import { fileURLToPath } from 'node:url';

app.whenReady().then(() => {
  const win = new BrowserWindow({
    width: 720,
    height: 600,
    webPreferences: { nodeIntegration: true, contextIsolation: false, sandbox: false },
  });
  win.loadFile(fileURLToPath(new URL('index.html', import.meta.url)));
});
app.on('window-all-closed', () => app.quit());
