#!/usr/bin/env bash
# Instructions of the measured handshakes of bench/inprocess_handshakes.ts under callgrind: the
# set-up (server start, warm-up, device keys) runs with instrumentation off, the handshakes with
# it on. Prints the instruction count (Ir). Take two counts and divide the difference by the
# handshakes' difference (the toggles and the tail cancel out):
#   bench/callgrind_handshakes.sh 100 > a; bench/callgrind_handshakes.sh 300 > b  # (b-a)/200
# Usage: [LOG_LEVEL=info|warning] [WARM=200] bench/callgrind_handshakes.sh HANDSHAKES
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/callgrind_gated.sh" bench/inprocess_handshakes.ts \
  --handshakes "$1" --warm "${WARM:-200}" --log-level "${LOG_LEVEL:-info}"
