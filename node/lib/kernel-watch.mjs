// SPDX-License-Identifier: Apache-2.0
// `triptych run --kernel FILE --watch`: builds a kernel source with
// `triptych kernel build` (in a child process, so the main thread and its
// watchdog stay free) and swaps the result into the running engine
// (Engine.swapKernel) whenever the file changes: fs.watch on its folder
// (editors replace files by renaming), debounced, one build at a time.
// Main thread only; nothing here blocks. Design: docs/cli.md ("--watch").
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

// What `triptych kernel build` takes: C and C++ sources, AssemblyScript.
const KERNEL_SOURCES = new Set(['.c', '.cc', '.cpp', '.cxx', '.ts', '.as']);
// Files besides the source whose change rebuilds it: headers beside it.
const SOURCE_COMPANIONS = /\.(h|hpp|ts|as)$/i;
// Quiet time after the last change before a build: an editor's save is
// often several events (truncate, write, rename).
const DEBOUNCE_MS = 150;
// Compiler error lines kept in a refusal's message.
const ERROR_LINES = 3;

const cli = fileURLToPath(new URL('../bin/triptych.mjs', import.meta.url));

// Whether `path` is a kernel source that needs a build, not a .wasm.
export function isKernelSource(path) {
  return KERNEL_SOURCES.has(extname(path).toLowerCase());
}

// The first error lines of a failed build (all of its output when none says "error").
function buildErrors(output, code) {
  const lines = output.split('\n').map((l) => l.trim()).filter(Boolean);
  const errors = lines.filter((l) => /\berror\b/i.test(l)).slice(0, ERROR_LINES);
  return (errors.length ? errors : lines.slice(-ERROR_LINES)).join('; ') || `exited with ${code}`;
}

// Builds `source` into `output` with `triptych kernel build`. Resolves
// {ok, ms, message}: message holds the compiler's errors when it failed.
export function buildKernelSource(source, output) {
  return new Promise((done) => {
    const began = performance.now();
    const child = spawn(process.execPath, [cli, 'kernel', 'build', source, '-o', output], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (d) => { text += d; });
    child.stderr.on('data', (d) => { text += d; });
    child.once('error', (err) => done({ ok: false, ms: performance.now() - began, message: err.message }));
    child.once('close', (code) => {
      done({ ok: code === 0, ms: performance.now() - began, message: code === 0 ? '' : buildErrors(text, code) });
    });
  });
}

// Watches `source` (a .wasm, or a source built into `output`) and swaps each
// new version into `engine`. onEvent gets {ok: true, ...swap record} for a
// swap, {ok: false, file, error} for a build or swap refused (the old kernel
// keeps running). Bytes equal to the running kernel's are not swapped.
// Returns {close()}, which resolves once a build or swap in progress ended.
export function watchKernel(engine, { source, output, onEvent }) {
  const name = basename(source);
  const built = isKernelSource(source);
  const related = (file) => file === name || (built && SOURCE_COMPANIONS.test(file));
  let timer = null;
  let running = null;
  let again = false;
  let closed = false;

  async function cycle() {
    let buildMs = 0;
    if (built) {
      const b = await buildKernelSource(source, output);
      if (!b.ok) {
        onEvent({ ok: false, file: source, error: `build failed: ${b.message}` });
        return;
      }
      buildMs = b.ms;
    }
    const file = built ? output : source;
    let bytes;
    try {
      bytes = await readFile(file);
    } catch {
      return;  // gone for a moment (an editor's rename): the next event brings it back
    }
    if (createHash('sha256').update(bytes).digest('hex').startsWith(engine.kernel.sha256 ?? '-')) return;
    try {
      onEvent({ ok: true, ...await engine.swapKernel(bytes, { buildMs, file }) });
    } catch (err) {
      onEvent({ ok: false, file: source, error: err.message });
    }
  }

  async function fire() {
    if (closed) return;
    if (running) {
      again = true;
      return;
    }
    running = cycle();
    await running;
    running = null;
    if (again && !closed) {
      again = false;
      schedule();
    }
  }

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(fire, DEBOUNCE_MS);
  }

  const watcher = watch(dirname(source), (_event, file) => {
    if (file === null || related(file)) schedule();
  });
  return {
    async close() {
      closed = true;
      clearTimeout(timer);
      watcher.close();
      await running;
    },
  };
}
