// SPDX-License-Identifier: Apache-2.0
// Isolation mode's cost: the same scene rendered in-process (the CPU
// reference on the render thread) and isolated (the same renderer in a
// supervised render process: one copy into H, a RENDER/DONE round trip, one
// copy out of C with its hash), runs interleaved in one invocation
// (in-process, isolated, in-process, ...) so drift hits both alike. Prints
// per run end-to-end latency p50/p99, render p50/p99, frame-interval jitter
// (stddev) and CPU per presented frame (the host's, plus the render
// process's from /proc), then the medians. Asserts nothing
// (docs/BENCHMARKS.md, "Isolation mode").
//   node bench/node/isolate_bench.mjs [--particles N] [--frames N] [--hz N] [--rounds N] [--width W] [--height H]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchScene } from './scene.mjs';

const { lib, scene, own } = await benchScene(
  { particles: '20000', frames: '600', hz: '120', renderer: 'cpu', width: '640', height: '480' }, { rounds: '3' });
const TICK_MS = 10;  // /proc/<pid>/stat counts CPU in clock ticks (USER_HZ 100)

// A process's user + system CPU so far, in ms (0 when it is gone).
function procCpuMs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) * TICK_MS;  // utime, stime
  } catch {
    return 0;
  }
}

async function once(isolate) {
  const engine = await lib.createEngine({ ...scene, isolate });
  const cpu0 = process.cpuUsage();
  let renderPid = 0;
  let renderCpuMs = 0;
  const s = await engine.run({
    intervalMs: 100,
    // The render process's CPU is read while it lives (it goes with the engine).
    onStatus: (st) => {
      if (st.renderPid) { renderPid = st.renderPid; renderCpuMs = procCpuMs(renderPid); }
    },
  });
  if (renderPid) renderCpuMs = Math.max(renderCpuMs, procCpuMs(renderPid));
  const cpu = process.cpuUsage(cpu0);
  const dir = mkdtempSync(join(tmpdir(), 'tp-isolate-bench-'));
  engine.writeOutputs({ stats: join(dir, 'stats.json') });
  const stats = JSON.parse(readFileSync(join(dir, 'stats.json'), 'utf8'));
  rmSync(dir, { recursive: true, force: true });
  await engine.close();
  const hostMs = (cpu.user + cpu.system) / 1000;
  return {
    presented: s.presented, lost: s.lost ?? 0,
    latency_p50: stats.segments.latency.p50_ns / 1e6, latency_p99: stats.segments.latency.p99_ns / 1e6,
    render_p50: stats.segments.render.p50_ns / 1e6, render_p99: stats.segments.render.p99_ns / 1e6,
    jitter: stats.segments.interval.stddev_ns / 1e6,
    cpu_per_frame: (hostMs + renderCpuMs) / s.presented,
    child_cpu_per_frame: renderCpuMs / s.presented,
  };
}

const KEYS = ['latency_p50', 'latency_p99', 'render_p50', 'render_p99', 'jitter', 'cpu_per_frame', 'child_cpu_per_frame'];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = { 'in-process': [], isolated: [] };
console.log(`isolation: ${scene.particles} particles, ${scene.frames} frames at ${scene.hz} Hz, ` +
  `${scene.renderer} renderer ${scene.width}x${scene.height}, ${own.rounds} interleaved rounds`);
for (let r = 0; r < Number(own.rounds); r++) {
  for (const mode of ['in-process', 'isolated']) {
    const row = await once(mode === 'isolated');
    runs[mode].push(row);
    console.log(`  round ${r + 1} ${mode.padEnd(10)}: latency ${row.latency_p50.toFixed(3)}/${row.latency_p99.toFixed(3)} ms, ` +
      `render ${row.render_p50.toFixed(3)}/${row.render_p99.toFixed(3)} ms, jitter ${row.jitter.toFixed(3)} ms, ` +
      `CPU ${row.cpu_per_frame.toFixed(2)} ms/frame (render process ${row.child_cpu_per_frame.toFixed(2)}), ` +
      `presented ${row.presented}, lost ${row.lost}`);
  }
}
console.log('medians (ms): in-process vs isolated (isolated - in-process)');
for (const k of KEYS) {
  const a = median(runs['in-process'].map((x) => x[k]));
  const b = median(runs.isolated.map((x) => x[k]));
  console.log(`  ${k.padEnd(20)} ${a.toFixed(3)} vs ${b.toFixed(3)} (${b - a >= 0 ? '+' : ''}${(b - a).toFixed(3)})`);
}
