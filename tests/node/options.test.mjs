// SPDX-License-Identifier: Apache-2.0
// One table of run options for every host (docs/cli.md): the CLI's --help
// and createEngine() read the addon's table, unknown or ill-typed options are
// refused by name, and --seconds is wall-clock time at any frame rate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
process.env.TRIPTYCH_BUILD_DIR = buildDir;
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');
const nativeHost = join(buildDir, 'tools/triptych-run/triptych-run');
const lib = built ? await import('../../node/lib/index.mjs') : null;
const table = built ? lib.loadAddon().addon.runOptions() : [];

function run(file, args) {
  const r = spawnSync(file, args, { encoding: 'utf8', env: process.env, timeout: 60000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('both command lines generate --help from the table, with its defaults', { skip }, () => {
  const helps = { cli: run(process.execPath, [cli, 'run', '--help']), native: run(nativeHost, ['--help']) };
  for (const [host, help] of Object.entries(helps)) {
    assert.equal(help.code, 0, host);
    for (const o of table.filter((row) => !row.internal)) {
      const listed = new RegExp(`^  --${o.flag}(?![\\w-])`, 'm').test(help.out);
      assert.equal(listed, o.hosts.includes(host), `--${o.flag} in ${host} --help`);
      if (listed && o.default) assert.ok(help.out.includes(`[default: ${o.default}]`), `--${o.flag}'s default`);
    }
  }
  assert.match(helps.cli.out, /--particles N +particles \[default: 8000\]/);
});

test('createEngine() takes its defaults and checks from the same table', { skip }, async () => {
  const d = lib.defaults();
  for (const o of table.filter((row) => row.hosts.includes('api'))) {
    assert.deepEqual(o.plan ? d.plan[o.key] : d[o.key], o.internal ? undefined : o.defaultValue, o.key);
  }
  assert.equal(d.seconds, 10);
  assert.equal(d.frames, 0);
  const refused = [
    [{ particle: 100 }, /unknown option 'particle'/],
    [{ reservedCores: 1 }, /core plan options go under 'plan'/],
    [{ plan: { reserved: 1 } }, /unknown core plan option 'plan.reserved'/],
    [{ particles: '100' }, /particles must be an integer in \[1, 16777216\], got '100'/],
    [{ validation: 1 }, /validation must be true or false/],
    [{ hz: () => 60 }, /hz must be a number, text or a boolean, not a function/],
    [{ frames: 10, seconds: 2 }, /not both/],
    [{ compute: 'native', kernel: 'k.wasm' }, /drop the kernel/],
    [{ out: 'dir' }, /out is not an option of this host/],
  ];
  for (const [options, message] of refused) {
    await assert.rejects(lib.createEngine(options), (err) => {
      assert.ok(err instanceof lib.OptionError, `${JSON.stringify(options)}: ${err}`);
      assert.equal(err.code, 'ERR_TRIPTYCH_BAD_OPTION');
      assert.match(err.message, message);
      return true;
    });
  }
});

// --seconds S ends the run S wall-clock seconds after it starts, whether the
// machine keeps up (as fast as possible) or not (a 30k-particle CPU render
// at 1000 Hz). The limit is one frame past S at most: 0.3 s.
test('--seconds is wall-clock time at any rate', { skip }, async () => {
  for (const scene of [{ hz: 0, particles: 2000 }, { hz: 1000, particles: 30000 }]) {
    const engine = await lib.createEngine({ ...scene, seconds: 2, renderer: 'cpu', width: 320, height: 240 });
    const t0 = performance.now();
    const s = await engine.run();
    const took = (performance.now() - t0) / 1000;
    await engine.close();
    assert.ok(took > 1.95 && took < 2.3, `${JSON.stringify(scene)}: took ${took.toFixed(3)} s`);
    assert.ok(s.presented > 0);
    assert.equal(s.issued, s.presented + s.dropped + s.failed);
  }
});

test('node/index.d.ts declares every option the table gives the JS API', { skip }, async () => {
  const { readFileSync } = await import('node:fs');
  const declared = readFileSync(resolve('node/index.d.ts'), 'utf8');
  for (const o of table.filter((row) => row.hosts.includes('api') && !row.internal)) {
    assert.match(declared, new RegExp(`\\b${o.key}\\?:`), `${o.key} is not in index.d.ts`);
  }
});
