// SPDX-License-Identifier: Apache-2.0
// The `electron` module as main.mjs sees it under the fake's hooks: one
// recording fake (fake-electron.mjs) whose app is ready at once; every call
// is printed as one JSON line when the process exits. Main thread only.
import { fakeElectron } from './fake-electron.mjs';

const fake = fakeElectron();
fake.makeReady();
process.on('exit', () => {
  process.stdout.write(`${JSON.stringify(fake.calls.map(([what, ...args]) => [what, ...args.map((a) => (a === undefined ? null : a))]))}\n`);
});
export const { app, BrowserWindow, MessageChannelMain, utilityProcess, protocol } = fake.electron;
