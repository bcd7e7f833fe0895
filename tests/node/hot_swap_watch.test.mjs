// SPDX-License-Identifier: Apache-2.0
// `triptych run --kernel k.c --watch`: the run builds the source, then picks
// up each change to it: a rebuilt kernel is swapped in (a line says so), a
// source that does not compile is refused with the compiler's error while the
// old kernel keeps running, and the outputs name the kernel and every swap.
// Also: --watch without --kernel is bad usage (exit 2).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');

const kernel = (id) => `#include "triptych_kernel.h"
TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) { return TP_KERNEL_ABI_VERSION; }
TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) { (void)ctx; return 0; }
TP_EXPORT(tp_kernel_step) int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  const tp_particle* in = tp_kernel_ptr(ctx, ctx->input_offset);
  tp_particle* out = tp_kernel_ptr(ctx, ctx->output_offset);
  for (uint32_t i = begin; i < end; ++i) {
    if (ctx->flags & TP_CTX_FIRST_FRAME) out[i] = (tp_particle){.x = 0.001f * (float)(i % 500u), .size = 0.004f, .rgba = 0xffffffffu, .shape = TP_SHAPE_CIRCLE};
    else out[i] = in[i];
    out[i].vy = ${id}.0f;
  }
  return 0;
}
`;

// Resolves with the first stdout line matching `pattern` (rejects after ms).
function lineMatching(child, pattern, ms) {
  return new Promise((resolveLine, reject) => {
    let text = '';
    const timer = setTimeout(() => { child.stdout.off('data', onData); reject(new Error(`no line matching ${pattern} within ${ms} ms; got:\n${text}`)); }, ms);
    function onData(d) {
      text += d;
      const hit = text.split('\n').find((l) => pattern.test(l));
      if (hit) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolveLine(hit);
      }
    }
    child.stdout.on('data', onData);
  });
}

test('--watch swaps in a rebuilt source and refuses one that does not compile', { skip, timeout: 120000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'triptych-watch-test-'));
  const src = join(dir, 'drifter.c');
  writeFileSync(src, kernel(1));
  const child = spawn(process.execPath, [cli, 'run', '--kernel', src, '--watch', '--seconds', '0', '--hz', '60',
    '--particles', '2000', '--renderer', 'cpu', '--width', '64', '--height', '64', '--out', join(dir, 'out')],
  { cwd: dir, env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => { stderr += d; });
  const exited = new Promise((r) => child.once('exit', r));
  try {
    const header = await lineMatching(child, /^triptych run:/, 60000);
    assert.match(header, /kernel drifter\.wasm \(ABI 2, sha256 [0-9a-f]{12}\)/);

    const swapped = lineMatching(child, /kernel swapped to/, 60000);
    writeFileSync(src, kernel(2));
    assert.match(await swapped, /kernel swapped to drifter\.wasm \(ABI 2, sha256 [0-9a-f]{12}\) from frame \d+ \(build [\d.]+ ms, swap [\d.]+ ms\)/);

    const refused = lineMatching(child, /refused/, 60000);
    writeFileSync(src, kernel(3).replace('return 0;\n}\n', 'return 0\n}\n'));
    assert.match(await refused, /kernel drifter\.c refused, drifter\.wasm .* keeps running: build failed: .*error: expected ';'/);
  } finally {
    child.kill('SIGINT');
  }
  const code = await exited;
  assert.equal(code, 0, stderr);
  const stats = JSON.parse(readFileSync(join(dir, 'out/stats.json'), 'utf8'));
  assert.equal(stats.config.scene, 'custom kernel drifter');
  assert.equal(stats.config['kernel source'], src);
  assert.match(stats.config['kernel sha256'], /^[0-9a-f]{12}$/);
  assert.equal(stats.config['kernel swaps'], '1 swapped, 0 refused', 'a build that failed never reached the engine');
  assert.equal(stats.failures.kept.length, 0);
});

test('--watch needs --kernel, and not the copy baseline (exit 2)', { skip }, () => {
  const alone = spawnSync(process.execPath, [cli, 'run', '--watch', '--frames', '1'], { encoding: 'utf8' });
  assert.equal(alone.status, 2);
  assert.match(alone.stderr, /--watch needs --kernel FILE/);
  const baseline = spawnSync(process.execPath, [cli, 'run', '--watch', '--kernel', 'k.wasm', '--baseline', 'copy', '--frames', '1'], { encoding: 'utf8' });
  assert.equal(baseline.status, 2);
  assert.match(baseline.stderr, /copy baseline cannot/);
});
