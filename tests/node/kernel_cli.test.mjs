// SPDX-License-Identifier: Apache-2.0
// A kernel author's path, in a temporary folder outside the checkout:
// `triptych kernel new` -> `triptych kernel build` -> `triptych run --kernel`
// presents every frame and fails none; the same project built through the
// installed CMake package (find_package(triptych)) gives the same bytes and
// runs too. Plus the errors an author meets: bad usage (exit 2), a compile
// error, a kernel that allocates, a missing toolchain (exit 1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const checkout = resolve('.');
const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = join(checkout, 'node/bin/triptych.mjs');
const toolchain = JSON.parse(readFileSync(join(checkout, 'kernels/sdk/wasm-toolchain.json'), 'utf8'));

// A fresh folder outside the checkout (the system temporary folder).
function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'triptych-kernel-test-'));
  assert.ok(!dir.startsWith(checkout), `${dir} is outside the checkout`);
  return dir;
}

function sh(cwd, program, args, env = {}) {
  const started = Date.now();
  const r = spawnSync(program, args, { cwd, encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir, ...env }, timeout: 240000 });
  return { code: r.status, out: r.stdout, err: r.stderr, seconds: (Date.now() - started) / 1000 };
}
const triptych = (cwd, ...args) => sh(cwd, process.execPath, [cli, ...args]);

// Runs a kernel for 30 frames on the CPU renderer and checks the accounting.
function runsCleanly(cwd, wasm) {
  const r = triptych(cwd, 'run', '--kernel', wasm, '--frames', '30', '--renderer', 'cpu', '--quiet', '--stats', 'stats.json');
  assert.equal(r.code, 0, `run exits 0: ${r.err}`);
  assert.match(r.out, /frames: issued 30, presented 30, late \d+, dropped 0, failed 0, lost to a render crash 0, in flight 0/);
  const frames = JSON.parse(readFileSync(join(cwd, 'stats.json'), 'utf8')).frames;
  assert.deepEqual([frames.issued, frames.complete, frames.failed, frames.dropped], [30, 30, 0, 0]);
}

test('kernel new -> kernel build -> run, outside the checkout: 30 frames presented, none failed', { skip }, () => {
  const dir = scratch();
  const made = triptych(dir, 'kernel', 'new', 'bouncer');
  assert.equal(made.code, 0, made.err);
  for (const f of ['bouncer.c', 'CMakeLists.txt', 'README.md']) assert.ok(existsSync(join(dir, 'bouncer', f)), f);
  const project = join(dir, 'bouncer');
  assert.match(readFileSync(join(project, 'CMakeLists.txt'), 'utf8'), /find_package\(triptych REQUIRED\)\ntriptych_add_wasm_kernel\(bouncer SOURCES bouncer\.c\)/);
  const b = triptych(project, 'kernel', 'build', 'bouncer.c');
  assert.equal(b.code, 0, b.err);
  assert.match(b.out, /wrote .*bouncer\.wasm/);
  runsCleanly(project, 'bouncer.wasm');
});

test('kernel build --verbose runs the SDK toolchain file\'s flags, -D included, and -o names the output', { skip }, () => {
  const dir = scratch();
  assert.equal(triptych(dir, 'kernel', 'new', 'k').code, 0);
  const r = triptych(join(dir, 'k'), 'kernel', 'build', 'k.c', '-o', 'out/../fast.wasm', '-DTP_GRAVITY=3.0f', '--verbose');
  assert.equal(r.code, 0, r.err);
  const [compile, link] = r.out.split('\n');
  for (const flag of [...toolchain.compileFlags, '-DTP_GRAVITY=3.0f']) assert.ok(compile.split(' ').includes(flag), `compile line has ${flag}`);
  for (const flag of [...toolchain.linkFlags, `--max-memory=${toolchain.maxMemoryBytes}`, `stack-size=${toolchain.stackBytes}`]) {
    assert.ok(link.split(' ').includes(flag), `link line has ${flag}`);
  }
  assert.match(link, /libc\.a -o \S*fast\.wasm$/);
  assert.ok(existsSync(join(dir, 'k', 'fast.wasm')));
});

test('the installed CMake package builds the scaffold outside the checkout: same bytes as kernel build, and it runs', { skip }, () => {
  const dir = scratch();
  const prefix = join(dir, 'prefix');
  const installed = sh(checkout, 'cmake', ['--install', buildDir, '--prefix', prefix, '--component', 'sdk']);
  assert.equal(installed.code, 0, installed.err);
  assert.ok(existsSync(join(prefix, 'include/triptych-kernel/triptych_kernel.h')));
  assert.ok(existsSync(join(prefix, 'share/cmake/triptych/triptych-config.cmake')));
  assert.equal(triptych(dir, 'kernel', 'new', 'bouncer').code, 0);
  const project = join(dir, 'bouncer');
  const configured = sh(project, 'cmake', ['-S', '.', '-B', 'build', '-G', 'Ninja', `-DCMAKE_PREFIX_PATH=${prefix}`]);
  assert.equal(configured.code, 0, configured.err);
  const compiled = sh(project, 'cmake', ['--build', 'build']);
  assert.equal(compiled.code, 0, compiled.out + compiled.err);
  const viaCmake = join(project, 'build/bouncer.wasm');
  assert.ok(existsSync(viaCmake), 'the kernel lands in the build folder of the CMakeLists that declares it');
  assert.equal(triptych(project, 'kernel', 'build', 'bouncer.c').code, 0);
  assert.ok(readFileSync(viaCmake).equals(readFileSync(join(project, 'bouncer.wasm'))), 'CMake and the CLI build the same bytes');
  runsCleanly(project, viaCmake);
});

test('kernel: bad usage exits 2 with the reason', { skip }, () => {
  const dir = scratch();
  const cases = [
    [['kernel'], /which one: build or new/],
    [['kernel', 'paint'], /unknown subcommand 'paint'/],
    [['kernel', 'new'], /give exactly one NAME/],
    [['kernel', 'new', 'my-kernel'], /NAME must be a letter or _/],
    [['kernel', 'new', 'k', '--lang', 'rust'], /--lang must be c/],
    [['kernel', 'build'], /no source file/],
    [['kernel', 'build', 'k.txt'], /expected a C or C\+\+ source/],
    [['kernel', 'build', 'k.c', '-D', '1X'], /-D expects NAME or NAME=VALUE/],
    [['kernel', 'build', 'k.c', '--fast'], /Unknown option '--fast'/],
  ];
  for (const [args, message] of cases) {
    const r = triptych(dir, ...args);
    assert.equal(r.code, 2, `${args.join(' ')} exits 2`);
    assert.match(r.err, message, args.join(' '));
  }
  assert.equal(triptych(dir, 'kernel', '--help').code, 0);
});

test('kernel: build and scaffold failures exit 1 with the reason and leave nothing half-made', { skip }, () => {
  const dir = scratch();
  assert.equal(triptych(dir, 'kernel', 'new', 'k').code, 0);
  const again = triptych(dir, 'kernel', 'new', 'k');
  assert.equal(again.code, 1);
  assert.match(again.err, /already exists; nothing written \[ERR_TRIPTYCH_KERNEL_EXISTS\]/);

  const missing = triptych(dir, 'kernel', 'build', 'absent.c');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /cannot read absent\.c/);

  writeFileSync(join(dir, 'broken.c'), '#include "triptych_kernel.h"\nint32_t tp_kernel_init(const tp_kernel_ctx* ctx) { return ctx->no_such_field; }\n');
  const broken = triptych(dir, 'kernel', 'build', 'broken.c');
  assert.equal(broken.code, 1);
  assert.match(broken.err, /no member named 'no_such_field'/, 'the compiler\'s own diagnostic reaches the author');
  assert.match(broken.err, /compiling broken\.c failed .*\[ERR_TRIPTYCH_KERNEL_BUILD\]/);
  assert.ok(!existsSync(join(dir, 'broken.wasm')));

  writeFileSync(join(dir, 'heap.c'), '#include <stdlib.h>\n#include "triptych_kernel.h"\n' +
    'TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) { return malloc(ctx->item_count) == 0; }\n');
  const heap = triptych(dir, 'kernel', 'build', 'heap.c');
  assert.equal(heap.code, 1);
  assert.match(heap.err, /'malloc' is unavailable: a triptych kernel has no heap/);

  const noTools = sh(dir, process.execPath, [cli, 'kernel', 'build', join(dir, 'k', 'k.c')], { PATH: '/nonexistent' });
  assert.equal(noTools.code, 1);
  assert.match(noTools.err, /a wasm32 C compiler not found \(looked for clang-14, clang\); install the Debian packages clang-14 lld-14 wasi-libc/);
});
