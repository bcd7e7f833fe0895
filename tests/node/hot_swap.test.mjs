// SPDX-License-Identifier: Apache-2.0
// Hot-swap through the JS API (engine.swapKernel): 20 swaps during a light
// 120 Hz scene fail no frame, keep exact accounting and carry the particle
// state over, with no frame computed by two kernels (the test kernels check
// their input for that and fail the frame otherwise); tp_kernel_init runs for
// each new kernel. Broken replacements (not WASM, trap in init, wrong ABI,
// too much static data) are refused with their error while the old kernel
// keeps running. Every swap is in the trace and the outputs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

process.env.TRIPTYCH_BUILD_DIR = resolve(process.env.TRIPTYCH_BUILD_DIR ?? 'build/dev');
const buildDir = process.env.TRIPTYCH_BUILD_DIR;
const lib = await import('../../node/lib/index.mjs');
const cli = resolve('node/bin/triptych.mjs');
const builtKernel = (name) => join(buildDir, 'kernels', `${name}.wasm`);
const built = existsSync(join(buildDir, 'node/triptych.node')) && existsSync(builtKernel('faulty_abi'));
const skip = !built && `build ${buildDir} first (make build)`;

// The test kernel: particle i sits still at a place set on the first frame;
// vx counts the frames computed since then (the state that must carry over);
// vy says which kernel computed it (ID * 1000) plus how many tp_kernel_init
// calls that kernel had seen. Each chunk first checks that its input was
// computed by one kernel, all at one step: a frame that mixed two kernels
// fails the next one. SPIN_ITERATIONS of busy work per particle set how much
// of each frame period compute takes.
const KERNEL_SOURCE = `
#include "triptych_kernel.h"

STATIC_EXTRA
static volatile uint32_t inits; /* tp_kernel_init calls since this kernel's static data was installed */

TP_EXPORT(tp_kernel_abi_version) uint32_t tp_kernel_abi_version(void) { return TP_KERNEL_ABI_VERSION; }

TP_EXPORT(tp_kernel_init) int32_t tp_kernel_init(const tp_kernel_ctx* ctx) {
  (void)ctx;
  __atomic_fetch_add(&inits, 1u, __ATOMIC_RELAXED);
  INIT_EXTRA
  return 0;
}

TP_EXPORT(tp_kernel_step)
int32_t tp_kernel_step(const tp_kernel_ctx* ctx, uint32_t begin, uint32_t end) {
  const tp_particle* in = tp_kernel_ptr(ctx, ctx->input_offset);
  tp_particle* out = tp_kernel_ptr(ctx, ctx->output_offset);
  const int first = (ctx->flags & TP_CTX_FIRST_FRAME) != 0;
  if (!first) {
    const float producer = in[0].vy, step = in[0].vx;
    for (uint32_t i = begin; i < end; ++i) {
      if ((float)(int)(in[i].vy / 1000.0f) != (float)(int)(producer / 1000.0f) || in[i].vx != step) return 2;
    }
  }
  const float me = (float)KERNEL_ID * 1000.0f + (float)__atomic_load_n(&inits, __ATOMIC_RELAXED);
  for (uint32_t i = begin; i < end; ++i) {
    for (volatile uint32_t k = 0; k < SPIN_ITERATIONS; ++k) {
    }
    if (first) {
      out[i] = (tp_particle){.x = -0.9f + (float)(i % 64u) * 0.028f, .y = -0.9f + (float)(i / 64u % 64u) * 0.028f,
                             .vx = 1.0f, .size = 0.004f, .rgba = 0xffffffffu, .shape = TP_SHAPE_CIRCLE};
    } else {
      out[i] = in[i];
      out[i].vx = in[i].vx + 1.0f;
    }
    out[i].vy = me;
  }
  return 0;
}
`;

// Busy work per particle: a light scene (about a quarter of the 8.3 ms
// period in compute here) and a busy one (about the whole period).
const LIGHT_SPIN = 300;
const BUSY_SPIN = 1500;

function buildTestKernel(dir, name, { id = 1, initExtra = '', spin = LIGHT_SPIN, extra = '', source } = {}) {
  const src = join(dir, `${name}.c`);
  const text = source ?? KERNEL_SOURCE.replace('STATIC_EXTRA', extra).replace('INIT_EXTRA', initExtra);
  writeFileSync(src, `#define KERNEL_ID ${id}\n#define SPIN_ITERATIONS ${spin}u\n${text}`);
  const wasm = join(dir, `${name}.wasm`);
  const r = spawnSync(process.execPath, [cli, 'kernel', 'build', src, '-o', wasm], { encoding: 'utf8' });
  assert.equal(r.status, 0, `building ${name}: ${r.stderr}`);
  return wasm;
}

// Every particle of the newest compute slot (the one whose step count is
// highest): {steps, producer, inits, homogeneous}.
function newestSlot(engine, particles) {
  let best = null;
  for (const z of ['compute A', 'compute B', 'compute C']) {
    const f = new Float32Array(engine.kernelMemory.buffer, engine.zoneMap.zones[z].offset, particles * 8);
    if (best === null || f[2] > best[2]) best = f;
  }
  const homogeneous = Array.from({ length: particles }, (_, i) => i).every((i) => best[i * 8 + 2] === best[2] && best[i * 8 + 3] === best[3]);
  return { steps: best[2], producer: Math.floor(best[3] / 1000), inits: best[3] % 1000, homogeneous };
}

const scene = { particles: 4096, grain: 256, hz: 120, width: 64, height: 64, renderer: 'cpu', lag: 'wait' };
const dir = built ? mkdtempSync(join(tmpdir(), 'triptych-hot-swap-test-')) : null;

// 20 swaps between two kernels that spin `spin` iterations per particle.
async function twentySwaps(spin) {
  const kernels = [buildTestKernel(dir, `carry_a_${spin}`, { id: 1, spin }), buildTestKernel(dir, `carry_b_${spin}`, { id: 2, spin })];
  const engine = await lib.createEngine({ ...scene, kernel: kernels[0], seconds: 0 });
  try {
    engine.start();
    await new Promise((r) => setTimeout(r, 200));
    let before = newestSlot(engine, scene.particles);
    assert.ok(before.steps > 0, 'frames were computed before the first swap');
    for (let n = 1; n <= 20; n++) {
      const next = kernels[n % 2];
      const r = await engine.swapKernel(n % 4 === 1 ? readFileSync(next) : next);
      assert.equal(r.ok, true);
      assert.equal(r.generation, n);
      assert.ok(r.fromFrame > 0 && r.buildMs > 0 && r.swapMs >= 0, JSON.stringify(r));
      assert.equal(engine.kernel.generation, n);
      assert.equal(engine.kernel.sha256, r.sha256);
      // Let the new kernel compute a few frames, then look at its output.
      await new Promise((res) => setTimeout(res, 40));
      assert.equal(engine.status().failed, 0, `swap ${n}: no frame failed (a frame computed by two kernels fails the next): ${engine.failures[0]}`);
      const after = newestSlot(engine, scene.particles);
      assert.ok(after.steps > before.steps, `swap ${n}: the step count goes on (${before.steps} -> ${after.steps}), never restarts`);
      before = after;
    }
    engine.requestStop();
    const s = await engine.wait();
    assert.equal(s.error, '');
    assert.equal(s.failed, 0, `no failed frame: ${engine.failures.slice(0, 3).join('; ')}`);
    assert.equal(s.inFlight, 0);
    assert.equal(s.issued, s.presented + s.dropped + s.failed, 'every issued frame accounted');
    const last = newestSlot(engine, scene.particles);
    assert.ok(last.homogeneous, 'the newest frame was computed by one kernel at one step');
    assert.equal(last.steps, s.issued, 'every frame stepped the same particles: the state carried over all 20 swaps');
    assert.equal(last.producer, 1, 'the 20th swap (an even one) installed kernel A');
    assert.ok(last.inits >= 1 && last.inits <= engine.workerCount, `tp_kernel_init ran for the new kernel (${last.inits} calls)`);

    const out = mkdtempSync(join(tmpdir(), 'triptych-hot-swap-out-'));
    engine.writeOutputs({ trace: join(out, 'trace.json'), stats: join(out, 'stats.json') }, { scene: 'test' });
    const stats = JSON.parse(readFileSync(join(out, 'stats.json'), 'utf8'));
    assert.equal(stats.config.kernel, kernels[0]);
    assert.equal(stats.config['kernel abi'], '2');
    assert.match(stats.config['kernel sha256'], /^[0-9a-f]{12}$/);
    assert.equal(stats.config['kernel swaps'], '20 swapped, 0 refused');
    assert.match(stats.config['kernel swap 20'], /^from frame \d+: .*carry_a_\d+\.wasm \(ABI 2, sha256 [0-9a-f]{12}\), build [\d.]+ ms, swap [\d.]+ ms/);
    const spans = JSON.parse(readFileSync(join(out, 'trace.json'), 'utf8')).traceEvents.filter((e) => e.cat === 'span');
    assert.equal(spans.filter((e) => e.name === 'kernel swap').length, 20, 'one trace span per swap');
    assert.equal(spans.filter((e) => e.name === 'kernel build').length, 20, 'one build span per swap');
  } finally {
    await engine.close();
  }
}

test('20 swaps during a light 120 Hz run: no failed frame, exact accounting, state carried over', { skip, timeout: 120000 }, async () => {
  await twentySwaps(LIGHT_SPIN);
});

// The workers prepare a kernel while idle, which is just after a frame, so in
// a light scene the arm mostly lands between frames; here compute fills most
// of each period, so most arms land mid-frame: the boundary must hold.
test('20 swaps while compute fills the frame: no frame mixes two kernels', { skip, timeout: 120000 }, async () => {
  await twentySwaps(BUSY_SPIN);
});

test('a broken replacement is refused with its error; the old kernel keeps running', { skip, timeout: 120000 }, async () => {
  const good = buildTestKernel(dir, 'keeps_running', { id: 3, spin: 0 });
  const trapsInInit = buildTestKernel(dir, 'traps_in_init', { id: 4, spin: 0, initExtra: '__builtin_trap();' });
  const refusesInit = buildTestKernel(dir, 'refuses_init', { id: 5, spin: 0, initExtra: 'if (ctx->item_count > 0) return 7;' });
  const hangsInInit = buildTestKernel(dir, 'hangs_in_init', { id: 6, spin: 0, initExtra: 'for (volatile int on = 1; on;) {}' });
  const tooBig = buildTestKernel(dir, 'too_big', { id: 7, spin: 0, extra: 'static volatile uint8_t ballast[262144] = {1};',
    initExtra: 'ballast[1] = ballast[0];' });
  const engine = await lib.createEngine({ ...scene, kernel: good, seconds: 0, deadlineMs: 300 });
  try {
    engine.start();
    const running = engine.kernel;
    const cases = [
      [new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 200]), 'ERR_TRIPTYCH_BAD_WASM', /not a valid WebAssembly module/],
      [join(dir, 'missing.wasm'), 'ERR_TRIPTYCH_KERNEL_NOT_FOUND', /cannot read kernel/],
      [builtKernel('faulty_abi'), 'ERR_TRIPTYCH_KERNEL_ABI', /speaks kernel ABI 7; this engine speaks 2/],
      [builtKernel('faulty_no_step'), 'ERR_TRIPTYCH_KERNEL_EXPORTS', /tp_kernel_step/],
      [trapsInInit, 'ERR_TRIPTYCH_KERNEL_INIT', /tp_kernel_init trapped: RuntimeError: unreachable/],
      [refusesInit, 'ERR_TRIPTYCH_KERNEL_INIT', /tp_kernel_init returned 7/],
      [hangsInInit, 'ERR_TRIPTYCH_KERNEL_INIT', /ran past the 300 ms deadline/],
      [tooBig, 'ERR_TRIPTYCH_KERNEL_TOO_BIG', /static data ends at byte \d+, past the kernel context/],
    ];
    for (const [source, code, message] of cases) {
      const issued = engine.status().issued;
      await assert.rejects(engine.swapKernel(source), (err) => {
        assert.equal(err.code, code, err.message);
        assert.match(err.message, message);
        return true;
      });
      assert.deepEqual(engine.kernel, running, 'the old kernel is still the running one');
      await new Promise((r) => setTimeout(r, 60));
      assert.ok(engine.status().issued > issued, 'frames go on');
      assert.equal(newestSlot(engine, scene.particles).producer, 3, 'computed by the old kernel');
    }
    // After all that, a good swap still works.
    const r = await engine.swapKernel(buildTestKernel(dir, 'after_refusals', { id: 8, spin: 0 }));
    assert.equal(r.generation, cases.length + 1);
    await new Promise((res) => setTimeout(res, 60));
    assert.equal(newestSlot(engine, scene.particles).producer, 8);
    engine.requestStop();
    const s = await engine.wait();
    assert.equal(s.failed, 0, engine.failures.slice(0, 3).join('; '));
    assert.equal(s.issued, s.presented + s.dropped + s.failed);
    const swaps = engine.kernelSwaps;
    assert.equal(swaps.length, cases.length + 1);
    assert.deepEqual(swaps.map((w) => w.ok), [...cases.map(() => false), true]);
    assert.match(swaps[4].error, /unreachable/);
  } finally {
    await engine.close();
  }
});

test('swapKernel on a native-compute engine is refused', { skip }, async () => {
  const engine = await lib.createEngine({ ...scene, compute: 'native', frames: 1 });
  try {
    await assert.rejects(engine.swapKernel(builtKernel('faulty_abi')), { code: 'ERR_TRIPTYCH_KERNEL_SWAP', message: /compute 'wasm'/ });
    assert.equal(engine.kernel.file, null);
  } finally {
    await engine.close();
  }
});
