// SPDX-License-Identifier: Apache-2.0
// A benchmark's scene from its command line, through the one run options
// table (the addon's, as `triptych run` reads it): run flags are checked and
// typed there; the benchmark's own flags (rounds, ...) are declared by it.
// Loads the API from TRIPTYCH_BUILD_DIR (default build/release).
//   const { lib, scene, own } = await benchScene({ particles: '20000', seconds: '5' }, { rounds: '3' });
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

// `sceneDefaults`: run flags and their default text; `ownDefaults`: the
// benchmark's own flags. Returns the API, the scene for createEngine() (only
// the flags named in sceneDefaults, typed), and the own flags as text.
export async function benchScene(sceneDefaults, ownDefaults = {}) {
  const options = {};
  for (const [flag, value] of Object.entries({ ...sceneDefaults, ...ownDefaults })) {
    options[flag] = { type: 'string', default: value };
  }
  const { values } = parseArgs({ options });
  process.env.TRIPTYCH_BUILD_DIR = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/release');
  const lib = await import('../../node/lib/index.mjs');
  const runFlags = Object.fromEntries(Object.keys(sceneDefaults).map((flag) => [flag, values[flag]]));
  const typed = lib.loadAddon().addon.normaliseRunOptions(runFlags, 'cli');
  const byFlag = new Map(lib.loadAddon().addon.runOptions().map((o) => [o.flag, o.key]));
  const scene = Object.fromEntries(Object.keys(sceneDefaults).map((flag) => [byFlag.get(flag), typed[byFlag.get(flag)]]));
  const own = Object.fromEntries(Object.keys(ownDefaults).map((flag) => [flag, values[flag]]));
  return { lib, scene, own };
}
