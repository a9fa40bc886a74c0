#!/usr/bin/env bash
# Instructions of the measured rounds of bench/inprocess_client.ts (the SDK client alone against
# a scripted server) under callgrind. Take two round counts and divide the difference by the
# deliveries' difference (the toggles and the last round's tail cancel out):
#   bench/callgrind_client.sh 200 > a; bench/callgrind_client.sh 1200 > b   # per delivery: (b-a)/8000
# Usage: bench/callgrind_client.sh ROUNDS [CLIENTS]
set -euo pipefail
# A GC schedule that does not follow measured speeds: on a loaded machine the same run's count
# otherwise moved by a third between runs (heap growth and GC timing from wall-clock rates).
export EXTRA_V8_FLAGS="${EXTRA_V8_FLAGS:---predictable-gc-schedule}"
exec "$(dirname "${BASH_SOURCE[0]}")/callgrind_gated.sh" bench/inprocess_client.ts \
  --rounds "$1" --warm 300 --clients "${2:-8}"
