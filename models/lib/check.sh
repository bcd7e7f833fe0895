#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Helpers the models' run.sh scripts source (see docs/verification.md). Each
# check generates and compiles a SPIN verifier in a private temporary
# directory, runs an exhaustive search, and decides from pan's own report:
# a "pass" check needs a full, complete search with 0 errors; a "fail" check
# (a seeded bug) needs an assertion violation whose text matches a pattern.
# Nothing is left in the source tree. Callers: models/*/run.sh only.

set -euo pipefail

command -v spin >/dev/null || { echo "models: spin is not installed (apt-get install spin)" >&2; exit 2; }
command -v gcc >/dev/null || { echo "models: gcc is not installed" >&2; exit 2; }

CHECK_TMP=$(mktemp -d "${TMPDIR:-/tmp}/triptych-models.XXXXXX")
trap 'rm -rf "$CHECK_TMP"' EXIT
CHECK_FAILED=0
CHECK_PASSED=0
CHECK_CAUGHT=0

# Pan's depth bound; every model here stays far below it, and a search that
# hits it is reported as incomplete (a failure), never as a pass.
PAN_DEPTH=${PAN_DEPTH:-200000}
# Memory bound in MB: running out is also an incomplete search.
PAN_MEMLIM=${PAN_MEMLIM:-2048}

# check LABEL MODEL.pml MODE EXPECT [spin -D flags...]
#   MODE:   safety   (assertions + invalid end states, i.e. deadlock)
#           liveness (the model's ltl claim under weak fairness, -DLIVENESS)
#   EXPECT: pass, or fail:REGEX (an assertion violation matching REGEX)
check() {
  local label=$1 model=$2 mode=$3 expect=$4
  shift 4
  local dir="$CHECK_TMP/$label"
  mkdir -p "$dir"
  local src
  src=$(cd "$(dirname "$model")" && pwd)/$(basename "$model")
  local t0 t1 out rc=0 spin_defs=("$@") cc_defs=() pan_args=(-m"$PAN_DEPTH")
  if [[ $mode == liveness ]]; then
    spin_defs+=(-DLIVENESS)
    pan_args+=(-a -f)
  else
    cc_defs+=(-DSAFETY)
  fi
  t0=$(date +%s.%N)
  if ! (cd "$dir" && spin "${spin_defs[@]}" -a "$src" >spin.log 2>&1); then
    echo "  $label: ERROR spin could not generate a verifier:"; sed 's/^/    /' "$dir/spin.log"
    CHECK_FAILED=1; return
  fi
  # -w: pan's generated code trips gcc's -Wstringop-overflow on its undo paths.
  if ! (cd "$dir" && gcc -w -O0 -DMEMLIM="$PAN_MEMLIM" "${cc_defs[@]}" -o pan pan.c >cc.log 2>&1); then
    echo "  $label: ERROR pan.c did not compile:"; sed 's/^/    /' "$dir/cc.log"
    CHECK_FAILED=1; return
  fi
  out=$(cd "$dir" && ./pan "${pan_args[@]}" 2>&1) || rc=$?
  t1=$(date +%s.%N)
  local secs states errors incomplete=""
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
  states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' <<<"$out" | head -n1)
  errors=$(sed -n 's/.*errors: \([0-9]*\).*/\1/p' <<<"$out" | head -n1)
  if grep -qE 'max search depth too small|out of memory|reached -DMEMLIM bound|Search not completed|pan: indexing|Bit statespace' <<<"$out"; then
    incomplete=$(grep -m1 -E 'max search depth too small|out of memory|reached -DMEMLIM bound|Search not completed|pan: indexing|Bit statespace' <<<"$out")
  fi
  if ! grep -q 'Full statespace search' <<<"$out"; then incomplete=${incomplete:-"no full-statespace report"}; fi
  local what="${mode}, ${states:-?} states, ${secs}s"
  if [[ $expect == pass ]]; then
    if [[ $rc -eq 0 && ${errors:-x} == 0 && -z $incomplete ]]; then
      echo "  $label: ok ($what)"
      CHECK_PASSED=$((CHECK_PASSED + 1))
    else
      echo "  $label: FAILED ($what; errors=${errors:-?}${incomplete:+; incomplete: $incomplete})"
      grep -E '^pan:.*(assertion violated|invalid end state|acceptance cycle|non-progress)' <<<"$out" | head -n3 | sed 's/^/    /' || true
      CHECK_FAILED=1
    fi
  else
    local pattern=${expect#fail:} violated
    violated=$(grep -m1 -E 'assertion violated' <<<"$out" || true)
    if [[ -n $violated ]] && grep -qE "$pattern" <<<"$violated"; then
      echo "  $label: caught as required ($what; ${violated#pan:1: })"
      CHECK_CAUGHT=$((CHECK_CAUGHT + 1))
    else
      echo "  $label: FAILED: the seeded bug was NOT caught as /$pattern/ ($what; errors=${errors:-?}${violated:+; got: $violated}${incomplete:+; incomplete: $incomplete}); the model is too weak"
      CHECK_FAILED=1
    fi
  fi
}

# verdict NAME: the one-line result; exits non-zero if any check failed.
verdict() {
  local name=$1
  if [[ $CHECK_FAILED -ne 0 ]]; then
    echo "$name: FAIL"
    exit 1
  fi
  echo "$name: PASS ($CHECK_PASSED exhaustive checks clean, $CHECK_CAUGHT seeded bugs caught)"
}
