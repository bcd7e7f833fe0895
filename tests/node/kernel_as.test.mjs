// SPDX-License-Identifier: Apache-2.0
// AssemblyScript kernels and wasm-opt, as an author meets them:
// `triptych kernel new --lang as` -> `kernel build` -> `run`, in a temporary
// folder outside the checkout, presents every frame and fails none; the
// AssemblyScript particle kernel (kernels/particles.ts) computes the C
// kernel's frames bit for bit; wasm-opt on and off load and give the same
// particles in both languages; a malformed AssemblyScript kernel is refused
// with the error code a C kernel with the same fault gets; allocation is a
// build error; bad usage exits 2.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

import { kernelRunner } from '../../bench/node/kernel_lang_frames.mjs';

const checkout = resolve('.');
const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = join(checkout, 'node/bin/triptych.mjs');

function scratch() {
  const dir = mkdtempSync(join(tmpdir(), 'triptych-as-test-'));
  assert.ok(!dir.startsWith(checkout), `${dir} is outside the checkout`);
  return dir;
}

function sh(cwd, program, args) {
  const r = spawnSync(program, args, { cwd, encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, timeout: 240000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}
const triptych = (cwd, ...args) => sh(cwd, process.execPath, [cli, ...args]);

function build(cwd, ...args) {
  const r = triptych(cwd, 'kernel', 'build', ...args);
  assert.equal(r.code, 0, `kernel build ${args.join(' ')}: ${r.err}`);
}

// The final frame of `frames` frames of a kernel on one thread (no engine),
// chunks of 257 so every chunk has a 4-wide part and a tail.
function lastFrame(wasm, frames = 40, particles = 1003) {
  const runner = kernelRunner(new WebAssembly.Module(readFileSync(wasm)), { particles, chunk: 257 });
  for (let f = 0; f < frames; f++) runner.step();
  return runner.output();
}

// How many of two frames' 32-byte particles differ.
function particlesDiffering(frameA, frameB) {
  const a = Buffer.from(frameA);
  const b = Buffer.from(frameB);
  assert.equal(a.length, b.length);
  let differing = 0;
  for (let at = 0; at < a.length; at += 32) {
    if (!a.subarray(at, at + 32).equals(b.subarray(at, at + 32))) differing++;
  }
  return differing;
}

test('kernel new --lang as -> kernel build -> run, outside the checkout: 30 frames presented, none failed', { skip }, () => {
  const dir = scratch();
  const made = triptych(dir, 'kernel', 'new', 'faller', '--lang', 'as');
  assert.equal(made.code, 0, made.err);
  assert.match(made.out, /wrote .*faller: faller\.ts, README\.md\n/);
  const project = join(dir, 'faller');
  assert.match(readFileSync(join(project, 'faller.ts'), 'utf8'), /from "triptych-kernel"/);
  assert.ok(!existsSync(join(project, 'CMakeLists.txt')), 'an AssemblyScript project has no CMakeLists.txt');
  build(project, 'faller.ts');
  const r = triptych(project, 'run', '--kernel', 'faller.wasm', '--frames', '30', '--renderer', 'cpu', '--quiet', '--stats', 'stats.json');
  assert.equal(r.code, 0, `run exits 0: ${r.err}`);
  assert.match(r.out, /frames: issued 30, presented 30, late \d+, dropped 0, failed 0, lost to a render crash 0, in flight 0/);
  const frames = JSON.parse(readFileSync(join(project, 'stats.json'), 'utf8')).frames;
  assert.deepEqual([frames.issued, frames.complete, frames.failed, frames.dropped], [30, 30, 0, 0]);
});

test('the AssemblyScript particle kernel computes the C particle kernel\'s frames bit for bit', () => {
  const dir = scratch();
  build(dir, join(checkout, 'kernels/particles.c'), '-o', 'c.wasm');
  build(dir, join(checkout, 'kernels/particles.ts'), '-o', 'as.wasm');
  const c = lastFrame(join(dir, 'c.wasm'));
  const as = lastFrame(join(dir, 'as.wasm'));
  assert.ok(c.some((byte) => byte !== 0), 'the frame holds particles');
  assert.equal(particlesDiffering(c, as), 0, 'particles that differ after 40 frames');
});

test('wasm-opt on and off: both load, and give the same particles, in both languages', async () => {
  const dir = scratch();
  const sources = { c: join(checkout, 'kernels/particles.c'), as: join(checkout, 'kernels/particles.ts') };
  const { loadKernel } = built ? await import('../../node/lib/index.mjs') : {};
  for (const [lang, source] of Object.entries(sources)) {
    build(dir, source, '--no-opt', '-o', `${lang}.wasm`);
    build(dir, source, '--opt', '-o', `${lang}_opt.wasm`);
    const plain = readFileSync(join(dir, `${lang}.wasm`));
    const optimised = readFileSync(join(dir, `${lang}_opt.wasm`));
    assert.ok(!plain.equals(optimised), `${lang}: wasm-opt changed the module`);
    if (loadKernel) {
      for (const file of [`${lang}.wasm`, `${lang}_opt.wasm`]) await loadKernel(join(dir, file));
    }
    assert.equal(particlesDiffering(lastFrame(join(dir, `${lang}.wasm`)), lastFrame(join(dir, `${lang}_opt.wasm`))), 0,
      `${lang}: particles that differ with and without wasm-opt`);
  }
});

test('a malformed AssemblyScript kernel is refused with the error code of a C kernel with the same fault', { skip }, async () => {
  const { loadKernel } = await import('../../node/lib/index.mjs');
  const codeOf = async (path) => {
    try {
      await loadKernel(path);
    } catch (err) {
      return err.code;
    }
    return 'loaded';
  };
  const dir = scratch();
  const template = () => {
    assert.equal(triptych(dir, 'kernel', 'new', 'base', '--lang', 'as').code, 0);
    return readFileSync(join(dir, 'base', 'base.ts'), 'utf8');
  };
  const source = template();
  // Wrong ABI version: C's is faulty_abi (reports 7).
  writeFileSync(join(dir, 'abi7.ts'), source.replace('return TP_KERNEL_ABI_VERSION;', 'return 7;'));
  build(dir, 'abi7.ts');
  const c = (name) => join(buildDir, 'kernels', `${name}.wasm`);
  assert.equal(await codeOf(c('faulty_abi')), 'ERR_TRIPTYCH_KERNEL_ABI');
  assert.equal(await codeOf(join(dir, 'abi7.wasm')), await codeOf(c('faulty_abi')));
  // No tp_kernel_step: C's is faulty_no_step.
  writeFileSync(join(dir, 'nostep.ts'), source.replace('export function tp_kernel_step', 'function tp_kernel_step'));
  build(dir, 'nostep.ts');
  assert.equal(await codeOf(c('faulty_no_step')), 'ERR_TRIPTYCH_KERNEL_EXPORTS');
  assert.equal(await codeOf(join(dir, 'nostep.wasm')), await codeOf(c('faulty_no_step')));
  // Built by plain asc: without the SDK's runtime the exports wasm-ld gives
  // a C kernel are missing; with it but without `--use abort=`, an assert
  // makes AssemblyScript's abort an import.
  const asc = join(createRequire(import.meta.url).resolve('assemblyscript/package.json'), '../bin/asc.js');
  const sdk = join(checkout, 'kernels/sdk/assemblyscript');
  writeFileSync(join(dir, 'asserts.ts'), source.replace('const dt = ctx.dt;', 'const dt = ctx.dt;\n  assert(begin <= end);'));
  const plain = (file, out, ...flags) => {
    const r = sh(dir, process.execPath, [asc, join(dir, file), '--path', sdk, '--importMemory', '--sharedMemory',
      '--maximumMemory', '32768', '--enable', 'simd,threads', '-O3', '-o', out, ...flags]);
    assert.equal(r.code, 0, r.err);
    return join(dir, out);
  };
  assert.equal(await codeOf(plain('asserts.ts', 'exports.wasm', '--runtime', 'stub', '--use', 'abort=')), await codeOf(c('faulty_no_step')));
  assert.equal(await codeOf(plain('asserts.ts', 'imports.wasm', '--runtime', join(sdk, 'runtime'))), 'ERR_TRIPTYCH_KERNEL_IMPORTS');
  assert.equal(await codeOf(join(dir, 'base', 'base.ts').replace(/\.ts$/, '.wasm')), 'ERR_TRIPTYCH_KERNEL_NOT_FOUND');
  build(join(dir, 'base'), 'base.ts');
  assert.equal(await codeOf(join(dir, 'base', 'base.wasm')), 'loaded', 'the unmodified template loads');
});

test('an AssemblyScript kernel that allocates fails to build, with the reason', () => {
  const dir = scratch();
  assert.equal(triptych(dir, 'kernel', 'new', 'k', '--lang', 'as').code, 0);
  const source = readFileSync(join(dir, 'k', 'k.ts'), 'utf8');
  writeFileSync(join(dir, 'heap.ts'), source.replace('const dt = ctx.dt;', 'const dt = ctx.dt + <f32>new Array<f32>(4).length;'));
  const r = triptych(dir, 'kernel', 'build', 'heap.ts');
  assert.equal(r.code, 1);
  assert.match(r.err, /a triptych kernel has no heap/);
  assert.match(r.err, /compiling heap\.ts failed .*\[ERR_TRIPTYCH_KERNEL_BUILD\]/);
  assert.ok(!existsSync(join(dir, 'heap.wasm')));
});

test('kernel build --verbose for .ts runs asc with the toolchain file\'s flags, then wasm-opt with --opt', () => {
  const dir = scratch();
  const toolchain = JSON.parse(readFileSync(join(checkout, 'kernels/sdk/wasm-toolchain.json'), 'utf8'));
  assert.equal(triptych(dir, 'kernel', 'new', 'k', '--lang', 'as').code, 0);
  const r = triptych(join(dir, 'k'), 'kernel', 'build', 'k.ts', '--opt', '--verbose');
  assert.equal(r.code, 0, r.err);
  const [compile, optimise] = r.out.split('\n');
  const words = compile.split(' ');
  for (const flag of [...toolchain.assemblyscript.flags, '--maximumMemory', String(toolchain.maxMemoryBytes / 65536)]) {
    assert.ok(words.includes(flag), `asc line has ${flag}`);
  }
  assert.match(compile, /asc\.js \S*k\.ts /);
  assert.match(compile, /--runtime \S*kernels\/sdk\/assemblyscript\/runtime /);
  assert.ok(optimise.split(' ').slice(2, 2 + toolchain.wasmOpt.flags.length).join(' ') === toolchain.wasmOpt.flags.join(' '), optimise);
  assert.match(optimise, /wasm-opt .* -o \S*k\.wasm$/);
});

test('kernel build with AssemblyScript: bad usage exits 2 with the reason', () => {
  const dir = scratch();
  writeFileSync(join(dir, 'k.ts'), '');
  writeFileSync(join(dir, 'k.c'), '');
  const cases = [
    [['kernel', 'build', 'k.ts', '-DX=1'], /-D is for C sources; AssemblyScript has no preprocessor/],
    [['kernel', 'build', 'k.ts', 'k.c'], /one kernel is C or AssemblyScript, not both/],
    [['kernel', 'build', 'k.ts', '--opt', '--no-opt'], /--opt and --no-opt contradict each other/],
    [['kernel', 'build', 'k.as'], /or AssemblyScript \(\.ts\)/],
    [['kernel', 'new', 'k2', '--lang', 'rust'], /--lang must be c or as/],
  ];
  for (const [args, message] of cases) {
    const r = triptych(dir, ...args);
    assert.equal(r.code, 2, `${args.join(' ')} exits 2`);
    assert.match(r.err, message, args.join(' '));
  }
});
