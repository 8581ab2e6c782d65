package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

// node is one endpoint of startCluster.
type node struct {
	addr string // host:port
	url  string // http://host:port
}

// startCluster serves n Endpoints that share one in-process PubSub, as the
// nodes of a cluster share Redis: a broadcast on one reaches the members of
// every other. Each also serves the HTTP ingress on /events/{room}
// (anonymous).
func startCluster(t *testing.T, n int) []node {
	t.Helper()
	ps := pubsub.NewLocal()
	var nodes []node
	for range n {
		router := channels.NewRouter()
		svc := events.New(events.Config{PubSub: ps, HeartbeatInterval: events.HeartbeatOff})
		router.Handle(events.TopicPrefix+"*", svc.Factory())
		ep := server.New(server.Config{Router: router, PubSub: ps})
		mux := http.NewServeMux()
		mux.Handle("/socket/", ep)
		mux.Handle("/events/{room}", ingress.New(ingress.Config{Events: svc, Anonymous: true}))
		ts := httptest.NewServer(mux)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = ep.Shutdown(ctx)
			ts.Close()
		})
		nodes = append(nodes, node{addr: strings.TrimPrefix(ts.URL, "http://"), url: ts.URL})
	}
	return nodes
}

func addrs(nodes []node) string {
	var a []string
	for _, n := range nodes {
		a = append(a, n.addr)
	}
	return strings.Join(a, ",")
}

func TestFanoutAcrossTargetsReportsEachTarget(t *testing.T) {
	nodes := startCluster(t, 3)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--targets", addrs(nodes), "--subscribers", "31", "--rate", "40", "--duration", "500ms", "--source-addrs", "2-3")
	checkFanout(t, r, 31)
	if got := r.Ramp.JoinedPerTarget; len(got) != 3 || got[0] != 11 || got[1] != 10 || got[2] != 10 {
		t.Errorf("joined per target %v, want [11 10 10] (round robin)", got)
	}
	s := r.Steps[0]
	if len(s.Targets) != 3 {
		t.Fatalf("%d per-target figures, want 3", len(s.Targets))
	}
	var sum uint64
	for i, tt := range s.Targets {
		if tt.Target != "ws://"+nodes[i].addr+"/socket/websocket?vsn=2.0.0" {
			t.Errorf("target %d is %q", i, tt.Target)
		}
		if tt.Expected != s.Sent*uint64(tt.Subscribers) || tt.Received != tt.Expected || tt.Lost != 0 || tt.DeliveriesPerS <= 0 {
			t.Errorf("target %d: %d subscribers, expected %d, received %d, lost %d, %.0f/s", i, tt.Subscribers, tt.Expected, tt.Received, tt.Lost, tt.DeliveriesPerS)
		}
		checkOrdered(t, "target latency", tt.Latency)
		sum += tt.Received
	}
	if sum != s.Received {
		t.Errorf("per-target deliveries add up to %d, the step has %d", sum, s.Received)
	}
}

func TestFanoutOneTargetHasNoPerTargetFigures(t *testing.T) {
	target := startFawkes(t)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--subscribers", "5", "--rate", "20", "--duration", "200ms")
	if len(r.Steps[0].Targets) != 0 || len(r.Ramp.JoinedPerTarget) != 0 {
		t.Errorf("one target: per-target figures %+v, %v", r.Steps[0].Targets, r.Ramp.JoinedPerTarget)
	}
}

func TestFanoutWatchesNodes(t *testing.T) {
	target := startFawkes(t)
	var scrapes atomic.Int64
	metrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := scrapes.Add(1)
		fmt.Fprintf(w, "# HELP fawkes_redis_broadcasts_total x\n# TYPE fawkes_redis_broadcasts_total counter\n")
		fmt.Fprintf(w, "fawkes_redis_broadcasts_total{result=\"received\"} %d\n", 10*n)
		fmt.Fprintf(w, "fawkes_redis_broadcasts_total{result=\"published\"} 7\n")
		fmt.Fprintf(w, "fawkes_other_total 99\n")
	}))
	defer metrics.Close()
	pid := strconv.Itoa(os.Getpid())
	var r fanoutResult
	sum := bench(t, true, &r, "fanout", "--target", target, "--subscribers", "5", "--rate", "20", "--duration", "300ms",
		"--watch-pids", pid+","+pid, "--watch-metrics", metrics.URL+",")
	if w, _ := sum["machine"].(map[string]any)["watched_cpu_util"].(float64); w <= 0 {
		t.Errorf("machine.watched_cpu_util = %v; want the watched process's CPU over the run", w)
	}
	nodes := r.Steps[0].Nodes
	if len(nodes) != 2 {
		t.Fatalf("%d watched nodes, want 2", len(nodes))
	}
	if nodes[0].CPUSeconds <= 0 || nodes[0].Error != "" {
		t.Errorf("node 0: cpu %v s, error %q; want the CPU this process spent", nodes[0].CPUSeconds, nodes[0].Error)
	}
	want := map[string]float64{`fawkes_redis_broadcasts_total{result="received"}`: 10, `fawkes_redis_broadcasts_total{result="published"}`: 0}
	if fmt.Sprint(nodes[0].Metrics) != fmt.Sprint(want) {
		t.Errorf("node 0 metrics %v, want %v", nodes[0].Metrics, want)
	}
	if nodes[1].Metrics != nil || nodes[1].URL != "" {
		t.Errorf("node 1 has no metrics URL but reports %v", nodes[1].Metrics)
	}
	bench(t, false, nil, "fanout", "--target", target, "--subscribers", "1", "--watch-pids", "1,2", "--watch-metrics", metrics.URL)
}

func TestConnsRoomsOverTargetsAwaitPostedEvents(t *testing.T) {
	nodes := startCluster(t, 2)
	dir := t.TempDir()
	// Two processes' worth of connections sharing one numbering: 0..11
	// and 12..23, over 2 targets and 3 rooms (8 members per room, 4 on
	// each target). Each runs on its own goroutine and is checked here.
	type out struct {
		code   int
		stdout string
	}
	results := make(chan out, 2)
	for p, first := range []string{"0", "12"} {
		go func() {
			var stdout, stderr strings.Builder
			code := run(context.Background(), []string{"conns", "--targets", addrs(nodes), "--conns", "12", "--first", first, "--rooms", "3",
				"--await-events", "2", "--hold", "20s", "--ready-file", filepath.Join(dir, "ready"+strconv.Itoa(p))}, &stdout, &stderr)
			results <- out{code, stdout.String()}
		}()
	}
	for p := range 2 {
		waitFor(t, 10*time.Second, func() bool {
			_, err := os.Stat(filepath.Join(dir, "ready"+strconv.Itoa(p)))
			return err == nil
		})
	}
	var pr postResult
	bench(t, true, &pr, "post", "--url", nodes[1].url, "--rooms", "3", "--count", "2")
	if pr.Posted != 6 || pr.Accepted != 6 || pr.Status["202"] != 6 || pr.FirstSentUnixNS <= 0 {
		t.Errorf("posted %d, accepted %d, status %v, first sent %d", pr.Posted, pr.Accepted, pr.Status, pr.FirstSentUnixNS)
	}
	for range 2 {
		o := <-results
		var sum struct {
			OK     bool
			Error  string
			Result connsResult
		}
		if err := json.Unmarshal([]byte(o.stdout), &sum); err != nil || o.code != 0 || !sum.OK {
			t.Fatalf("conns: exit %d, %v: %s", o.code, err, o.stdout)
		}
		r := sum.Result
		if r.Joined != 12 || len(r.JoinedPerTarget) != 2 || r.JoinedPerTarget[0] != 6 || r.JoinedPerTarget[1] != 6 {
			t.Errorf("first %d: joined %d, per target %v; want 12 = 6 + 6", r.First, r.Joined, r.JoinedPerTarget)
		}
		ev := r.Events
		if ev == nil || ev.Received != 24 || ev.Complete != 12 || ev.Unstamped != 0 {
			t.Fatalf("first %d: events %+v; want 24 received (12 connections x 2 events), all complete", r.First, ev)
		}
		if ev.FirstSentUnixNS < pr.FirstSentUnixNS || ev.LastReceivedUnixNS <= ev.FirstSentUnixNS || ev.ReachAllS <= 0 || r.HoldSeconds > 10 {
			t.Errorf("first %d: first sent %d (post's %d), last received %d, reach all %v s, hold %v s (should end once complete)",
				r.First, ev.FirstSentUnixNS, pr.FirstSentUnixNS, ev.LastReceivedUnixNS, ev.ReachAllS, r.HoldSeconds)
		}
		checkOrdered(t, "event latency", ev.Latency)
	}
}

func TestConnsAwaitEventsFailsWithoutThem(t *testing.T) {
	target := startFawkes(t)
	var r connsResult
	bench(t, false, &r, "conns", "--target", target, "--conns", "3", "--rooms", "2", "--await-events", "1", "--hold", "200ms")
	if r.Joined != 3 || r.Events == nil || r.Events.Received != 0 || r.Events.Complete != 0 {
		t.Errorf("joined %d, events %+v", r.Joined, r.Events)
	}
}

func TestRoomTopic(t *testing.T) {
	s := &connsScenario{rooms: "4"}
	if err := s.parseRooms(); err != nil {
		t.Fatal(err)
	}
	// With 5 targets, connections 0-4 share room 0 (one on each target),
	// 5-9 room 1, ..., 20-24 room 0 again.
	for n, want := range map[int]string{0: "r-0", 4: "r-0", 5: "r-1", 19: "r-3", 20: "r-0", 27: "r-1"} {
		if got := s.roomTopic("r", n, 5); got != want {
			t.Errorf("connection %d: %q, want %q", n, got, want)
		}
	}
	for _, bad := range []string{"0", "-1", "x"} {
		if err := (&connsScenario{rooms: bad}).parseRooms(); err == nil {
			t.Errorf("--rooms %q accepted", bad)
		}
	}
	u := &connsScenario{rooms: "unique"}
	if got := u.roomTopic("r", 7, 3); got != "r-7" {
		t.Errorf("unique: %q", got)
	}
}

func TestSourceAddrs(t *testing.T) {
	for in, want := range map[string][2]int{"4": {1, 4}, "0": {1, 0}, "5-8": {5, 4}, "20-20": {20, 1}} {
		first, n, err := sourceAddrs(in)
		if err != nil || first != want[0] || n != want[1] {
			t.Errorf("%q: %d, %d, %v; want %v", in, first, n, err, want)
		}
	}
	for _, bad := range []string{"", "x", "8-5", "0-3", "1-300", "255"} {
		if _, _, err := sourceAddrs(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseSample(t *testing.T) {
	names := []string{"fawkes_redis_broadcasts_total"}
	for line, want := range map[string]string{
		`fawkes_redis_broadcasts_total{result="received"} 12`: `fawkes_redis_broadcasts_total{result="received"}=12`,
		`fawkes_redis_broadcasts_total 3.5e+06`:               `fawkes_redis_broadcasts_total=3.5e+06`,
		`fawkes_redis_broadcasts_totally 1`:                   "",
		`# TYPE fawkes_redis_broadcasts_total counter`:        "",
		``: "",
	} {
		k, v, ok := parseSample(line, names)
		got := ""
		if ok {
			got = k + "=" + strconv.FormatFloat(v, 'g', -1, 64)
		}
		if got != want {
			t.Errorf("%q: %q, want %q", line, got, want)
		}
	}
}

// waitFor polls cond until it holds or d has passed.
func waitFor(t *testing.T, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
