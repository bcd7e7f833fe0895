#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Model-checks the triple-buffer protocol (triple_buffer.pml; docs/verification.md):
# the real memory orders must pass the exhaustive safety search and the
# liveness claim, and each seeded bug (one acquire or release weakened to
# relaxed) must be caught. Exits non-zero otherwise. About a few seconds on one core.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/check.sh"
model="$here/triple_buffer.pml"
frames=(-DNFRAMES=8)

echo "triple_buffer: writer publishes 8 frames, reader polls to the last"
check tb_safety      "$model" safety   pass "${frames[@]}"
check tb_liveness    "$model" liveness pass "${frames[@]}"
# The required seeded bug: the reader's exchange is release-only (its acquire
# swapped for relaxed). Caught by the race check; and with the race check off
# and only the torn-frame assertion left, by a torn frame actually read.
check tb_seed_race   "$model" safety   'fail:race_free'  "${frames[@]}" -DSEED_BUG
check tb_seed_torn   "$model" safety   'fail:\(fid==fsum\)' "${frames[@]}" -DSEED_BUG -DRACE_CHECK=0 -DTORN_ONLY
# Further weakenings, each of which must also be caught.
check tb_writer_acq  "$model" safety   'fail:race_free'  "${frames[@]}" -DWRITER_ACQ=0
check tb_writer_rel  "$model" safety   'fail:\(fid==fsum\)' "${frames[@]}" -DWRITER_REL=0 -DRACE_CHECK=0 -DTORN_ONLY
check tb_reader_rel  "$model" safety   'fail:race_free'  "${frames[@]}" -DREADER_REL=0
verdict triple_buffer
