#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The triptych command line: run | plan | info | bench. Exit codes: 0 ok,
// 1 runtime failure, 2 bad usage. Every command has --help. Design: docs/cli.md.
import { parseArgs } from 'node:util';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import process from 'node:process';

const USAGE = `usage: triptych <command> [options]

commands:
  run     run a scene (default: particles, offscreen; --present window shows it) and write its report
  plan    print the core plan: which CPUs run the orchestrator, compute and render
  info    versions, topology, Vulkan devices, WASM features, what the engine would pick
  bench   side-by-side measurements (see 'triptych bench --help')
  kernel  build a kernel .wasm from C, or start a new kernel project (see 'triptych kernel --help')

'triptych <command> --help' describes each command's options.
`;

// The run options table (the addon's, shared with createEngine() and
// triptych-run): this command line's flags, their checks, defaults and help.
let table = null;
async function runOptionTable() {
  if (table) return table;
  const { loadAddon } = await api();
  const { addon } = loadAddon();
  const rows = addon.runOptions().filter((o) => o.hosts.includes('cli'));
  const flags = {};
  for (const o of rows) flags[o.flag] = { type: o.type === 'switch' ? 'boolean' : 'string', ...(o.key === 'quiet' ? { short: 'q' } : {}) };
  const planFlags = Object.fromEntries(rows.filter((o) => o.plan).map((o) => [o.flag, flags[o.flag]]));
  table = {
    flags, planFlags,
    help: addon.optionsHelp('cli', false), planHelp: addon.optionsHelp('cli', true),
    // parseArgs' {flag: text | true} -> createEngine()'s options, checked.
    normalise: (values) => {
      try {
        return addon.normaliseRunOptions(values, 'cli');
      } catch (err) {
        if (err.code === 'ERR_TRIPTYCH_BAD_OPTION') throw new UsageError(err.message.replace(/^bad option: /, ''));
        throw err;
      }
    },
  };
  return table;
}

const PLAN_ENV_HELP = '  The TRIPTYCH_* environment variables of docs/scheduler.md apply too.\n';

async function runHelp() {
  const t = await runOptionTable();
  return `usage: triptych run [options]

Runs a scene: WASM compute on pinned workers -> Vulkan render -> present. With
--present window (or auto and a display) the frames are shown in a window, paced
at --hz (keys: Esc or Q ends the run, P or Space pauses, N or Right steps one
frame while paused, H toggles the HUD, + doubles and - halves the particles
simulated, up to --particles); offscreen,
"present" is the read-back result frame. The run ends with a per-stage summary.

${t.help}
core plan options:
${t.planHelp}${PLAN_ENV_HELP}`;
}

class UsageError extends Error {}

function parse(args, options, help) {
  try {
    return parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
  } catch (err) {
    throw new UsageError(`${err.message}\n\n${help}`);
  }
}

function int(values, key, lo, hi, fallback) {
  if (values[key] === undefined) return fallback;
  const n = Number(values[key]);
  if (!Number.isInteger(n) || n < lo || n > hi) throw new UsageError(`--${key} expects an integer in [${lo}, ${hi}], got '${values[key]}'`);
  return n;
}

async function api() {
  return import('../lib/index.mjs');
}

// ---- run ---------------------------------------------------------------------

async function cmdRun(args) {
  const t = await runOptionTable();
  const help = await runHelp();
  const { values } = parse(args, t.flags, help);
  if (values.help) { process.stdout.write(help); return 0; }
  const { files, baseline, headless, quiet, scene, watch, out, trace, report, csv, stats, snapshot, ...opts } = t.normalise(values);
  if (opts.kernel) opts.kernel = resolve(opts.kernel);
  // A kernel source is built first (triptych kernel build), into a scratch folder.
  const kernelWatch = await import('../lib/kernel-watch.mjs');
  const source = opts.kernel && kernelWatch.isKernelSource(opts.kernel) ? opts.kernel : null;
  if (source) {
    opts.kernel = join(mkdtempSync(join(tmpdir(), 'triptych-run-')), `${basename(source, extname(source))}.wasm`);
    const b = await kernelWatch.buildKernelSource(source, opts.kernel);
    if (!b.ok) throw Object.assign(new Error(`building ${source} failed: ${b.message}`), { code: 'ERR_TRIPTYCH_KERNEL_BUILD' });
  }
  if (opts.plan.topology) opts.plan.topology = resolve(opts.plan.topology);
  const outputs = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, resolve(f)]));
  for (const f of Object.values(outputs)) mkdirSync(dirname(f), { recursive: true });
  const { hz, frames, seconds } = opts;

  const { createEngine, plan, loadKernel, kernelRunConfig } = await api();
  // A degraded or oversubscribed plan still runs; say so before the run, not only in `triptych plan`.
  for (const w of JSON.parse(plan(opts.plan).json).warnings) process.stderr.write(`triptych: WARNING: ${w}\n`);
  const t0 = performance.now();
  const engine = baseline ? await (await import('../lib/baseline.mjs')).createCopyBaseline(opts) : await createEngine(opts);
  const startup = performance.now() - t0;
  // The copy baseline has no kernel of its own to report: read the file's.
  const kernel = engine.kernel ?? kernelIdentity(await loadKernel(opts.kernel ?? (await api()).defaultKernelPath()));
  const untilDone = frames !== 0 ? `${frames} frames` : seconds > 0 ? `${seconds} s` : 'until Ctrl-C';
  const computeText = baseline ? `${engine.workerCount} WASM workers, COPY BASELINE (postMessage + staging copies)`
    : opts.compute === 'wasm' ? `${engine.workerCount} WASM workers` : 'native compute';
  const headerRenderer = engine.renderer;
  process.stdout.write(`triptych run: ${opts.particles} particles, kernel ${kernelText(kernel)}, ${computeText}, ${headerRenderer}, ${hz || 'max'} Hz, ${untilDone} (start-up ${startup.toFixed(0)} ms)\n`);
  let interrupted = false;
  const onSigint = () => { interrupted = true; engine.requestStop(); };
  process.once('SIGINT', onSigint);
  const tty = process.stdout.isTTY && !quiet;
  // A line of its own above the live status line (swaps, refusals).
  const say = (text) => process.stdout.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
  const watcher = watch ? kernelWatch.watchKernel(engine, {
    source: source ?? opts.kernel, output: opts.kernel,
    onEvent: (e) => say(e.ok
      ? `triptych: kernel swapped to ${kernelText(e)} from frame ${e.fromFrame} (build ${e.buildMs} ms, swap ${e.swapMs} ms)`
      : `triptych: kernel ${basename(e.file)} refused, ${kernelText(engine.kernel)} keeps running: ${e.error}`),
  }) : null;
  // The governor's level in the status line; each decision and the renderer
  // choice once, on their own lines, as they happen.
  const level = (s) => s.governor === undefined ? '' : s.governor
    ? `  gov ${s.resolutionScale.toFixed(2)}x${s.drawStride > 1 ? ` 1/${s.drawStride}` : ''} ${+s.rateHz.toFixed(1)} Hz` : '  gov off';
  const line = (s) => `${s.elapsedS.toFixed(1).padStart(6)} s  ${String(s.fps).padStart(4)} fps  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  presented ${s.presented}  late ${s.late}  dropped ${s.dropped}  failed ${s.failed}${s.isolated || s.lost ? `  lost ${s.lost}  crashes ${s.renderCrashes}` : ''}${level(s)}`;
  let shownChanges = 0;
  let shownRenderer = headerRenderer;
  const events = (s) => {
    const said = [];
    if (s.renderer !== undefined && s.renderer !== shownRenderer) { shownRenderer = s.renderer; said.push(`renderer: ${s.renderer}`); }
    if (s.governorChanges > shownChanges) {
      said.push(`governor: ${s.governorLast}${s.governorChanges - shownChanges > 1 ? ` (${s.governorChanges - shownChanges} changes since the last line)` : ''}`);
      shownChanges = s.governorChanges;
    }
    return said;
  };
  const status = await engine.run({
    intervalMs: tty ? 250 : 1000,
    onStatus: quiet ? undefined : (s) => {
      for (const e of events(s)) say(e);
      process.stdout.write(tty ? `\r${line(s)}\x1b[K` : `${line(s)}\n`);
    },
  });
  process.removeListener('SIGINT', onSigint);
  await watcher?.close();
  if (tty) process.stdout.write('\n');
  if (interrupted) process.stdout.write('triptych: interrupted; writing the report\n');
  process.stdout.write(engine.summaryTable());
  if (status.delivered !== undefined) {
    process.stdout.write(`delivered: ${status.delivered}\n`);
    if (status.renderer !== undefined && status.renderer !== headerRenderer) process.stdout.write(`renderer: ${status.renderer}\n`);
  }
  if (engine.replacements) process.stdout.write(`workers replaced (deadline or death): ${engine.replacements}\n`);
  printFailures(engine, status);
  let code = 0;
  try {
    engine.writeOutputs(outputs, {
      host: 'node', scene: opts.kernel ? `custom kernel ${kernel.name}` : scene, particles: opts.particles, hz, frames, seconds,
      compute: baseline ? 'wasm, copy baseline' : opts.compute,
      workers: engine.workerCount, renderer: status.renderer ?? engine.renderer, governor: opts.governor,
      lag: opts.lag, 'wasm tier': opts.wasmTier,
      'start-up ms': startup.toFixed(0),
      ...(source ? { 'kernel source': source } : {}),
      // The engine adds its own kernel rows; the copy baseline needs them given.
      ...(baseline ? kernelRunConfig(kernel) : {}),
    });
    for (const [k, f] of Object.entries(outputs)) process.stdout.write(`wrote ${k}: ${f}\n`);
  } catch (err) {
    process.stderr.write(`triptych: writing the outputs failed: ${err.message}\n`);
    code = 1;
  }
  await engine.close();
  if (status.error) {
    process.stderr.write(`triptych: ${status.error}\n`);
    code = 1;
  }
  return code;
}

// A kernel as the run header and the swap lines name it.
function kernelIdentity(k) {
  return { file: k.path, name: k.name, abi: k.abi, sha256: k.sha256 };
}
function kernelText(k) {
  return `${k.file ? basename(k.file) : 'particles (compiled in)'} (ABI ${k.abi}${k.sha256 ? `, sha256 ${k.sha256}` : ''})`;
}

// The first few failed frames' causes, then how many more there were, so
// the console names every failure the outputs count (stats.json keeps them).
const SHOWN_FAILURES = 5;
function printFailures(engine, status) {
  if (typeof engine.failureLog !== 'function') return;
  const log = engine.failureLog();
  for (const f of log.kept.slice(0, SHOWN_FAILURES)) process.stdout.write(`failed frame ${f.frame}: ${f.cause}\n`);
  const more = status.failed - Math.min(SHOWN_FAILURES, log.kept.length);
  if (more > 0) process.stdout.write(`... and ${more} more like this (causes in stats.json "failures")\n`);
}

// ---- plan ----------------------------------------------------------------------

async function cmdPlan(args) {
  const t = await runOptionTable();
  const help = `usage: triptych plan [--json] [options]\n\nPrints which CPUs the orchestrator (reserved), the WASM compute workers and the\nrender pool would use, and why.\n  --json                  JSON instead of a table\n${t.planHelp}${PLAN_ENV_HELP}`;
  const { values } = parse(args, { json: { type: 'boolean' }, ...t.planFlags }, help);
  if (values.help) { process.stdout.write(help); return 0; }
  const { json, ...planValues } = values;
  const { plan: overrides } = t.normalise(planValues);
  if (overrides.topology) overrides.topology = resolve(overrides.topology);
  const { plan } = await api();
  const p = plan(overrides);
  process.stdout.write(json ? `${p.json}\n` : p.table);
  return 0;
}

// ---- info ------------------------------------------------------------------------

function wasmFeatures() {
  const mod = (body) => new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, ...body]);
  // Each probe is the smallest module that needs the feature.
  const simd = mod([1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 22, 1, 20, 0, 253, 12, ...new Array(16).fill(0), 11]);
  const threads = mod([5, 4, 1, 3, 1, 1]); // a shared memory
  const bulk = mod([1, 4, 1, 96, 0, 0, 3, 2, 1, 0, 5, 3, 1, 0, 1, 10, 13, 1, 11, 0, 65, 0, 65, 0, 65, 0, 252, 11, 0, 11]); // memory.fill
  return {
    simd128: WebAssembly.validate(simd), threads: WebAssembly.validate(threads),
    'bulk-memory': WebAssembly.validate(bulk), sharedArrayBuffer: typeof SharedArrayBuffer === 'function',
  };
}

async function cmdInfo(args) {
  const help = 'usage: triptych info [--json]\n\nVersions, topology and core plan, Vulkan devices, WASM features, and what the\nengine would pick.\n';
  const { values } = parse(args, { json: { type: 'boolean' } }, help);
  if (values.help) { process.stdout.write(help); return 0; }
  const lib = await api();
  const info = {
    triptych: JSON.parse((await import('node:fs')).readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    node: process.versions.node, v8: process.versions.v8, napi: process.versions.napi,
    addon: lib.loadAddon().path, kernel: lib.defaultKernelPath(), wasm: wasmFeatures(),
  };
  const plan = JSON.parse(lib.plan({}).json);
  let devices = [];
  let deviceError = null;
  try { devices = lib.devices(); } catch (err) { deviceError = err.message; }
  const pick = devices.find((d) => d.picked);  // the engine's own ranking (addon devices())
  // --raster auto's rule per device (docs/render-stage.md, "Compute splat renderer").
  for (const d of devices) {
    if (d.usable) d.raster = d.type === 'cpu' ? 'quads (auto: a software rasteriser takes quads without measuring)' : 'auto: quads or compute splat, whichever a start-up measurement finds faster';
  }
  const present = lib.presentProbe();
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...info, plan, devices, deviceError, pick: pick?.name ?? null, present }, null, 2)}\n`);
    return 0;
  }
  process.stdout.write(`triptych ${info.triptych}  node ${info.node}  V8 ${info.v8}  Node-API ${info.napi}\n`);
  process.stdout.write(`addon   ${info.addon}\nkernel  ${info.kernel}\n`);
  process.stdout.write(`WASM    ${Object.entries(info.wasm).map(([k, v]) => `${k} ${v ? 'yes' : 'NO'}`).join(', ')}\n\n`);
  process.stdout.write(lib.plan({}).table);
  process.stdout.write('\nVulkan devices:\n');
  if (deviceError) process.stdout.write(`  none: ${deviceError}\n`);
  for (const d of devices) {
    process.stdout.write(`  [${d.index}] ${d.name} (${d.type}, Vulkan ${d.apiVersion})${d.usable ? '' : ' unusable'}${d.hostImport ? ', imports host memory' : ''}\n`);
    // --particle-path auto's choice: the GPU pull needs the compute slots imported.
    if (d.usable) process.stdout.write(`      particles: ${d.hostImport ? 'GPU pull from the compute slots' : 'CPU layout pass (no host memory import)'}\n`);
    if (d.usable) process.stdout.write(`      raster: ${d.raster}\n`);
  }
  process.stdout.write(`engine would pick: ${pick ? `${pick.name}: ${pick.why}` : 'no usable Vulkan device (use --renderer cpu)'}\n`);
  process.stdout.write(`--present auto: ${present.why}\n`);
  return 0;
}

// ---- bench ----------------------------------------------------------------------

async function cmdBench(args) {
  const help = `usage: triptych bench [pipeline|kernel] [options]

  pipeline  (default) the zero-copy pipeline against the copy-based baseline (--baseline
            copy), same scene, same run: end-to-end latency p50/p99, frame-time jitter
            (stddev) and CPU time per frame, as ratios
            --particles N (default 8000)  --hz RATE (default 60)  --frames N (default 300)
            --renderer auto|vulkan|cpu (default vulkan)
  kernel    the particle kernel as WASM (V8, simd128) against the same C compiled natively,
            same run, as a throughput ratio; and one frame's hand-off through the arena
            against postMessage (clone, transfer)
            --particles N (default 1000000)  --frames N (default 40)  --grain N (default 16384)
`;
  const { values, positionals } = (() => {
    try {
      return parseArgs({ args, options: { particles: { type: 'string' }, frames: { type: 'string' }, grain: { type: 'string' }, hz: { type: 'string' }, renderer: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    } catch (err) { throw new UsageError(`${err.message}\n\n${help}`); }
  })();
  if (values.help) { process.stdout.write(help); return 0; }
  const what = positionals[0] ?? 'pipeline';
  if (!['kernel', 'pipeline'].includes(what) || positionals.length > 1) throw new UsageError(`unknown benchmark '${positionals.join(' ')}'\n\n${help}`);
  const bench = await import('../lib/bench.mjs');
  if (what === 'kernel') {
    await bench.benchKernel({
      particles: int(values, 'particles', 1000, 1 << 24, 1_000_000), frames: int(values, 'frames', 1, 100000, 40),
      grain: int(values, 'grain', 1, 1 << 24, 16384), out: process.stdout,
    });
  } else {
    // The scene's flags are run options: checked by the one table.
    const t = await runOptionTable();
    const { particles, frames, hz, renderer } = t.normalise({
      particles: values.particles ?? '8000', frames: values.frames ?? '300', hz: values.hz ?? '60',
      renderer: values.renderer ?? 'vulkan',
    });
    await bench.benchPipeline({ particles, frames, hz, renderer, out: process.stdout });
  }
  return 0;
}

// ---- main --------------------------------------------------------------------------

const commands = { run: cmdRun, plan: cmdPlan, info: cmdInfo, bench: cmdBench,
  kernel: async (args) => (await import('../lib/kernel-cli.mjs')).cmdKernel(args).catch((err) => { throw err.usage ? new UsageError(err.message) : err; }) };

export async function main(argv) {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const fn = commands[command];
  if (!fn) {
    process.stderr.write(`triptych: unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  try {
    return await fn(rest);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`triptych ${command}: ${err.message}\n`);
      return 2;
    }
    const code = err && err.code ? ` [${err.code}]` : '';
    process.stderr.write(`triptych ${command}: ${err && err.message ? err.message : err}${code}\n`);
    return err && err.code === 'ERR_TRIPTYCH_BAD_OPTION' ? 2 : 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
