#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// The triptych command line: run | plan | info | bench. Exit codes: 0 ok,
// 1 runtime failure, 2 bad usage. Every command has --help. Design: docs/cli.md.
import { parseArgs } from 'node:util';
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { DEFAULTS } from '../lib/defaults.mjs';

const USAGE = `usage: triptych <command> [options]

commands:
  run     run a scene (default: particles, headless) and write its report
  plan    print the core plan: which CPUs run the orchestrator, compute and render
  info    versions, topology, Vulkan devices, WASM features, what the engine would pick
  bench   side-by-side measurements (see 'triptych bench --help')
  kernel  build a kernel .wasm from C, or start a new kernel project (see 'triptych kernel --help')

'triptych <command> --help' describes each command's options.
`;

const PLAN_OPTIONS = {
  topology: { type: 'string' },
  'reserved-cores': { type: 'string' },
  'compute-threads': { type: 'string' },
  'render-threads': { type: 'string' },
  'reserved-cpus': { type: 'string' },
  'compute-cpus': { type: 'string' },
  'render-cpus': { type: 'string' },
  smt: { type: 'boolean' },
  oversubscribe: { type: 'boolean' },
};

const PLAN_HELP = `core plan options:
  --topology FILE         plan for the machine in this hwloc XML file (lstopo --of xml)
  --reserved-cores N      cores reserved for the orchestrator, UI and OS (default 1-3)
  --compute-threads N     compute (WASM worker) threads
  --render-threads N      render pool threads
  --reserved-cpus LIST    explicit CPU lists, e.g. 0-2 (likewise --compute-cpus, --render-cpus)
  --smt                   one thread per hardware thread instead of per core
  --oversubscribe         allow more threads than CPUs (warns)
  The TRIPTYCH_* environment variables of docs/scheduler.md apply too.
`;

const RUN_HELP = `usage: triptych run [options]

Runs a scene: WASM compute on pinned workers -> Vulkan render -> present. Headless,
"present" is the read-back result frame; the run ends with a per-stage summary.

  --scene NAME          particles (the default scene)
  --kernel FILE         a custom kernel .wasm built with triptych_add_wasm_kernel
  --particles N         particles (default ${DEFAULTS.particles})
  --hz RATE             target frame rate; 0 = as fast as possible (default 60)
  --seconds S           run for S seconds (default 10) ...
  --frames N            ... or for N frames
  --workers N           compute workers (default: one per compute CPU of the plan)
  --grain N             particles per compute chunk (default ${DEFAULTS.grain})
  --renderer KIND       vulkan | cpu (default vulkan)
  --device NAME         Vulkan device name substring (see 'triptych info')
  --validation          Khronos validation layer; any message fails the run
  --width W, --height H render target (default 640x480)
  --lag POLICY          wait | drop: when render lags, compute waits or its frames drop
  --baseline copy       the same scene the way a typical Electron app moves data:
                        postMessage clones, a staging buffer, staging upload and readback
  --compute KIND        wasm | native (native: the C kernel, for comparison)
  --seed N              initial particle placement (default 1)
  --wasm-tier MODE      eager | lazy V8 tiering for the kernel (default eager)
  --deadline-ms MS      a chunk running longer fails its frame; its worker is replaced (default 1000)
  --headless            never open a window (the default: no window presenter yet)
  --out DIR             write trace.json report.html frames.csv stats.json snapshot.png there
                        (default out/ when no single-file option is given)
  --trace FILE --report FILE --csv FILE --stats FILE --snapshot FILE
  -q, --quiet           no live status line
${PLAN_HELP}`;

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

function num(values, key, lo, hi, fallback) {
  if (values[key] === undefined) return fallback;
  const n = Number(values[key]);
  if (!Number.isFinite(n) || n < lo || n > hi) throw new UsageError(`--${key} expects a number in [${lo}, ${hi}], got '${values[key]}'`);
  return n;
}

function oneOf(values, key, allowed, fallback) {
  const v = values[key] ?? fallback;
  if (!allowed.includes(v)) throw new UsageError(`--${key} must be one of ${allowed.join(', ')}, got '${v}'`);
  return v;
}

function planOptions(values) {
  const p = {};
  if (values.topology) p.topology = resolve(values.topology);
  if (values['reserved-cores'] !== undefined) p.reservedCores = int(values, 'reserved-cores', 0, 4096);
  if (values['compute-threads'] !== undefined) p.computeThreads = int(values, 'compute-threads', 1, 4096);
  if (values['render-threads'] !== undefined) p.renderThreads = int(values, 'render-threads', 1, 4096);
  if (values['reserved-cpus']) p.reservedCpus = values['reserved-cpus'];
  if (values['compute-cpus']) p.computeCpus = values['compute-cpus'];
  if (values['render-cpus']) p.renderCpus = values['render-cpus'];
  if (values.smt) p.smt = true;
  if (values.oversubscribe) p.oversubscribe = true;
  return p;
}

async function api() {
  return import('../lib/index.mjs');
}

// ---- run ---------------------------------------------------------------------

async function cmdRun(args) {
  const { values } = parse(args, {
    scene: { type: 'string' }, kernel: { type: 'string' }, particles: { type: 'string' }, hz: { type: 'string' },
    seconds: { type: 'string' }, frames: { type: 'string' }, workers: { type: 'string' }, grain: { type: 'string' },
    renderer: { type: 'string' }, device: { type: 'string' }, validation: { type: 'boolean' },
    width: { type: 'string' }, height: { type: 'string' }, lag: { type: 'string' }, compute: { type: 'string' },
    'wasm-tier': { type: 'string' }, 'deadline-ms': { type: 'string' }, headless: { type: 'boolean' },
    out: { type: 'string' }, trace: { type: 'string' }, report: { type: 'string' }, csv: { type: 'string' },
    stats: { type: 'string' }, snapshot: { type: 'string' }, quiet: { type: 'boolean', short: 'q' },
    baseline: { type: 'string' }, seed: { type: 'string' },
    ...PLAN_OPTIONS,
  }, RUN_HELP);
  if (values.help) { process.stdout.write(RUN_HELP); return 0; }
  oneOf(values, 'scene', ['particles'], 'particles');
  const baseline = values.baseline === undefined ? null : oneOf(values, 'baseline', ['copy'], 'copy');
  if (baseline && values.compute === 'native') throw new UsageError('--baseline copy runs the WASM kernel; drop --compute native');
  if (values.seconds !== undefined && values.frames !== undefined) throw new UsageError('give --seconds or --frames, not both');
  const hz = num(values, 'hz', 0, 1000, 60);
  const seconds = num(values, 'seconds', 0.01, 86400, 10);
  const frames = values.frames !== undefined ? int(values, 'frames', 1, 2 ** 40)
    : hz > 0 ? Math.max(1, Math.round(seconds * hz)) : 0;
  const opts = {
    particles: int(values, 'particles', 1, 1 << 24, DEFAULTS.particles), hz, frames,
    workers: int(values, 'workers', 1, 1024, 0), grain: int(values, 'grain', 1, 1 << 24, DEFAULTS.grain),
    renderer: oneOf(values, 'renderer', ['vulkan', 'cpu'], 'vulkan'),
    width: int(values, 'width', 1, 8192, 640), height: int(values, 'height', 1, 8192, 480),
    lag: oneOf(values, 'lag', ['wait', 'drop'], 'wait'), compute: oneOf(values, 'compute', ['wasm', 'native'], 'wasm'),
    wasmTier: oneOf(values, 'wasm-tier', ['eager', 'lazy'], 'eager'),
    deadlineMs: int(values, 'deadline-ms', 1, 600000, 1000), validation: !!values.validation,
    seed: int(values, 'seed', 0, 2 ** 32 - 1, 1),
    plan: planOptions(values),
  };
  if (values.device !== undefined) opts.device = values.device;
  if (values.kernel) opts.kernel = resolve(values.kernel);
  const single = ['trace', 'report', 'csv', 'stats', 'snapshot'].some((k) => values[k]);
  const outDir = values.out ?? (single ? null : 'out');
  const outputs = {};
  for (const [key, file] of [['trace', 'trace.json'], ['report', 'report.html'], ['csv', 'frames.csv'], ['stats', 'stats.json'], ['snapshot', 'snapshot.png']]) {
    if (values[key]) outputs[key] = resolve(values[key]);
    else if (outDir) outputs[key] = resolve(outDir, file);
  }
  for (const f of Object.values(outputs)) mkdirSync(dirname(f), { recursive: true });
  if (!values.headless && process.env.DISPLAY) {
    process.stderr.write('triptych: a window presenter is not available yet; running headless\n');
  }

  const { createEngine } = await api();
  const t0 = performance.now();
  const engine = baseline ? await (await import('../lib/baseline.mjs')).createCopyBaseline(opts) : await createEngine(opts);
  const startup = performance.now() - t0;
  const untilDone = frames === 0 ? 'until Ctrl-C' : `${frames} frames`;
  const computeText = baseline ? `${engine.workerCount} WASM workers, COPY BASELINE (postMessage + staging copies)`
    : opts.compute === 'wasm' ? `${engine.workerCount} WASM workers` : 'native compute';
  process.stdout.write(`triptych run: ${opts.particles} particles, ${computeText}, ${engine.renderer}, ${hz || 'max'} Hz, ${untilDone} (start-up ${startup.toFixed(0)} ms)\n`);
  let interrupted = false;
  const onSigint = () => { interrupted = true; engine.requestStop(); };
  process.once('SIGINT', onSigint);
  const tty = process.stdout.isTTY && !values.quiet;
  const line = (s) => `${s.elapsedS.toFixed(1).padStart(6)} s  ${String(s.fps).padStart(4)} fps  p50 ${s.p50Ms.toFixed(2)} ms  p99 ${s.p99Ms.toFixed(2)} ms  presented ${s.presented}  late ${s.late}  dropped ${s.dropped}  failed ${s.failed}`;
  const status = await engine.run({
    intervalMs: tty ? 250 : 1000,
    onStatus: values.quiet ? undefined : (s) => {
      if (tty) process.stdout.write(`\r${line(s)}\x1b[K`);
      else process.stdout.write(`${line(s)}\n`);
    },
  });
  process.removeListener('SIGINT', onSigint);
  if (tty) process.stdout.write('\n');
  if (interrupted) process.stdout.write('triptych: interrupted; writing the report\n');
  process.stdout.write(engine.summaryTable());
  if (engine.replacements) process.stdout.write(`workers replaced (deadline or death): ${engine.replacements}\n`);
  printFailures(engine, status);
  let code = 0;
  try {
    engine.writeOutputs(outputs, {
      host: 'node', scene: 'particles', particles: opts.particles, hz, frames,
      compute: baseline ? 'wasm, copy baseline' : opts.compute,
      workers: engine.workerCount, renderer: engine.renderer, lag: opts.lag, 'wasm tier': opts.wasmTier,
      'start-up ms': startup.toFixed(0),
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
  const help = `usage: triptych plan [--json] [options]\n\nPrints which CPUs the orchestrator (reserved), the WASM compute workers and the\nrender pool would use, and why.\n  --json                  JSON instead of a table\n${PLAN_HELP}`;
  const { values } = parse(args, { json: { type: 'boolean' }, ...PLAN_OPTIONS }, help);
  if (values.help) { process.stdout.write(help); return 0; }
  const { plan } = await api();
  const p = plan(planOptions(values));
  process.stdout.write(values.json ? `${p.json}\n` : p.table);
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
  const order = { discrete: 0, integrated: 1, virtual: 2, cpu: 3, other: 4 };
  const pick = devices.filter((d) => d.usable).sort((a, b) => order[a.type] - order[b.type])[0];
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ ...info, plan, devices, deviceError, pick: pick?.name ?? null }, null, 2)}\n`);
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
  }
  process.stdout.write(`engine would pick: ${pick ? pick.name : 'no usable Vulkan device (use --renderer cpu)'}\n`);
  return 0;
}

// ---- bench ----------------------------------------------------------------------

async function cmdBench(args) {
  const help = `usage: triptych bench [pipeline|kernel] [options]

  pipeline  (default) the zero-copy pipeline against the copy-based baseline (--baseline
            copy), same scene, same run: end-to-end latency p50/p99, frame-time jitter
            (stddev) and CPU time per frame, as ratios
            --particles N (default 8000)  --hz RATE (default 60)  --frames N (default 300)
            --renderer vulkan|cpu (default vulkan)
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
    await bench.benchPipeline({
      particles: int(values, 'particles', 1, 1 << 24, 8000), frames: int(values, 'frames', 10, 1_000_000, 300),
      hz: num(values, 'hz', 0, 1000, 60), renderer: oneOf(values, 'renderer', ['vulkan', 'cpu'], 'vulkan'), out: process.stdout,
    });
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
