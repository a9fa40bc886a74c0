#!/usr/bin/env bash
# Runs one in-process bench (bench/inprocess_*.ts) under callgrind with instrumentation only
# between the bench's gate marks (`--gate DIR`: it writes `ready`, waits for `go`, writes
# `done`, waits for `end`), and prints the instruction count (Ir) of that part.
# FAIR_SCHED=yes: valgrind's --fair-sched (needed when the bench starts Worker threads).
# KEEP_CALLGRIND=FILE: keep the callgrind output.
# EXTRA_V8_FLAGS=a,b: more V8 flags (e.g. --predictable-gc-schedule).
#   A full GC inside or outside the window swings a count by up to 50%; for A/B comparisons of
#   the pairs bench, --initial-old-space-size=1024,--min-semi-space-size=16 keeps identical trees
#   within ~0.1% (session 12).
# Usage: bench/callgrind_gated.sh BENCH.ts [bench options...]
set -euo pipefail
bench="$1"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
gate="$(mktemp -d)"
out="$gate/callgrind.out"
cd "$root"
valgrind --tool=callgrind --fair-sched="${FAIR_SCHED:-no}" --instr-atstart=no \
  --callgrind-out-file="$out" \
  .tools/node_modules/.bin/deno run -A \
  --v8-flags=--single-threaded,--hash-seed=1,--random-seed=1${EXTRA_V8_FLAGS:+,$EXTRA_V8_FLAGS} \
  "$bench" "$@" --gate "$gate" \
  >"$gate/stdout" 2>"$gate/stderr" &
vg=$!
wait_for() { while [ ! -e "$gate/$1" ]; do
  if ! kill -0 "$vg" 2>/dev/null; then cat "$gate/stderr" >&2; exit 1; fi
  sleep 0.2
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
