package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/limit"
	"github.com/fawkes-rt/fawkes/server"
)

func TestMain(m *testing.M) {
	logw = io.Discard
	os.Exit(m.Run())
}

// startFawkes serves a real Endpoint with the conformance channel on
// "conformance:*" and the events channel on "events:*", and returns its
// host:port.
func startFawkes(t *testing.T) string {
	t.Helper()
	ps := pubsub.NewLocal()
	router := channels.NewRouter()
	router.Handle("conformance:*", conformance.New)
	svc := events.New(events.Config{PubSub: ps, HeartbeatInterval: events.HeartbeatOff})
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	ep := server.New(server.Config{Router: router, PubSub: ps})
	mux := http.NewServeMux()
	mux.Handle("/socket/", ep)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ep.Shutdown(ctx)
		ts.Close()
	})
	return strings.TrimPrefix(ts.URL, "http://")
}

// startLimit serves the reference server and returns its host:port.
func startLimit(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := limit.New(limit.Config{})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().String()
}

// bench runs the command line and decodes its one JSON summary line into
// a generic map and into result (when non-nil).
func bench(t *testing.T, wantOK bool, result any, args ...string) map[string]any {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	lines := strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n")
	if len(lines) != 1 {
		t.Fatalf("stdout has %d lines, want exactly one JSON summary:\n%s", len(lines), stdout.String())
	}
	var sum map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &sum); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, lines[0])
	}
	if ok := code == 0 && sum["ok"] == true; ok != wantOK {
		t.Fatalf("%v: exit %d, summary ok=%v error=%v; want ok=%v\n%s\n%s", args, code, sum["ok"], sum["error"], wantOK, lines[0], stderr.String())
	}
	if result != nil {
		var wrap struct{ Result json.RawMessage }
		_ = json.Unmarshal([]byte(lines[0]), &wrap)
		if err := json.Unmarshal(wrap.Result, result); err != nil {
			t.Fatalf("result: %v", err)
		}
	}
	return sum
}

func checkOrdered(t *testing.T, what string, s hist.Summary) {
	t.Helper()
	if s.Count == 0 {
		t.Errorf("%s: no latency recorded", what)
		return
	}
	if !(0 < s.P50MS && s.MinMS <= s.P50MS && s.P50MS <= s.P90MS && s.P90MS <= s.P99MS && s.P99MS <= s.MaxMS) {
		t.Errorf("%s: percentiles out of order: %+v", what, s)
	}
}

func TestConnsJoinsEveryConnectionAndReadsServerRSS(t *testing.T) {
	target := startFawkes(t)
	for _, reader := range []string{"epoll", "goroutine"} {
		t.Run(reader, func(t *testing.T) {
			var r connsResult
			sum := bench(t, true, &r, "conns", "--target", target, "--reader", reader, "--conns", "50",
				"--topic", "conformance:bench", "--hold", "1s", "--settle", "100ms", "--pid", strconv.Itoa(os.Getpid()),
				"--heartbeat", "100ms")
			if r.Joined != 50 || r.Established != 50 || r.DialFailed+r.JoinFailed != 0 || r.ClosedDuringHold != 0 {
				t.Errorf("joined %d, established %d, failed %d+%d, closed %d; want 50, 50, 0, 0", r.Joined, r.Established, r.DialFailed, r.JoinFailed, r.ClosedDuringHold)
			}
			if r.PerSecond <= 0 || r.ServerRSSBefore <= 0 || r.ServerRSSEnd <= 0 {
				t.Errorf("rate %.0f/s, RSS before %d KiB, end %d KiB: want all positive", r.PerSecond, r.ServerRSSBefore, r.ServerRSSEnd)
			}
			checkOrdered(t, "connect+join", r.Latency)
			cl := sum["client"].(map[string]any)
			// Replies still in flight when the hold ends are not counted; on
			// a loaded machine that can be several per connection.
			if sent, got := cl["heartbeats_sent"].(float64), cl["heartbeat_replies"].(float64); sent < 50 || got < sent/2 {
				t.Errorf("heartbeats sent %v, replies %v: want every connection to heartbeat and most replied", sent, got)
			}
			if sum["server"] == nil {
				t.Error("summary has no server figures although --pid was given")
			}
		})
	}
}

func TestConnsServerGC(t *testing.T) {
	target := startFawkes(t)
	var gets atomic.Int64
	gc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { gets.Add(1) }))
	defer gc.Close()
	var r connsResult
	bench(t, true, &r, "conns", "--target", target, "--conns", "5", "--hold", "200ms", "--settle", "100ms",
		"--pid", strconv.Itoa(os.Getpid()), "--server-gc", gc.URL)
	if !r.ServerGC || gets.Load() != 1 || r.ServerRSSEnd <= 0 {
		t.Errorf("server_gc %v after %d GETs, end RSS %d KiB; want one GET", r.ServerGC, gets.Load(), r.ServerRSSEnd)
	}
}

func TestConnsReportsJoinFailures(t *testing.T) {
	target := startFawkes(t)
	var r connsResult
	bench(t, false, &r, "conns", "--target", target, "--conns", "5", "--topic", "nosuch:topic", "--hold", "0s")
	if r.Joined != 0 || r.JoinFailed != 5 || r.Established != 5 || len(r.Errors) == 0 {
		t.Errorf("joined %d, join failed %d, established %d, errors %q; want 0, 5, 5 and a reason", r.Joined, r.JoinFailed, r.Established, r.Errors)
	}
}

func checkFanout(t *testing.T, r fanoutResult, subs int) {
	t.Helper()
	if r.Ramp.Joined != subs || len(r.Steps) != 1 || r.Best == nil {
		t.Fatalf("joined %d of %d, %d steps", r.Ramp.Joined, subs, len(r.Steps))
	}
	s := r.Steps[0]
	if s.Sent == 0 || s.Expected != s.Sent*uint64(s.Subscribers) || s.Received != s.Expected || s.Lost != 0 || s.Late+s.NoStamp != 0 {
		t.Errorf("sent %d to %d, expected %d, received %d, lost %d, late %d, unstamped %d: want no loss", s.Sent, s.Subscribers, s.Expected, s.Received, s.Lost, s.Late, s.NoStamp)
	}
	if s.PublishErrors != 0 || s.PublishAcks != s.Sent {
		t.Errorf("publish acks %d of %d, errors %d", s.PublishAcks, s.Sent, s.PublishErrors)
	}
	// Whether the step was sustainable also depends on its p99 and on the
	// rate the publisher kept, which a loaded machine decides: check only
	// that the verdict agrees with the step's own figures.
	if s.Sustainable && (s.Lost != 0 || s.PublishErrors != 0 || s.SentRate < 0.9*s.TargetRate) {
		t.Errorf("sustainable with %d lost, %d publish errors, sent %v/s of %v/s", s.Lost, s.PublishErrors, s.SentRate, s.TargetRate)
	}
	if s.DeliveriesPerS <= 0 || s.ClientCPUUSPerDelivery <= 0 {
		t.Errorf("deliveries/s = %v, client CPU per delivery %v us", s.DeliveriesPerS, s.ClientCPUUSPerDelivery)
	}
	checkOrdered(t, "fanout latency", s.Latency)
}

func TestFanoutEventsChannel(t *testing.T) {
	target := startFawkes(t)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--subscribers", "20", "--rate", "50", "--duration", "1s", "--pid", strconv.Itoa(os.Getpid()))
	checkFanout(t, r, 20)
	if r.Steps[0].ServerCPUUSPerDelivery <= 0 {
		t.Errorf("server CPU per delivery = %v with --pid", r.Steps[0].ServerCPUUSPerDelivery)
	}
	if got := r.Steps[0].Subscribers; got != 20 {
		t.Errorf("receivers = %d, want 20 (the publisher does not get its own events)", got)
	}
}

func TestFanoutConformanceChannelWithOwnEvents(t *testing.T) {
	target := startFawkes(t)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--topic", "conformance:bench", "--subscribers", "10",
		"--rate", "40", "--duration", "500ms", "--publish-event", "broadcast", "--receive-event", "broadcasted", "--publisher-receives-own")
	checkFanout(t, r, 10)
	if got := r.Steps[0].Subscribers; got != 11 {
		t.Errorf("receivers = %d, want 11 (10 subscribers and the publisher)", got)
	}
}

func TestRPC(t *testing.T) {
	target := startFawkes(t)
	for _, tc := range []struct{ topic, event string }{{"events:bench", "ping"}, {"conformance:bench", "echo"}} {
		var r rpcResult
		bench(t, true, &r, "rpc", "--target", target, "--conns", "5", "--duration", "300ms", "--topic", tc.topic, "--ping-event", tc.event)
		if r.Replies == 0 || r.Replies != r.Requests || r.Timeouts+r.Errors+r.SendErrors != 0 {
			t.Errorf("%s: %d requests, %d replies, %d timeouts, %d errors, %d send errors", tc.event, r.Requests, r.Replies, r.Timeouts, r.Errors, r.SendErrors)
		}
		checkOrdered(t, tc.event, r.Latency)
	}
}

func TestRPCRateLimit(t *testing.T) {
	target := startFawkes(t)
	var r rpcResult
	bench(t, true, &r, "rpc", "--target", target, "--conns", "4", "--duration", "600ms", "--rate", "100", "--topic", "conformance:bench", "--ping-event", "echo")
	if r.RepliesPerS < 60 || r.RepliesPerS > 130 {
		t.Errorf("replies/s = %.1f at --rate 100", r.RepliesPerS)
	}
}

func TestRPCUnknownEventFails(t *testing.T) {
	target := startFawkes(t)
	var r rpcResult
	bench(t, false, &r, "rpc", "--target", target, "--conns", "2", "--duration", "200ms", "--topic", "conformance:bench", "--ping-event", "nope")
	if r.Errors == 0 {
		t.Errorf("error replies = 0 for an unknown event")
	}
}

func TestLimitServerFanoutAndRPC(t *testing.T) {
	target := startLimit(t)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--subscribers", "20", "--rate", "50", "--duration", "500ms")
	checkFanout(t, r, 20)
	var rr rpcResult
	bench(t, true, &rr, "rpc", "--target", target, "--conns", "3", "--duration", "300ms")
	if rr.Replies == 0 || rr.Timeouts != 0 {
		t.Errorf("rpc against the limit server: %d replies, %d timeouts", rr.Replies, rr.Timeouts)
	}
}

func TestFindMaxSteps(t *testing.T) {
	target := startLimit(t)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--subscribers", "5", "--rate", "20", "--duration", "200ms",
		"--find-max", "--max-steps", "3", "--pause", "0s", "--drain", "500ms")
	if len(r.Steps) != 3 || r.StopReason != "max-steps" {
		t.Fatalf("%d steps, stop reason %q; want 3, max-steps", len(r.Steps), r.StopReason)
	}
	// Each step's rate follows from the ones before: doubling while they are
	// sustainable, then bisecting (a loaded machine may make any step
	// unsustainable).
	good, bad := 0.0, math.Inf(1)
	want := 20.0
	for i, s := range r.Steps {
		if s.TargetRate != want {
			t.Errorf("step %d rate %v, want %v", i+1, s.TargetRate, want)
		}
		if s.Sustainable {
			good = s.TargetRate
		} else {
			bad = s.TargetRate
		}
		want = nextRate(good, bad)
	}
	if r.Best == nil || r.MaxSustainableRate <= 0 || r.MaxDeliveriesPerS <= 0 {
		t.Errorf("best %v, max rate %v, max deliveries/s %v", r.Best, r.MaxSustainableRate, r.MaxDeliveriesPerS)
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), "Scenarios") {
		t.Errorf("no arguments: exit %d, stderr %q", code, errb.String())
	}
	if code := run(context.Background(), []string{"nope"}, &out, &errb); code != 2 {
		t.Errorf("unknown scenario: exit %d", code)
	}
	if code := run(context.Background(), []string{"conns", "--bogus"}, &out, &errb); code != 2 {
		t.Errorf("unknown flag: exit %d", code)
	}
	if out.Len() != 0 {
		t.Errorf("usage errors printed a summary: %q", out.String())
	}
}

func TestFanoutPatterns(t *testing.T) {
	target := startFawkes(t)
	for _, mode := range []string{"shared", "distinct"} {
		t.Run(mode, func(t *testing.T) {
			var r fanoutResult
			bench(t, true, &r, "fanout", "--target", target, "--subscribers", "20", "--rate", "50", "--duration", "500ms", "--patterns", mode)
			checkFanout(t, r, 20)
			if r.Patterns != mode {
				t.Errorf("result patterns = %q, want %q", r.Patterns, mode)
			}
		})
	}
	// The events channel filters by these patterns: a room whose patterns
	// match nothing receives nothing, so the runs above did match.
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--subscribers", "3", "--rate", "20", "--duration", "200ms", "--drain", "200ms",
		"--join-payload", `{"event_types":["dev.fawkes.other.*"]}`)
	if len(r.Steps) != 1 || r.Steps[0].Received != 0 || r.Steps[0].Lost == 0 {
		t.Errorf("non-matching patterns: %+v; want every event filtered out", r.Steps)
	}
}

func TestPatternPayload(t *testing.T) {
	seen := map[string]bool{}
	for i := range 3 {
		p := patternPayload("distinct", i)
		var v struct {
			EventTypes []string `json:"event_types"`
		}
		if err := json.Unmarshal(p, &v); err != nil || len(v.EventTypes) != 2 {
			t.Fatalf("payload %s: %v", p, err)
		}
		if seen[v.EventTypes[0]] {
			t.Errorf("distinct payloads share the pattern %q", v.EventTypes[0])
		}
		seen[v.EventTypes[0]] = true
		if own := strings.TrimSuffix(v.EventTypes[0], "*"); strings.HasPrefix(benchEventType, own) {
			t.Errorf("the own pattern %q matches the benchmark type %q", v.EventTypes[0], benchEventType)
		}
		if prefix := strings.TrimSuffix(v.EventTypes[1], "*"); !strings.HasPrefix(benchEventType, prefix) {
			t.Errorf("%q does not match the benchmark type %q", v.EventTypes[1], benchEventType)
		}
	}
	if a, b := patternPayload("shared", 1), patternPayload("shared", 2); !bytes.Equal(a, b) {
		t.Errorf("shared payloads differ: %s %s", a, b)
	}
}

func TestFanoutPatternsUsage(t *testing.T) {
	target := startLimit(t)
	bench(t, false, nil, "fanout", "--target", target, "--subscribers", "1", "--patterns", "bogus")
	bench(t, false, nil, "fanout", "--target", target, "--subscribers", "1", "--patterns", "distinct", "--join-payload", `{"a":1}`)
}

func TestRPCFindMax(t *testing.T) {
	target := startLimit(t)
	var r rpcResult
	bench(t, true, &r, "rpc", "--target", target, "--conns", "4", "--duration", "300ms", "--rate", "40",
		"--find-max", "--max-steps", "3", "--pause", "0s", "--max-p99", "2s")
	if len(r.Steps) != 3 || r.StopReason != "max-steps" {
		t.Fatalf("%d steps, stop reason %q; want 3, max-steps", len(r.Steps), r.StopReason)
	}
	// Each step's rate follows from the ones before (a loaded machine may
	// make a step unsustainable; the search must then bisect).
	good, bad := 0.0, math.Inf(1)
	want := 40.0
	for i, s := range r.Steps {
		if s.TargetRate != want {
			t.Errorf("step %d: rate %v, want %v", i+1, s.TargetRate, want)
		}
		if s.Sustainable {
			good = s.TargetRate
		} else {
			bad = s.TargetRate
		}
		want = nextRate(good, bad)
		checkOrdered(t, "rpc step", s.Latency)
	}
	if !r.Steps[0].Sustainable {
		t.Fatalf("40 requests/s over 4 connections was not sustainable: %+v", r.Steps[0])
	}
	if r.TargetRate != good || r.MaxSustainableRate < 0.8*good || r.Replies == 0 {
		t.Errorf("best: rate %v, max sustainable %v replies/s, %d replies; want the %v/s step", r.TargetRate, r.MaxSustainableRate, r.Replies, good)
	}
}

func TestRateSearchConverges(t *testing.T) {
	for _, capacity := range []float64{730, 100, 37} {
		rs := rateSearch{maxP99: time.Second, maxRate: 1e6, maxSteps: 30, maxTime: time.Minute}
		var tried []float64
		stop, err := rs.run(context.Background(), 100, 0, func(rate float64) (bool, error) {
			tried = append(tried, rate)
			return rate <= capacity, nil
		})
		if err != nil || stop != "converged" {
			t.Fatalf("capacity %v: stop %q, err %v after %v", capacity, stop, err, tried)
		}
		best := 0.0
		for _, r := range tried {
			if r <= capacity {
				best = max(best, r)
			}
		}
		if best < 0.85*capacity || len(tried) > 12 {
			t.Errorf("capacity %v: best %v after %d steps %v", capacity, best, len(tried), tried)
		}
	}
	rs := rateSearch{maxRate: 500, maxSteps: 30, maxTime: time.Minute}
	stop, _ := rs.run(context.Background(), 100, 0, func(float64) (bool, error) { return true, nil })
	if stop != "max-rate" {
		t.Errorf("always sustainable: stop %q, want max-rate", stop)
	}
}
