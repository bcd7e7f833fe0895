// SPDX-License-Identifier: Apache-2.0
// `node --import` this to run examples/electron/main.mjs against the
// recording fake `electron` (fake-electron-hooks.mjs). Main thread, once.
import { register } from 'node:module';

register('./fake-electron-hooks.mjs', import.meta.url);
