#!/usr/bin/env bash
# Instructions of the measured rounds of bench/inprocess_multipath.ts under callgrind: the set-up
# runs with instrumentation off, the rounds with it on. Prints the instruction count (Ir).
# Take two round counts and divide the difference by the deliveries' difference (the toggles
# and the last round's tail cancel out):
#   bench/callgrind_multipath.sh 20 > a; bench/callgrind_multipath.sh 60 > b   # per delivery: (b-a)/(40·8·8)
# MP_ARGS: more options of the bench (e.g. "--paths 1" for the single-path reference).
# Usage: [MP_ARGS="--paths 1"] bench/callgrind_multipath.sh ROUNDS [PAIRS]
set -euo pipefail
# shellcheck disable=SC2086 # MP_ARGS is a list of options
FAIR_SCHED=yes exec "$(dirname "${BASH_SOURCE[0]}")/callgrind_gated.sh" bench/inprocess_multipath.ts \
  --rounds "$1" --warm 50 --pairs "${2:-4}" ${MP_ARGS:-}
