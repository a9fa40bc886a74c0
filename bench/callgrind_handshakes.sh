#!/usr/bin/env bash
# Instructions of the measured handshakes of bench/inprocess_handshakes.ts under callgrind: the
# set-up (server start, warm-up, device keys) runs with instrumentation off, the handshakes with
# it on. Prints the instruction count (Ir). Take two counts and divide the difference by the
# handshakes' difference (the toggles and the tail cancel out):
#   bench/callgrind_handshakes.sh 100 > a; bench/callgrind_handshakes.sh 300 > b  # (b-a)/200
# Usage: [LOG_LEVEL=info|warning] [WARM=200] bench/callgrind_handshakes.sh HANDSHAKES
set -euo pipefail
count="$1"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gate="$(mktemp -d)"
out="$gate/callgrind.out"
cd "$root"
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$out" \
  .tools/node_modules/.bin/deno run -A \
  --v8-flags=--single-threaded,--hash-seed=1,--random-seed=1 \
  bench/inprocess_handshakes.ts --handshakes "$count" --warm "${WARM:-200}" \
  --log-level "${LOG_LEVEL:-info}" --gate "$gate" \
  >"$gate/stdout" 2>"$gate/stderr" &
vg=$!
wait_for() { while [ ! -e "$gate/$1" ]; do
  if ! kill -0 "$vg" 2>/dev/null; then cat "$gate/stderr" >&2; exit 1; fi
  sleep 0.5
done; }
wait_for ready
callgrind_control -i on "$vg" >/dev/null
touch "$gate/go"
wait_for done
callgrind_control -i off "$vg" >/dev/null
touch "$gate/end"
wait "$vg"
cat "$gate/stdout" >&2
if [ -n "${KEEP_CALLGRIND:-}" ]; then cp "$out" "$KEEP_CALLGRIND"; fi
# (No `grep -m1`: its early exit fails the pipeline under pipefail.)
callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ && !n {n=1; gsub(",", "", $1); print $1}'
rm -rf "$gate"
