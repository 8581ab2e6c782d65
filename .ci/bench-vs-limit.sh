#!/usr/bin/env bash
# The issue-17 steps, Fawkes against the tool's limit server, each step
# repeated and interleaved (fawkes, limit, fawkes, limit, ...) with a fresh
# server for every run, so that "in every run" is one command:
#
#   .ci/bench-vs-limit.sh                     # full size: ~30 min, a quiet machine
#   SUBS=50 RATES=100 DURATION=2s RUNS=2 CONNS=50 CONC=16 MEM_CONC=16 HOLD=1s SETTLE=500ms \
#     RPC_CONNS=5 .ci/bench-vs-limit.sh        # a check that it works (~1 min)
#
# Builds fawkes and fawkes-bench from the working tree into a temp dir. For
# each run fawkes-bench itself (--target-cmd, --reference-cmd) starts
# `fawkes --addr $FAWKES_ADDR` (in-memory, default flags; its pid is --pid)
# or `fawkes-bench limit-server --addr $LIMIT_ADDR`, and stops it after.
# The steps (defaults):
#   fanout  SUBS=1000 subscribers x RATES="1600 2400" events/s, DURATION=10s, 300-byte events
#   rpc     RPC_CONNS=100 connections, one request in flight each, RPC_DURATION=10s
#   conns   CONNS=10000 at CONC=256 at once, HOLD=20s, SETTLE=10s; then fawkes alone at
#           MEM_CONC="16 1000 4096" at once (memory per connection)
# RUNS=5 runs per server, PAUSE=5s between runs. Each step's JSON lines go
# to $OUT/<step>.jsonl and its progress to $OUT/<step>.log (OUT: a new
# directory bench-vs-limit-<time> under the temp dir, printed at the end);
# the script prints /proc/loadavg before each step, the 1-min load average
# before each run, and each step's min/median/max table.
set -euo pipefail
cd "$(dirname "$0")/.."

SUBS=${SUBS:-1000}
RATES=${RATES:-1600 2400}
DURATION=${DURATION:-10s}
RPC_CONNS=${RPC_CONNS:-100}
RPC_DURATION=${RPC_DURATION:-$DURATION}
CONNS=${CONNS:-10000}
CONC=${CONC:-256}
MEM_CONC=${MEM_CONC:-16 1000 4096}
HOLD=${HOLD:-20s}
SETTLE=${SETTLE:-10s}
RUNS=${RUNS:-5}
PAUSE=${PAUSE:-5s}
FAWKES_ADDR=${FAWKES_ADDR:-127.0.0.1:4000}
LIMIT_ADDR=${LIMIT_ADDR:-127.0.0.1:4100}

dir=$(mktemp -d)
OUT=${OUT:-$dir/bench-vs-limit-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$OUT"
bench_pid=
cleanup() {
	# fawkes-bench stops the server of the current run on SIGTERM (and on
	# Linux the kernel sends the server SIGTERM if fawkes-bench dies).
	if [ -n "$bench_pid" ]; then
		kill "$bench_pid" 2>/dev/null || true
		wait "$bench_pid" 2>/dev/null || true
	fi
	rm -f "$dir/fawkes" "$dir/fawkes-bench"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for addr in "$FAWKES_ADDR" "$LIMIT_ADDR"; do
	if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
		echo "bench-vs-limit: something already listens on $addr (FAWKES_ADDR, LIMIT_ADDR choose others)" >&2
		exit 1
	fi
done
go build -o "$dir/fawkes" ./cmd/fawkes
go build -o "$dir/fawkes-bench" ./cmd/fawkes-bench
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
	ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi

fawkes_cmd="$dir/fawkes --addr $FAWKES_ADDR"
limit_cmd="$dir/fawkes-bench limit-server --addr $LIMIT_ADDR --max-time 0"
vs_limit=(--target "$FAWKES_ADDR" --target-cmd "$fawkes_cmd" --reference "$LIMIT_ADDR" --reference-cmd "$limit_cmd")
failed=0

# step NAME ARGS...: one fawkes-bench series; prints its table.
step() {
	local name=$1
	shift
	echo "== $name: load average $(cat /proc/loadavg 2>/dev/null || echo unknown)"
	{ printf '   fawkes-bench'; printf ' %q' "$@"; echo; } | sed "s|$dir/||g"
	local rc=0
	"$dir/fawkes-bench" "$@" --runs "$RUNS" --run-pause "$PAUSE" >"$OUT/$name.jsonl" 2>"$OUT/$name.log" &
	bench_pid=$!
	wait "$bench_pid" || rc=$?
	bench_pid=
	grep -E 'load average|failed' "$OUT/$name.log" | sed 's/^fawkes-bench: /   /' || true
	sed -n '/^$/,$p' "$OUT/$name.log"
	if [ "$rc" -ne 0 ]; then
		echo "== $name: FAILED (exit $rc; see $OUT/$name.log)"
		failed=$((failed + 1))
	fi
}

for rate in $RATES; do
	step "fanout-$SUBS-x-$rate" fanout "${vs_limit[@]}" --subscribers "$SUBS" --rate "$rate" --duration "$DURATION" --event-bytes 300
done
step "rpc-$RPC_CONNS" rpc "${vs_limit[@]}" --conns "$RPC_CONNS" --duration "$RPC_DURATION"
step "conns-$CONNS-at-$CONC" conns "${vs_limit[@]}" --conns "$CONNS" --concurrency "$CONC" --hold "$HOLD" --settle "$SETTLE"
for c in $MEM_CONC; do
	step "conns-$CONNS-at-$c-fawkes" conns --target "$FAWKES_ADDR" --target-cmd "$fawkes_cmd" \
		--conns "$CONNS" --concurrency "$c" --hold "$HOLD" --settle "$SETTLE"
done

echo "== JSON lines and logs: $OUT"
if [ "$failed" -gt 0 ]; then
	echo "== $failed step(s) failed"
	exit 1
fi
