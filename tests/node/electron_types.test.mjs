// SPDX-License-Identifier: Apache-2.0
// `tsc --noEmit` over the Electron example (examples/electron/tsconfig.json)
// against the type definitions of the pinned electron package (types only:
// installed with ELECTRON_SKIP_BINARY_DOWNLOAD=1, no binary). Every file of
// the example opts in with // @ts-check.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const TIMEOUT_MS = 120_000;

test('the example type-checks against the pinned Electron types', () => {
  const tsc = require.resolve('typescript/bin/tsc');
  const electronTypes = require.resolve('electron/electron.d.ts');
  const pinned = JSON.parse(readFileSync('examples/electron/package.json', 'utf8')).devDependencies.electron;
  assert.equal(JSON.parse(readFileSync(require.resolve('electron/package.json'), 'utf8')).version, pinned,
    'the installed types are the version the example pins');
  assert.ok(existsSync(electronTypes));
  const began = Date.now();
  const listed = spawnSync(process.execPath, [tsc, '-p', 'examples/electron', '--listFilesOnly'], { encoding: 'utf8', timeout: TIMEOUT_MS });
  assert.ok(listed.stdout.includes('node_modules/electron/electron.d.ts'), 'the program includes Electron\'s definitions');
  for (const file of ['main.mjs', 'wiring.mjs', 'utility.mjs', 'preload-a.cjs', 'ui-a.js', 'page-b.mjs']) {
    assert.match(readFileSync(`examples/electron/${file}`, 'utf8'), /^\/\/ SPDX[^\n]*\n\/\/ @ts-check\n/, `${file} opts in to checking`);
  }
  const checked = spawnSync(process.execPath, [tsc, '--noEmit', '-p', 'examples/electron'], { encoding: 'utf8', timeout: TIMEOUT_MS });
  const took = Date.now() - began;
  assert.ok(took < TIMEOUT_MS / 2, `tsc took ${took} ms of its ${TIMEOUT_MS} ms limit`);
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
});
