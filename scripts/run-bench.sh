#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every benchmark binary under BUILD_DIR/bench, then the Node benches,
# and prints their ratios.
# CPUs to pin to: BENCH_CPUS="0 1" (default: the first two allowed CPUs).
set -euo pipefail
build_dir=${1:?build dir}
shopt -s nullglob
cpus=${BENCH_CPUS:-"$(python3 -c 'import os; print(" ".join(map(str, sorted(os.sched_getaffinity(0))[:2])))')"}
for b in "$build_dir"/bench/*/bench_*; do
  [[ -x "$b" ]] || continue
  echo "== $(basename "$b") (cpus: $cpus)"
  if [[ "$(basename "$b")" == bench_present && -z "${DISPLAY:-}" ]] && command -v xvfb-run >/dev/null; then
    xvfb-run -a "$b" $cpus  # the window presenter needs an X server (docs/presenter.md)
  else
    "$b" $cpus
  fi
done
# The Node-side comparisons: the zero-copy pipeline against the copy baseline,
# and the kernel as WASM against native (docs/BENCHMARKS.md).
echo "== triptych bench pipeline"
TRIPTYCH_BUILD_DIR="$build_dir" node node/bin/triptych.mjs bench pipeline
echo "== triptych bench kernel"
TRIPTYCH_BUILD_DIR="$build_dir" node node/bin/triptych.mjs bench kernel
echo "== kernel boundary: two memories against one"
TRIPTYCH_BUILD_DIR="$build_dir" node bench/node/boundary_bench.mjs
echo "== isolation mode: in-process against isolated"
TRIPTYCH_BUILD_DIR="$build_dir" node bench/node/isolate_bench.mjs
