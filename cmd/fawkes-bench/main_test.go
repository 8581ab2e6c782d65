package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
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
				"--topic", "conformance:bench", "--hold", "300ms", "--settle", "100ms", "--pid", strconv.Itoa(os.Getpid()),
				"--heartbeat", "100ms")
			if r.Joined != 50 || r.Established != 50 || r.DialFailed+r.JoinFailed != 0 || r.ClosedDuringHold != 0 {
				t.Errorf("joined %d, established %d, failed %d+%d, closed %d; want 50, 50, 0, 0", r.Joined, r.Established, r.DialFailed, r.JoinFailed, r.ClosedDuringHold)
			}
			if r.PerSecond <= 0 || r.ServerRSSBefore <= 0 || r.ServerRSSEnd <= 0 {
				t.Errorf("rate %.0f/s, RSS before %d KiB, end %d KiB: want all positive", r.PerSecond, r.ServerRSSBefore, r.ServerRSSEnd)
			}
			checkOrdered(t, "connect+join", r.Latency)
			cl := sum["client"].(map[string]any)
			if sent, got := cl["heartbeats_sent"].(float64), cl["heartbeat_replies"].(float64); sent < 50 || got < sent-50 {
				t.Errorf("heartbeats sent %v, replies %v: want every connection to heartbeat and nearly all replied", sent, got)
			}
			if sum["server"] == nil {
				t.Error("summary has no server figures although --pid was given")
			}
		})
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
	if s.PublishErrors != 0 || s.PublishAcks != s.Sent || !s.Sustainable {
		t.Errorf("publish acks %d of %d, errors %d, sustainable %v", s.PublishAcks, s.Sent, s.PublishErrors, s.Sustainable)
	}
	if s.DeliveriesPerS <= 0 {
		t.Errorf("deliveries/s = %v", s.DeliveriesPerS)
	}
	checkOrdered(t, "fanout latency", s.Latency)
}

func TestFanoutEventsChannel(t *testing.T) {
	target := startFawkes(t)
	var r fanoutResult
	bench(t, true, &r, "fanout", "--target", target, "--subscribers", "20", "--rate", "50", "--duration", "1s")
	checkFanout(t, r, 20)
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
	for i, s := range r.Steps {
		if want := 20.0 * float64(int(1)<<i); s.Sustainable && s.TargetRate != want {
			t.Errorf("step %d rate %v, want %v (doubling while sustainable)", i+1, s.TargetRate, want)
		}
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
