// SPDX-License-Identifier: Apache-2.0
// @ts-check
// Electron main process entry: `electron . --variant=a` (the default: the
// pipeline in a utilityProcess, a sandboxed window shows its stats) or
// `--variant=b` (the engine inside the renderer). All wiring lives in
// wiring.mjs, which takes the electron module as an argument so that
// tests/node/electron_main.test.mjs can hand it a recording fake. Main
// process only. Design: README.md.
import * as electron from 'electron';

import { variantFromArgs, startVariantA, startVariantB, registerVariantBScheme } from './wiring.mjs';

const variant = variantFromArgs(process.argv);
// A privileged scheme must be registered before the app is ready.
if (variant === 'b') registerVariantBScheme(electron);
const started = variant === 'b' ? startVariantB(electron) : startVariantA(electron);
started.catch((err) => {
  console.error(`triptych example (variant ${variant}): ${err.stack ?? err}`);
  electron.app.exit(1);
});
