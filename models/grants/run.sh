#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Model-checks isolation mode's grant/DONE/reclaim protocol (grants.pml;
# docs/isolation.md "Grants"): the protocol must pass the exhaustive safety
# search, and each seeded bug must be caught. Exits non-zero otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/check.sh"
model="$here/grants.pml"
size=(-DNFRAMES=4 -DMAXOPEN=2 -DNDEATHS=2)

echo "grants: 4 frames, 2 open at most, 2 deaths, a child that replays and forges"
check grants_safety     "$model" safety pass "${size[@]}"
check grants_seed_open  "$model" safety 'fail:ends\[f\]==1|granted_epoch' "${size[@]}" -DSEED_NO_OPEN_CHECK
check grants_seed_lost  "$model" safety 'fail:ends\[i\]==1' "${size[@]}" -DSEED_NO_RECLAIM
verdict grants
