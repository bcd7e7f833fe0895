// SPDX-License-Identifier: Apache-2.0
// The kernels in docs/wasm-kernels.md build as written and run: every fenced
// block whose info string is `c kernel` (C) or `ts as kernel`
// (AssemblyScript) is extracted, built with
// `triptych kernel build` in a temporary folder and run for a few frames on
// the CPU renderer, which must present them all and fail none. So the
// guide's examples cannot rot.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const buildDir = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const built = existsSync(join(buildDir, 'node/triptych.node'));
const skip = !built && `build ${buildDir} first (make build)`;
const cli = resolve('node/bin/triptych.mjs');
const guide = resolve('docs/wasm-kernels.md');

// The blocks of a Markdown text whose opening fence's info string is exactly
// `info`: [{line (1-based, of the opening fence), code}]. An unclosed block is an error.
export function fencedBlocks(markdown, info) {
  const blocks = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,})(.*)$/.exec(lines[i]);
    if (!open) continue;
    const close = lines.findIndex((l, j) => j > i && l.startsWith(open[1]) && l.slice(open[1].length).trim() === '');
    if (close < 0) throw new Error(`unclosed code block at line ${i + 1}`);
    if (open[2].trim() === info) blocks.push({ line: i + 1, code: `${lines.slice(i + 1, close).join('\n')}\n` });
    i = close;
  }
  return blocks;
}

test('fencedBlocks finds only the marked blocks, and refuses an unclosed one', () => {
  const md = 'x\n```c kernel\nint a;\n```\n```c\nint b;\n```\n````c kernel\n```\nint c;\n````\n';
  assert.deepEqual(fencedBlocks(md, 'c kernel'), [{ line: 2, code: 'int a;\n' }, { line: 8, code: '```\nint c;\n' }]);
  assert.throws(() => fencedBlocks('```c kernel\nint a;\n', 'c kernel'), /unclosed code block at line 1/);
});

const markdown = readFileSync(guide, 'utf8');
const blocks = [
  ...fencedBlocks(markdown, 'c kernel').map((b) => ({ ...b, source: 'example.c' })),
  ...fencedBlocks(markdown, 'ts as kernel').map((b) => ({ ...b, source: 'example.ts' })),
];

test('the guide has kernels to check', () => {
  assert.ok(blocks.filter((b) => b.source === 'example.c').length >= 2, 'docs/wasm-kernels.md has `c kernel` blocks');
  assert.ok(blocks.some((b) => b.source === 'example.ts'), 'docs/wasm-kernels.md has a `ts as kernel` block');
});

for (const { line, code, source } of blocks) {
  test(`docs/wasm-kernels.md:${line} builds with triptych kernel build and runs 10 frames, none failed`, { skip }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'triptych-docs-kernel-'));
    writeFileSync(join(dir, source), code);
    const run = (...args) => spawnSync(process.execPath, [cli, ...args], {
      cwd: dir, encoding: 'utf8', env: { ...process.env, TRIPTYCH_BUILD_DIR: buildDir }, timeout: 120000,
    });
    const b = run('kernel', 'build', source);
    assert.equal(b.status, 0, `docs/wasm-kernels.md:${line} builds:\n${b.stderr}`);
    const r = run('run', '--kernel', 'example.wasm', '--frames', '10', '--renderer', 'cpu', '--quiet', '--stats', 'stats.json');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /frames: issued 10, presented 10, late \d+, dropped 0, failed 0, lost to a render crash 0, in flight 0/);
  });
}
