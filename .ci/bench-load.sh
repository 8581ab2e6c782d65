#!/usr/bin/env bash
# A short run of each cmd/fawkes-bench scenario against a fresh fawkes and
# the tool's limit server, for `make bench`. Each run prints one JSON line;
# the full runs and their medians are in docs/BENCHMARKS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
go build -o "$dir/fawkes" ./cmd/fawkes
go build -o "$dir/fawkes-bench" ./cmd/fawkes-bench
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
fport=$(free_port)
"$dir/fawkes" --addr "127.0.0.1:$fport" --heartbeat-interval 0 --log-level warn 2>"$dir/fawkes.log" &
fpid=$!; pids+=("$fpid")
lport=$(free_port)
"$dir/fawkes-bench" limit-server --addr "127.0.0.1:$lport" --max-time 5m >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 50); do
	curl -fs "http://127.0.0.1:$fport/healthz" >/dev/null 2>&1 && break
	sleep 0.1
done
bench() { echo "== fawkes-bench $*" >&2; "$dir/fawkes-bench" "$@" 2>/dev/null | tail -n 1; }
bench conns --target "127.0.0.1:$fport" --conns 1000 --hold 3s --settle 2s --pid "$fpid"
bench fanout --target "127.0.0.1:$fport" --subscribers 1000 --rate 100 --duration 3s --pid "$fpid"
bench fanout --target "127.0.0.1:$lport" --subscribers 1000 --rate 100 --duration 3s
bench rpc --target "127.0.0.1:$fport" --conns 100 --duration 3s --pid "$fpid"
