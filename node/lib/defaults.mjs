// SPDX-License-Identifier: Apache-2.0
// The run options' defaults, in one place for every JS host: createEngine()
// (index.mjs), the CLI's parsing and its --help text (bin/triptych.mjs). The
// numbers the native engine shares (pipeline::EngineConfig{}) are checked
// against the addon's engineDefaults() by tests/node/addon.test.mjs, so the
// native host (tools/triptych-run) defaults to the same scene.
export const DEFAULTS = Object.freeze({
  particles: 8000, hz: 60, frames: 600, grain: 2048, workers: 0, renderer: 'vulkan',
  width: 640, height: 480, lag: 'wait', seed: 1, validation: false, compute: 'wasm',
  deadlineMs: 1000, wasmTier: 'eager', workerStackBytes: 256 * 1024, plan: {}, hostPresents: false,
  workerHeapMb: 0,
});
