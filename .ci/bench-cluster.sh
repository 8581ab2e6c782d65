#!/usr/bin/env bash
# Cluster load benchmarks of issue 11 ("A cluster that behaves like one
# Phoenix"), at a reduced size by default. Not run in CI: it starts a
# redis-server and up to five fawkes nodes on loopback and needs a few
# minutes of both cores. The figures and the full-size commands are in
# docs/BENCHMARKS.md, section "Cluster (issue 11)".
#
#   .ci/bench-cluster.sh [fanout] [findmax] [uninterested] [conns]   # default: all but findmax
#
# 1. fanout: fawkes-bench fanout --targets over 1, 2 and 3 nodes (the
#    subscribers round robin over the nodes, the publisher on the first),
#    MEMBERS x RATES (one rate per member count), RUNS runs each.
#    findmax: the same with --find-max (p99 <= 100 ms, no loss) for
#    FIND_MAX_MEMBERS, starting at FIND_MAX_RATE.
# 2. uninterested: 3 nodes, the room's members on nodes 1 and 2; each
#    node's CPU time and fawkes_redis_broadcasts_total per step
#    (--watch-pids, --watch-metrics): node 3 should receive nothing.
# Every fanout step also reports redis-server's CPU time (the last entry
# of result.steps[].nodes).
# 3. conns: CONNS joined connections with --presence over NODES nodes,
#    opened by LOADGENS fawkes-bench processes (distinct source addresses
#    127.0.0.x), ROOMS rooms; then one event POSTed to every room on node 1
#    and timed until every connection has it; RSS per node before and
#    after (each after a forced GC).
#
# Sizes (environment): MEMBERS="1000 10000" RATES="100 20" NODE_COUNTS="1 2 3"
# DURATION=10s RUNS=1 FIND_MAX_MEMBERS=1000 FIND_MAX_RATE=100 CONNS=8000 NODES=5 LOADGENS=4 ROOMS=20
# PRESENCE=1 (0: item 3 without --presence). The full size
# of docs/BENCHMARKS.md: RUNS=3 CONNS=80000 LOADGENS=5 ROOMS=100 (run as
# root: it raises net.core.somaxconn and netdev_max_backlog).
# Output: one JSON line per run in $OUT (default a temporary directory,
# printed at the end, which also keeps the nodes' logs), and a short table
# on stderr; the logs of nodes that warned are copied to $OUT. Binaries are built
# from `git archive HEAD`, so uncommitted work is not measured.
set -euo pipefail
cd "$(dirname "$0")/.."

MEMBERS=${MEMBERS:-"1000 10000"}
RATES=${RATES:-"100 20"}
NODE_COUNTS=${NODE_COUNTS:-"1 2 3"}
DURATION=${DURATION:-10s}
RUNS=${RUNS:-1}
CONNS=${CONNS:-8000}
NODES=${NODES:-5}
LOADGENS=${LOADGENS:-4}
ROOMS=${ROOMS:-20}
PRESENCE=${PRESENCE:-1}
HOLD=${HOLD:-600s}
FIND_MAX_MEMBERS=${FIND_MAX_MEMBERS:-1000}
FIND_MAX_RATE=${FIND_MAX_RATE:-100}
what=${*:-fanout uninterested conns}

work=$(mktemp -d)
OUT=${OUT:-$work/out}
mkdir -p "$OUT"
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ "$OUT" == "$work"/* ]]; then rm -rf "$work/src" "$work/bin"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log() { echo "bench-cluster: $*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
calc() { awk "BEGIN { OFMT = \"%.6f\"; print $* }"; }
kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
cpu_s() { awk '{print ($14 + $15) / 100}' "/proc/$1/stat"; } # utime + stime, USER_HZ 100

if [ "$(id -u)" = 0 ]; then
	sysctl -qw net.core.somaxconn=65535 net.core.netdev_max_backlog=65536 || true
fi

commit=$(git rev-parse --short HEAD)
mkdir -p "$work/src" "$work/bin"
git archive HEAD | tar -x -C "$work/src"
(cd "$work/src" && go build -o "$work/bin/fawkes" ./cmd/fawkes && go build -o "$work/bin/fawkes-bench" ./cmd/fawkes-bench)
bench="$work/bin/fawkes-bench"
log "commit $commit, nproc $(nproc), $(uptime)"

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning >"$work/redis.log" 2>&1 &
redis_pid=$!
pids+=("$redis_pid")
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done

export FAWKES_SECRET_KEY_BASE=${FAWKES_SECRET_KEY_BASE:-$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 64)}
export FAWKES_INGRESS_TOKEN=${FAWKES_INGRESS_TOKEN:-bench-$RANDOM$RANDOM}
cluster=0
node_pids=()
node_addrs=()
node_metrics=()
node_pprof=()

# start_nodes N [extra fawkes flags...]: a fresh cluster (its own Redis
# prefix) of N nodes, ready when every /readyz answers 200.
start_nodes() {
	local n=$1
	shift
	cluster=$((cluster + 1))
	node_pids=() node_addrs=() node_metrics=() node_pprof=()
	for i in $(seq "$n"); do
		local port pport
		port=$(free_port)
		pport=$(free_port)
		"$work/bin/fawkes" --addr "127.0.0.1:$port" --pubsub redis --redis-url "redis://127.0.0.1:$rport/0" \
			--redis-prefix "bench$cluster" --heartbeat-interval 0 --log-level warn --log-format json \
			--pprof "127.0.0.1:$pport" "$@" >"$work/node$cluster-$i.log" 2>&1 &
		pids+=("$!")
		node_pids+=("$!")
		node_addrs+=("127.0.0.1:$port")
		node_metrics+=("http://127.0.0.1:$port/metrics")
		node_pprof+=("http://127.0.0.1:$pport")
	done
	for a in "${node_addrs[@]}"; do
		for _ in $(seq 100); do
			[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$a/readyz")" = 200 ] && break
			sleep 0.1
		done
	done
}

stop_nodes() {
	for p in "${node_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${node_pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for i in "${!node_pids[@]}"; do
		if grep -q '"level":"\(error\|warn\)"' "$work/node$cluster-$((i + 1)).log"; then
			log "node $((i + 1)) of cluster $cluster logged warnings or errors:"
			grep '"level":"\(error\|warn\)"' "$work/node$cluster-$((i + 1)).log" | head -5 >&2
			cp "$work/node$cluster-$((i + 1)).log" "$OUT/"
		fi
	done
}

join() { local IFS=$1; shift; echo "$*"; }

# 1. Cross-node fan-out. The node counts alternate within each run, so
# that the machine's other load falls alike on each.
if [[ " $what " == *" fanout "* ]]; then
	read -r -a rates <<<"$RATES"
	k=0
	for m in $MEMBERS; do
		rate=${rates[$k]:-${rates[-1]}}
		k=$((k + 1))
		for r in $(seq "$RUNS"); do
			for n in $NODE_COUNTS; do
				start_nodes "$n"
				log "fanout: $m members over $n node(s), $rate events/s, run $r, load $(cut -d' ' -f1 /proc/loadavg)"
				"$bench" fanout --targets "$(join , "${node_addrs[@]}")" --subscribers "$m" --rate "$rate" --duration "$DURATION" \
					--source-addrs 1-8 --watch-pids "$(join , "${node_pids[@]}" "$redis_pid")" --watch-metrics "$(join , "${node_metrics[@]}" "")" \
					>"$OUT/fanout-m$m-n$n-r$r.json" 2>"$work/bench.log" || log "fanout failed: $(tail -n 3 "$work/bench.log")"
				stop_nodes
				jq -r --arg n "$n" '"  \(.result.best.subscribers) members, \($n) node(s): \(.result.best.deliveries_per_s|floor) deliveries/s, lost \(.result.best.lost), p50 \(.result.best.latency.p50_ms) ms, p99 \(.result.best.latency.p99_ms) ms, others \(.machine.others_cpu_util*100|floor/100)"' \
					"$OUT/fanout-m$m-n$n-r$r.json" >&2 || true
			done
		done
	done
fi

# 1b. The highest rate each setting sustains.
if [[ " $what " == *" findmax "* ]]; then
	for m in $FIND_MAX_MEMBERS; do
		for r in $(seq "$RUNS"); do
			for n in $NODE_COUNTS; do
				start_nodes "$n"
				log "findmax: $m members over $n node(s), from $FIND_MAX_RATE events/s, run $r, load $(cut -d' ' -f1 /proc/loadavg)"
				"$bench" fanout --targets "$(join , "${node_addrs[@]}")" --subscribers "$m" --rate "$FIND_MAX_RATE" \
					--duration 4s --drain 2s --pause 1s --find-max --max-time 100s --source-addrs 1-8 \
					--watch-pids "$(join , "${node_pids[@]}" "$redis_pid")" --watch-metrics "$(join , "${node_metrics[@]}" "")" \
					>"$OUT/findmax-m$m-n$n-r$r.json" 2>"$work/bench.log" ||
					log "fanout failed: $(tail -n 3 "$work/bench.log")"
				stop_nodes
				jq -r --arg n "$n" '"  \($n) node(s): \(.result.max_sustainable_rate|floor) events/s, \(.result.max_deliveries_per_s|floor) deliveries/s, p99 \(.result.best.latency.p99_ms) ms (\(.result.stop_reason)), others \(.machine.others_cpu_util*100|floor/100)"' \
					"$OUT/findmax-m$m-n$n-r$r.json" >&2 || true
			done
		done
	done
fi

# 2. A node without members of the room.
if [[ " $what " == *" uninterested "* ]]; then
	m=${MEMBERS%% *}
	rate=${RATES%% *}
	for r in $(seq "$RUNS"); do
		start_nodes 3
		log "uninterested: $m members on nodes 1-2 of 3, $rate events/s, run $r"
		"$bench" fanout --targets "${node_addrs[0]},${node_addrs[1]}" --subscribers "$m" --rate "$rate" --duration "$DURATION" \
			--source-addrs 1-8 --watch-pids "$(join , "${node_pids[@]}" "$redis_pid")" --watch-metrics "$(join , "${node_metrics[@]}" "")" \
			>"$OUT/uninterested-r$r.json" 2>"$work/bench.log" || log "fanout failed: $(tail -n 3 "$work/bench.log")"
		stop_nodes
		jq -r '.result.best.nodes[:3] | to_entries[] | "  node \(.key + 1): cpu \(.value.cpu_s) s, redis received \(.value.metrics["fawkes_redis_broadcasts_total{result=\"received\"}"]), local deliveries \(.value.metrics["fawkes_broadcast_deliveries_total"])"' \
			"$OUT/uninterested-r$r.json" >&2 || true
	done
fi

# 3. More connections than one process holds, with presence, then one
# broadcast to every room.
if [[ " $what " == *" conns "* ]]; then
	if [ "$PRESENCE" = 1 ]; then start_nodes "$NODES" --presence; else start_nodes "$NODES"; fi
	per=$((CONNS / LOADGENS))
	per_addr=$(((LOADGENS * 4 <= 254) ? 4 : 1))
	for i in "${!node_pprof[@]}"; do curl -s -o /dev/null "${node_pprof[$i]}/debug/pprof/heap?gc=1"; done
	sleep 2
	rss0=() cpu0=()
	for p in "${node_pids[@]}"; do rss0+=("$(kib "$p")") cpu0+=("$(cpu_s "$p")"); done
	rcpu0=$(cpu_s "$redis_pid")
	log "conns: $CONNS connections ($LOADGENS processes of $per) over $NODES nodes, presence $PRESENCE, $ROOMS rooms, load $(cut -d' ' -f1 /proc/loadavg)"
	t0=$(date +%s.%N)
	gens=()
	for g in $(seq 0 $((LOADGENS - 1))); do
		first=$((g * per))
		lo=$((g * per_addr + 1))
		"$bench" conns --targets "$(join , "${node_addrs[@]}")" --conns "$per" --first "$first" --rooms "$ROOMS" \
			--source-addrs "$lo-$((lo + per_addr - 1))" --await-events 1 --hold "$HOLD" --ready-file "$work/ready$g" \
			>"$OUT/conns-g$g.json" 2>"$work/conns-g$g.log" &
		pids+=("$!")
		gens+=("$!")
	done
	for g in $(seq 0 $((LOADGENS - 1))); do
		until [ -e "$work/ready$g" ]; do
			kill -0 "${gens[$g]}" 2>/dev/null || { log "load generator $g ended early: $(tail -n 3 "$work/conns-g$g.log")"; break; }
			sleep 0.2
		done
	done
	t1=$(date +%s.%N)
	log "every load generator joined after $(calc "$t1 - $t0") s; waiting for the nodes to go idle (presence diffs)"
	# Idle: no broadcast (presence diff) delivered by any node over 2 s, or
	# 300 s passed; the clients' heartbeats go on meanwhile.
	deliveries() {
		local t=0
		for u in "${node_metrics[@]}"; do
			t=$(calc "$t + $(curl -s "$u" | awk '/^fawkes_broadcast_deliveries_total / {print $2}')")
		done
		echo "$t"
	}
	d0=$(deliveries)
	for _ in $(seq 150); do
		sleep 2
		d1=$(deliveries)
		[ "$d1" = "$d0" ] && break
		d0=$d1
	done
	t2=$(date +%s.%N)
	cpu1=()
	for i in "${!node_pids[@]}"; do cpu1+=("$(calc "$(cpu_s "${node_pids[$i]}") - ${cpu0[$i]}")"); done
	rcpu1=$(calc "$(cpu_s "$redis_pid") - $rcpu0")
	for i in "${!node_pprof[@]}"; do curl -s -o /dev/null "${node_pprof[$i]}/debug/pprof/heap?gc=1"; done
	sleep 5
	rss1=()
	for p in "${node_pids[@]}"; do rss1+=("$(kib "$p")"); done
	for i in "${!node_metrics[@]}"; do # every connection still open: closed_total says whether a node dropped some
		curl -s "${node_metrics[$i]}" | grep -E '^fawkes_(redis_|connections|broadcast|joins_total|errors_total)' >"$OUT/conns-metrics-node$((i + 1)).txt" || true
	done
	log "idle after $(calc "$t2 - $t1") s more; posting one event to each of $ROOMS rooms on node 1"
	"$bench" post --url "http://${node_addrs[0]}" --rooms "$ROOMS" --token "$FAWKES_INGRESS_TOKEN" >"$OUT/post.json" 2>"$work/post.log" ||
		log "post failed: $(tail -n 3 "$work/post.log")"
	for g in "${gens[@]}"; do wait "$g" || log "a load generator failed (see $OUT/conns-g*.json)"; done
	stop_nodes
	{
		echo "{\"commit\":\"$commit\",\"nodes\":$NODES,\"conns\":$CONNS,\"loadgens\":$LOADGENS,\"rooms\":$ROOMS,"
		echo "\"launch_to_all_joined_s\":$(calc "$t1 - $t0"),\"joined_to_idle_s\":$(calc "$t2 - $t1"),"
		echo "\"presence\":$PRESENCE,\"node_cpu_s_to_idle\":[$(join , "${cpu1[@]}")],\"redis_cpu_s_to_idle\":$rcpu1,"
		echo "\"rss_before_kib\":[$(join , "${rss0[@]}")],\"rss_after_kib\":[$(join , "${rss1[@]}")]}"
	} | jq -c . >"$OUT/conns-nodes.json"
	jq -s -r --slurpfile nodes "$OUT/conns-nodes.json" --slurpfile post "$OUT/post.json" '
		($nodes[0]) as $n | ($post[0].result.first_sent_unix_ns) as $sent |
		([.[].result.joined_per_target] | transpose | map(add)) as $per |
		"  joined \(map(.result.joined)|add) of \($n.conns) (\(map(.result.dial_failed + .result.join_failed)|add) failed) in \($n.launch_to_all_joined_s) s; per node \($per)",
		"  RSS per node after (MiB): \($n.rss_after_kib | map(. / 1024 | floor))",
		"  bytes per connection per node: \([range(0; $per|length) as $i | (($n.rss_after_kib[$i] - $n.rss_before_kib[$i]) * 1024 / $per[$i]) | floor])",
		"  broadcast: \(map(.result.events.received)|add) deliveries of \(map(.result.joined)|add); all reached \(((map(.result.events.last_received_unix_ns)|max) - $sent) / 1e6) ms after the first POST; p99 per process \(map(.result.events.latency.p99_ms))"' \
		"$OUT"/conns-g*.json >&2 || true
fi
log "results in $OUT"
