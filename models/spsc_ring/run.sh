#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Model-checks the SPSC ring protocol (spsc_ring.pml; docs/verification.md) at
# capacity 2: the real memory orders must pass the exhaustive safety search and
# the liveness claim, and each seeded bug (one acquire or release weakened to
# relaxed) must be caught. Exits non-zero otherwise. A few seconds on one core.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/check.sh"
model="$here/spsc_ring.pml"
size=(-DNMSG=6 -DBATCH=2)

echo "spsc_ring: capacity 2, 6 messages, batches of 1 or 2"
check ring_safety      "$model" safety   pass "${size[@]}"
check ring_liveness    "$model" liveness pass "${size[@]}"
# The required seeded bug: the consumer's acquire load of tail is relaxed.
check ring_seed_race   "$model" safety   'fail:race_free'           "${size[@]}" -DSEED_BUG
check ring_seed_value  "$model" safety   'fail:\(x(==|!=)'          "${size[@]}" -DSEED_BUG -DRACE_CHECK=0
# Further weakenings, each of which must also be caught.
check ring_prod_acq    "$model" safety   'fail:race_free'           "${size[@]}" -DPROD_HEAD_ACQ=0
check ring_prod_rel    "$model" safety   'fail:\(x(==|!=)'          "${size[@]}" -DPROD_TAIL_REL=0 -DRACE_CHECK=0
check ring_cons_rel    "$model" safety   'fail:race_free'           "${size[@]}" -DCONS_HEAD_REL=0
verdict spsc_ring
