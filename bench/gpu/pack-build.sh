#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Puts what bench/gpu/run.mjs loads from a build folder (the addon, stripped,
# and the WASM kernels) into build/gpu (a few MB), so it can be carried to
# the GPU machine with .gpu under the 64 MiB limit. Usage:
#   bench/gpu/pack-build.sh [BUILD_DIR]   (default build/dev)
# then there: source .gpu/setup.sh; TRIPTYCH_BUILD_DIR=build/gpu node bench/gpu/run.mjs
# docs/BENCHMARKS.md ("make bench-gpu").
set -euo pipefail
src=${1:-build/dev}
dst=build/gpu
[[ -f $src/node/triptych.node ]] || { echo "pack-build: $src/node/triptych.node is not built: run 'make build'" >&2; exit 1; }
rm -rf "$dst"
mkdir -p "$dst/node" "$dst/kernels"
strip --strip-debug -o "$dst/node/triptych.node" "$src/node/triptych.node"
cp "$src"/kernels/*.wasm "$dst/kernels/"
du -sh "$dst"
