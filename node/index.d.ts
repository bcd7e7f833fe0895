// SPDX-License-Identifier: Apache-2.0
// TypeScript declarations for the triptych JS API (node/lib/index.mjs).
// Design: docs/node.md.

export interface PlanOptions {
  /** Plan for the machine in this hwloc XML file instead of this one. */
  topology?: string;
  reservedCores?: number;
  computeThreads?: number;
  renderThreads?: number;
  /** CPU lists such as "0-2,5". */
  reservedCpus?: string;
  computeCpus?: string;
  renderCpus?: string;
  smt?: boolean;
  oversubscribe?: boolean;
}

export interface EngineOptions {
  /** Path of a kernel .wasm (default: the built particle kernel). */
  kernel?: string;
  particles?: number;
  /** Target frame rate; 0 = as fast as possible. */
  hz?: number;
  /** Wall-clock seconds to run, at any rate (default 10); 0 = until requestStop(). */
  seconds?: number;
  /** Frames to run instead of `seconds` (giving both is refused). */
  frames?: number;
  /** Particles per compute chunk. */
  grain?: number;
  /** Compute workers; 0 = one per compute CPU of the plan. */
  workers?: number;
  /** auto (default): Vulkan, unless the only device is software; then the faster of the two, measured at start-up. */
  renderer?: 'auto' | 'vulkan' | 'cpu';
  /** Where frames are shown: a window (paced at hz), offscreen (readback only), or auto (a window when a display is there). Default 'offscreen'. */
  present?: 'auto' | 'window' | 'offscreen';
  /** In a window, the HUD (fps, frame times, stage bars, misses, drops, governor; key H toggles it). Default 'on'. */
  hud?: 'on' | 'off';
  /** In a window, whose deadlines pace the frames: the frame loop's own (default) or the presenter's; offscreen always the frame loop's. */
  clock?: 'presenter' | 'frame-loop';
  /** The deadline governor (default on): sheds render cost, then rate, to keep the deadline. */
  governor?: 'on' | 'off';
  /** Rebalance CPUs between compute and render from measured stage times (default off). */
  adaptivePlan?: 'on' | 'off';
  /** How particles reach the GPU: pulled from the compute slot, or through the CPU layout pass (default auto). */
  particlePath?: 'auto' | 'gpu' | 'cpu';
  /** How the Vulkan stage draws: quads (vertex + fragment), or splat (compute only); auto measures at start-up (default). */
  raster?: 'auto' | 'quads' | 'splat';
  /** Frames in the render stage at once, 1-3 (default 2). */
  framesInFlight?: number;
  /** Render in a supervised render process of its own (default off; with renderer 'vulkan' Vulkan there, else the CPU reference). */
  isolate?: boolean;
  /** Vulkan device name substring. */
  device?: string;
  deviceIndex?: number;
  validation?: boolean;
  width?: number;
  height?: number;
  lag?: 'wait' | 'drop';
  /** 'copy-in' is the copy baseline's feed (set by createCopyBaseline). */
  compute?: 'wasm' | 'native' | 'copy-in';
  wasmTier?: 'eager' | 'lazy';
  /** A chunk running longer than this fails its frame; its worker is replaced. */
  deadlineMs?: number;
  seed?: number;
  workerStackBytes?: number;
  plan?: PlanOptions;
  /** The host takes each finished frame with copyResult() (a UI), instead of the engine presenting it. */
  hostPresents?: boolean;
  /** A worker's JS heap limit in MiB (resourceLimits.maxOldGenerationSizeMb); 0 = none. */
  workerHeapMb?: number;
  /** Where worker deaths and replacements are logged; default stderr. */
  log?: (line: string) => void;
}

export interface EngineStatus {
  issued: number;
  computed: number;
  failed: number;
  dropped: number;
  presented: number;
  /** --isolate: frames held by a render process that crashed. */
  lost: number;
  /** issued - presented - dropped - failed - lost; 0 once finished. */
  inFlight: number;
  /** Particles the render stage's validation dropped (non-finite, negative size, unknown shape, overflow), summed over the run. */
  particlesRejected: number;
  /** Particles drawn with their size or line length clamped, summed over the run. */
  particlesClamped: number;
  /** --isolate: rendering in the render process now (false once it fell back in-process). */
  isolated: boolean;
  /** The render process now; 0 when none. */
  renderPid: number;
  renderCrashes: number;
  renderRespawns: number;
  /** Refused DONE messages (forged, stale, malformed). */
  renderViolations: number;
  /** Results refused on validation (torn or spoiled): those frames count failed. */
  renderResultsRefused: number;
  /** Why it fell back to the in-process renderer; empty if it did not. */
  isolationFallback: string;
  started: boolean;
  late: number;
  elapsedS: number;
  fps: number;
  p50Ms: number;
  p99Ms: number;
  running: boolean;
  finished: boolean;
  /** First fatal error, or "". */
  error: string;
  lastFailure: string;
  replacements: number;
}

export interface Outputs {
  trace?: string;
  report?: string;
  csv?: string;
  stats?: string;
  snapshot?: string;
}

/** A zone: its offset and size in the memory it is in. */
export interface ZoneInfo { offset: number; size: number; memory: 'kernel' | 'engine'; }

export interface ZoneMap {
  /** Bytes of the kernel's memory: kernel zone (static data, context, stacks), compute A B C. */
  kernelBytes: number;
  /** Bytes of the engine's memory: header, control blocks, layout and result zones, rings, trace. */
  engineBytes: number;
  stacksOffset: number;
  stackStride: number;
  workers: number;
  zones: Record<string, ZoneInfo>;
}

export interface WorkerInfo { slot: number; cpu: number; tid: number; member: number; }

/** A kernel as the outputs name it: file (null: compiled in), ABI version, first 12 hex digits of its sha256. */
export interface KernelIdentity { file: string | null; name: string; abi: number; sha256: string | null; generation: number; }

/** One engine.swapKernel() attempt (refused ones carry `error`). */
export interface KernelSwap {
  generation: number; ok: boolean; file: string; name: string | null; abi: number | null; sha256: string | null;
  buildMs: number | null; swapMs: number | null; frameCostMs: number | null; fromFrame: number | null; error: string | null;
}

export declare class Engine {
  /** The kernel's memory: the only memory kernel instances import; compute zones are here (null for native compute). */
  readonly kernelMemory: WebAssembly.Memory | null;
  /** The engine's memory, which no kernel is given: control blocks, trace, layout and result zones (null for native compute). */
  readonly engineMemory: WebAssembly.Memory | null;
  readonly zoneMap: ZoneMap | null;
  readonly renderer: string;
  readonly workerCount: number;
  readonly workers: WorkerInfo[];
  readonly replacements: number;
  /** Each failed frame's cause (the first kept). */
  readonly failures: string[];
  failureLog(): { kept: { frame: number; cause: string }[]; notKept: number };
  /** Worker deaths, deadline kills and replacements, in order. */
  readonly workerEvents: { slot: number; event: 'died' | 'deadline' | 'replaced' | 'lost'; cause: string }[];
  /** Test only: terminates worker `slot` as an outside kill would. */
  _terminateWorkerForTest(slot: number, opts?: { failRespawn?: boolean }): Promise<number>;
  /** Test only: worker `slot` exhausts its JS heap (needs workerHeapMb). */
  _exhaustWorkerHeapForTest(slot: number): void;
  start(): void;
  status(): EngineStatus;
  run(options?: { onStatus?: (s: EngineStatus) => void; intervalMs?: number }): Promise<EngineStatus>;
  wait(options?: { onStatus?: (s: EngineStatus) => void; intervalMs?: number }): Promise<EngineStatus>;
  requestStop(): void;
  writeOutputs(paths: Outputs, runConfig?: Record<string, string | number | boolean>): void;
  /** The kernel running now. */
  readonly kernel: KernelIdentity;
  /** Every swap tried, in order. */
  readonly kernelSwaps: KernelSwap[];
  /** Swaps in a kernel (.wasm path or bytes) at the next frame boundary; rejects with a KernelError and keeps the old one. */
  swapKernel(source: string | Uint8Array | ArrayBuffer, options?: { buildMs?: number; file?: string }): Promise<KernelSwap>;
  summaryTable(): string;
  /** With hostPresents: copies the newest frame's RGBA8 pixels; its frame id, or null if none is new. */
  copyResult(pixels: Uint8Array | Uint8ClampedArray): number | null;
  close(): Promise<void>;
}

export declare function createEngine(options?: EngineOptions): Promise<Engine>;
/** Every option with its default, checked against the run options table (throws OptionError). */
export declare function normaliseOptions(options?: EngineOptions): Required<Omit<EngineOptions, 'kernel' | 'device' | 'log'>> & EngineOptions;
/** The defaults every host shares (the run options table's). */
export declare function defaults(): EngineOptions;
export declare function plan(options?: PlanOptions): { table: string; json: string };
/** Where `present: 'auto'` would show frames on this machine: a window, or offscreen and why. */
export declare function presentProbe(): { window: boolean; why: string };
export declare function devices(): Array<{ index: number; name: string; type: string; usable: boolean; hostImport: boolean; apiVersion: string; picked: boolean; why: string }>;
export declare function buildDir(): string;
export declare function defaultKernelPath(): string;
export declare function setWasmTiering(mode: 'eager' | 'lazy'): void;

export declare class TriptychError extends Error { readonly code: string; }
export declare class OptionError extends TriptychError {}
export declare class KernelError extends TriptychError {}
