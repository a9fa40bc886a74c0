#!/usr/bin/env bash
# Instructions of the measured rounds of bench/inprocess_multipath.ts under callgrind: the set-up
# runs with instrumentation off, the rounds with it on. Prints the instruction count (Ir).
# Take two round counts and divide the difference by the deliveries' difference (the toggles
# and the last round's tail cancel out):
#   bench/callgrind_multipath.sh 20 > a; bench/callgrind_multipath.sh 60 > b   # per delivery: (b-a)/(40·8·8)
# MP_ARGS: more options of the bench (e.g. "--paths 1" for the single-path reference).
# Usage: [MP_ARGS="--paths 1"] bench/callgrind_multipath.sh ROUNDS [PAIRS]
set -euo pipefail
rounds="$1"
pairs="${2:-4}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gate="$(mktemp -d)"
out="$gate/callgrind.out"
cd "$root"
valgrind --tool=callgrind --fair-sched=yes --instr-atstart=no --callgrind-out-file="$out" \
  .tools/node_modules/.bin/deno run -A \
  --v8-flags=--single-threaded,--hash-seed=1,--random-seed=1 \
  bench/inprocess_multipath.ts --rounds "$rounds" --warm 50 --pairs "$pairs" --gate "$gate" $MP_ARGS \
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
callgrind_annotate "$out" 2>/dev/null | grep -m1 "PROGRAM TOTALS" | awk '{gsub(",", "", $1); print $1}'
if [ -n "${KEEP_CALLGRIND:-}" ]; then cp "$out" "$KEEP_CALLGRIND"; fi
rm -rf "$gate"
