#!/usr/bin/env bash
# Instructions of the measured rounds of bench/inprocess_pairs.ts under callgrind: the set-up
# runs with instrumentation off, the rounds with it on. Prints the instruction count (Ir).
# Take two round counts and divide the difference by the deliveries' difference (the toggles
# and the last round's tail cancel out):
#   bench/callgrind_pairs.sh 200 > a; bench/callgrind_pairs.sh 1200 > b   # per delivery: (b-a)/8000
# Usage: bench/callgrind_pairs.sh ROUNDS [PAIRS]
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/callgrind_gated.sh" bench/inprocess_pairs.ts \
  --rounds "$1" --warm 300 --pairs "${2:-4}"
