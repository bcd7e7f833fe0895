#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the SPIN models in models/ (see docs/verification.md). Each model's
# own run.sh states what it checks and exits non-zero on any violation.
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
runs=(models/*/run.sh)
if (( ${#runs[@]} == 0 )); then echo "run-models: no models yet"; exit 0; fi
for r in "${runs[@]}"; do echo "run-models: $r"; bash "$r"; done
