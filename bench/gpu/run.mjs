#!/usr/bin/env node
// SPDX-License-Identifier: Apache-2.0
// `make bench-gpu`: the GPU frame path measured in one command (issue 14).
// Runs `triptych run` once per scene, each in its own process with its own
// report folder, and writes out/bench-gpu/: bench.json (every figure, the
// device, `triptych info` and the plan), bench.md (one Markdown table) and
// runs/<scene>/ (each run's report.html, trace.json, frames.csv, stats.json).
//
// Where an NVIDIA GPU is present every run must land on it (checked from each
// run's own renderer line) and the scenes run at full size: at most 6
// minutes. Elsewhere it runs on lavapipe with particle counts scaled down
// 100x and frame counts cut so it takes under 2 minutes, so it never rots.
// --short (the test in make test) runs every scene for a few frames at
// 1000x fewer particles, to check that the script and its JSON still work.
// Figures are never asserted: it is not part of make test's pass/fail.
// Single-threaded script; docs/BENCHMARKS.md ("make bench-gpu").
import { spawnSync } from 'node:child_process';
import { cpus, release } from 'node:os';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cli = join(root, 'node/bin/triptych.mjs');
export const SCHEMA = 'triptych-bench-gpu/1';

// The time the whole command may take on the GPU machine; runs that would
// start past it are skipped and said so.
const kBudgetS = { nvidia: 330, lavapipe: 110, short: 600 };

const { values: args } = parseArgs({
  options: {
    out: { type: 'string', default: join(root, 'out/bench-gpu') },
    short: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (args.help) {
  process.stdout.write('usage: node bench/gpu/run.mjs [--out DIR] [--short]\n');
  process.exit(0);
}

function triptych(argv, timeoutMs = undefined) {
  const r = spawnSync(process.execPath, [cli, ...argv], { encoding: 'utf8', env: process.env, maxBuffer: 64 << 20, timeout: timeoutMs });
  const timedOut = r.error?.code === 'ETIMEDOUT';
  return { code: r.status, out: r.stdout ?? '', err: timedOut ? `killed after ${Math.round(timeoutMs / 1000)} s (past the time budget)` : r.stderr ?? '' };
}

// ---- the device -------------------------------------------------------------------

const infoRun = triptych(['info', '--json']);
if (infoRun.code !== 0) {
  process.stderr.write(`bench-gpu: 'triptych info' failed:\n${infoRun.err}`);
  process.exit(1);
}
const info = JSON.parse(infoRun.out);
const nvidia = info.devices.find((d) => d.usable && /nvidia/i.test(d.name));
const mode = args.short ? 'short' : nvidia ? 'nvidia' : 'lavapipe';
if (!args.short && !nvidia && !info.devices.some((d) => d.usable)) {
  process.stderr.write(`bench-gpu: no usable Vulkan device: ${info.deviceError ?? 'none listed'}\n`);
  process.exit(1);
}
const deviceFlag = nvidia ? ['--device', nvidia.name] : [];
const device = nvidia ?? info.devices.find((d) => d.picked) ?? null;
// Full size on the NVIDIA GPU; lavapipe 100x fewer particles; --short 1000x.
const particleDiv = { nvidia: 1, lavapipe: 100, short: 1000 }[mode];
const frameCount = (full) => ({ nvidia: full, lavapipe: Math.max(20, Math.round(full / 60)), short: 4 }[mode]);
const computeCpus = info.plan.compute?.length ?? cpus().length;

// ---- the scenes ---------------------------------------------------------------------

const M = 1_000_000;
const scenes = [];
function scene(group, name, particles, frames, extra = [], note = '') {
  scenes.push({ group, name, particles: Math.max(1, Math.round(particles / particleDiv)), frames: frameCount(frames), extra, note });
}
scene('headline', '1M', M, 10_000);
for (const [n, label] of [[100_000, '100k'], [2 * M, '2M'], [4 * M, '4M']]) scene('sizes', label, n, 1200);
for (const n of [M, 4 * M]) {
  for (const w of [1, 2, 4, 8, 12]) {
    if (mode !== 'nvidia' && w > Math.max(2, computeCpus)) continue;  // scaling past this machine's CPUs says nothing
    scene('workers', `${n / M}M, ${w} workers`, n, 600, ['--workers', String(w)]);
  }
}
scene('zero-copy vs copy', '1M zero-copy', M, 600);
scene('zero-copy vs copy', '1M copy baseline', M, 600, ['--baseline', 'copy']);
for (const n of [M, 4 * M]) {
  scene('GPU import vs CPU layout', `${n / M}M GPU pull`, n, 600, ['--particle-path', 'gpu']);
  scene('GPU import vs CPU layout', `${n / M}M CPU layout pass`, n, 600, ['--particle-path', 'cpu']);
}
for (const k of [1, 2]) scene('frames in flight', `1M, ${k} in flight`, M, 600, ['--frames-in-flight', String(k)]);
for (const n of [M, 4 * M]) {
  // Both through Vulkan: on lavapipe --renderer auto may keep the CPU reference.
  scene('raster quads vs compute splat', `${n / M}M raster quads`, n, 600, ['--renderer', 'vulkan', '--raster', 'quads']);
  scene('raster quads vs compute splat', `${n / M}M compute splat`, n, 600, ['--renderer', 'vulkan', '--raster', 'splat']);
}

// ---- running them -------------------------------------------------------------------

const ms = (ns) => (typeof ns === 'number' ? ns / 1e6 : null);
function figures(stats) {
  const seg = stats.segments ?? {};
  const miss = (stats.deadline_misses ?? []).find((d) => d.hz === 120);
  const f = stats.frames;
  const span = f.last_ns > f.first_ns ? (f.last_ns - f.first_ns) / 1e9 : 0;
  const stage = (k) => (seg[k] ? { p50_ms: ms(seg[k].p50_ns), p99_ms: ms(seg[k].p99_ns) } : null);
  return {
    latency_ms: seg.latency ? { p50: ms(seg.latency.p50_ns), p99: ms(seg.latency.p99_ns), max: ms(seg.latency.max_ns) } : null,
    interval_sigma_ms: seg.interval ? ms(seg.interval.stddev_ns) : null,
    misses_120hz: miss ? miss.missed : null,
    presented: f.complete,
    dropped: f.dropped,
    failed: f.failed,
    fps: span > 0 ? (f.complete - 1) / span : null,
    stages: { compute: stage('compute'), handoff: stage('handoff'), render: stage('render'), present: stage('present') },
    particles_rejected: Number(stats.config?.['particles rejected by validation'] ?? 0),
  };
}

const out = resolve(args.out);
rmSync(join(out, 'runs'), { recursive: true, force: true });
mkdirSync(join(out, 'runs'), { recursive: true });
const width = mode === 'short' ? 320 : 1280;
const height = mode === 'short' ? 180 : 720;
const t0 = performance.now();
const runs = [];
let failedRuns = 0;
for (const s of scenes) {
  const dir = join(out, 'runs', s.name.replace(/[^\w]+/g, '_'));
  const run = { group: s.group, name: s.name, particles: s.particles, frames: s.frames, hz: 120, width, height, args: s.extra, report_dir: dir };
  runs.push(run);
  if ((performance.now() - t0) / 1000 > kBudgetS[mode]) {
    run.status = 'skipped: past the time budget';
    continue;
  }
  const argv = ['run', '--headless', '--quiet', '--particles', String(s.particles), '--frames', String(s.frames), '--hz', '120',
    '--width', String(width), '--height', String(height), ...deviceFlag, ...s.extra, '--out', dir];
  // No run may take the command past its budget by more than a minute.
  const r = triptych(argv, Math.round(Math.max(30, kBudgetS[mode] + 60 - (performance.now() - t0) / 1000) * 1000));
  run.command = `triptych ${argv.join(' ')}`;
  if (r.code !== 0) {
    run.status = `failed (exit ${r.code}): ${(r.err.trim().split('\n').pop() ?? '').slice(0, 300)}`;
    ++failedRuns;
    continue;
  }
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  run.renderer = String(stats.config?.renderer ?? '');
  run.raster = String(stats.config?.raster ?? '');
  if (nvidia && !run.renderer.includes(nvidia.name)) {
    run.status = `failed: ran on '${run.renderer}', not ${nvidia.name}`;
    ++failedRuns;
    continue;
  }
  run.status = 'ok';
  run.figures = figures(stats);
  process.stdout.write(`bench-gpu: ${s.group}: ${s.name}: p99 ${run.figures.latency_ms?.p99?.toFixed(2)} ms, ` +
    `${run.figures.fps?.toFixed(1)} fps, ${run.figures.misses_120hz} misses\n`);
}
const elapsed = (performance.now() - t0) / 1000;

// Raster quads against compute splat, same run: splat's render-stage p50 and
// end-to-end p99 over the quads' (below 1: splat is faster).
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && a > 0 ? b / a : null);
const splatRatios = [];
for (const n of [M, 4 * M]) {
  const quads = runs.find((r) => r.name === `${n / M}M raster quads`);
  const splat = runs.find((r) => r.name === `${n / M}M compute splat`);
  if (!quads?.figures || !splat?.figures) continue;
  splatRatios.push({
    particles: quads.particles,
    render_p50_splat_over_quads: ratio(quads.figures.stages.render?.p50_ms, splat.figures.stages.render?.p50_ms),
    latency_p99_splat_over_quads: ratio(quads.figures.latency_ms?.p99, splat.figures.latency_ms?.p99),
  });
}

// ---- writing it out ---------------------------------------------------------------

const report = {
  schema: SCHEMA,
  date: new Date().toISOString(),
  mode,
  scale: { particles_divided_by: particleDiv, note: mode === 'nvidia' ? 'full size' : `${mode}: particle counts divided by ${particleDiv}, frame counts cut` },
  machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model ?? '', kernel: release(), node: process.versions.node },
  device,
  info,
  elapsed_s: elapsed,
  raster_vs_splat: splatRatios,
  runs,
};
writeFileSync(join(out, 'bench.json'), `${JSON.stringify(report, null, 2)}\n`);

const fmt = (v, d = 2) => (typeof v === 'number' && Number.isFinite(v) ? v.toFixed(d) : '–');
const lines = [
  `# make bench-gpu (${report.date})`,
  '',
  `Device: ${device ? `${device.name} (${device.type})` : 'none'}; mode: ${mode} (${report.scale.note}); ${report.machine.cpus} CPUs (${report.machine.cpu_model}), kernel ${report.machine.kernel}; ${fmt(elapsed, 0)} s in all.`,
  '',
  '| group | scene | particles | frames | p50 ms | p99 ms | max ms | interval σ ms | misses @120 Hz | fps | compute p50 | render p50 | status |',
  '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|',
];
for (const r of runs) {
  const f = r.figures ?? {};
  lines.push(`| ${r.group} | ${r.name} | ${r.particles} | ${r.frames} | ${fmt(f.latency_ms?.p50)} | ${fmt(f.latency_ms?.p99)} | ` +
    `${fmt(f.latency_ms?.max)} | ${fmt(f.interval_sigma_ms)} | ${f.misses_120hz ?? '–'} | ${fmt(f.fps, 1)} | ` +
    `${fmt(f.stages?.compute?.p50_ms)} | ${fmt(f.stages?.render?.p50_ms)} | ${r.status} |`);
}
lines.push('', 'Raster quads against compute splat (same run; below 1: splat is faster):', '');
for (const s of splatRatios) {
  lines.push(`- ${s.particles} particles: splat/quads render p50 ${fmt(s.render_p50_splat_over_quads)}, end-to-end p99 ${fmt(s.latency_p99_splat_over_quads)}`);
}
lines.push('');
writeFileSync(join(out, 'bench.md'), `${lines.join('\n')}\n`);
process.stdout.write(`bench-gpu: wrote ${join(out, 'bench.json')} and bench.md (${fmt(elapsed, 0)} s, ${failedRuns} runs failed)\n`);
process.exit(failedRuns === 0 ? 0 : 1);
