#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every libFuzzer target built under BUILD_DIR/fuzz for SECONDS each,
# starting from its checked-in seed corpus, kept beside the target
# (fuzz/<subsystem>/corpus/<target>). A crash
# fails the run and leaves the reproducer in build/fuzz-artifacts/.
set -euo pipefail
build_dir=${1:?build dir}; seconds=${2:-20}
shopt -s nullglob
targets=("$build_dir"/fuzz/*/fuzz_*)
if (( ${#targets[@]} == 0 )); then echo "run-fuzz: no fuzz targets built yet"; exit 0; fi
mkdir -p build/fuzz-artifacts
for target in "${targets[@]}"; do
  [[ -x "$target" ]] || continue
  name=$(basename "$target")
  sub=$(basename "$(dirname "$target")")
  seeds="fuzz/$sub/corpus/${name#fuzz_}"
  if [[ ! -d $seeds ]]; then echo "run-fuzz: $name has no seed corpus at $seeds" >&2; exit 1; fi
  work="build/fuzz-corpus/$name"; mkdir -p "$work"
  echo "run-fuzz: $name for ${seconds}s"
  "$target" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix=build/fuzz-artifacts/ "$work" "$seeds" 2>&1 | tail -n 12
done
