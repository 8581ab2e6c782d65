package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// connsScenario opens idle joined connections and reports what they cost
// the server.
type connsScenario struct {
	n        int
	rooms    string
	hold     time.Duration
	settle   time.Duration
	serverGC string
}

func (s *connsScenario) register(fs *flag.FlagSet) {
	fs.IntVar(&s.n, "conns", 1000, "connections to open (one process holds at most its open-file limit minus a few; run several for more)")
	fs.StringVar(&s.rooms, "rooms", "unique", "unique (topic-<n> per connection) or shared (every connection joins --topic)")
	fs.DurationVar(&s.hold, "hold", 10*time.Second, "how long to hold the connections after the last join")
	fs.DurationVar(&s.settle, "settle", 5*time.Second, "delay after the last join before reading the server's RSS (at most --hold)")
	fs.StringVar(&s.serverGC, "server-gc", "", "after the --settle reading, GET this URL to make the server collect garbage (fawkes --pprof: http://127.0.0.1:6060/debug/pprof/heap?gc=1); the end-of-hold reading then shows the heap after a GC and --hold minus --settle of scavenging")
}

// connsResult is the "result" of a conns run.
type connsResult struct {
	rampResult
	Rooms            string  `json:"rooms"`
	ClosedDuringHold int64   `json:"closed_during_hold"`
	HoldSeconds      float64 `json:"hold_s"`
	ServerRSSBefore  int64   `json:"server_rss_before_kib,omitempty"`
	ServerRSSSettled int64   `json:"server_rss_settled_kib,omitempty"` // --settle after the last join
	ServerRSSEnd     int64   `json:"server_rss_end_kib,omitempty"`     // at the end of --hold
	ServerBytesPer   float64 `json:"server_rss_per_conn_bytes,omitempty"`
	// ServerBytesPerSettled is per connection at --settle, for comparison.
	ServerBytesPerSettled float64 `json:"server_rss_per_conn_settled_bytes,omitempty"`
	// ServerGC: --server-gc was fetched after the settled reading.
	ServerGC      bool   `json:"server_gc,omitempty"`
	ServerGCError string `json:"server_gc_error,omitempty"`
}

// getURL fetches url and discards the body (a bounded GET).
func getURL(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// closeCounter counts connections the server closed; it ignores messages.
type closeCounter struct{ n atomic.Int64 }

func (h *closeCounter) Message(*client.Conn, wire.Message) {}
func (h *closeCounter) Closed(*client.Conn, error)         { h.n.Add(1) }

func (s *connsScenario) run(ctx context.Context, f *fleet, srv *serverWatch) (any, error) {
	if s.rooms != "unique" && s.rooms != "shared" {
		return nil, fmt.Errorf("--rooms %q: want unique or shared", s.rooms)
	}
	if lim := openFiles(); lim > 0 && uint64(s.n)+64 > lim {
		return nil, fmt.Errorf("--conns %d: this process may open %d files; run several processes of at most %d", s.n, lim, lim-64)
	}
	settle := min(s.settle, s.hold)
	res := &connsResult{Rooms: s.rooms, ServerRSSBefore: srv.rss()}
	var closed closeCounter
	topic := func(int) string { return f.opts.Topic }
	if s.rooms == "unique" {
		topic = func(i int) string { return f.opts.Topic + "-" + strconv.Itoa(i) }
	}
	res.rampResult = f.openMany(ctx, s.n, f.opts.Concurrency, topic, func(int) client.Handler { return &closed }, nil)
	logf("joined %d of %d at %.0f/s; holding %s", res.Joined, s.n, res.PerSecond, s.hold)
	holdStart := time.Now()
	sleepCtx(ctx, settle)
	res.ServerRSSSettled = srv.rss()
	if s.serverGC != "" {
		if err := getURL(ctx, s.serverGC); err != nil {
			res.ServerGCError = err.Error()
			logf("--server-gc: %v", err)
		} else {
			res.ServerGC = true
		}
	}
	sleepCtx(ctx, s.hold-settle)
	res.ServerRSSEnd = srv.rss()
	res.HoldSeconds = time.Since(holdStart).Seconds()
	res.ClosedDuringHold = closed.n.Load()
	if res.Joined > 0 && res.ServerRSSBefore > 0 {
		res.ServerBytesPer = float64(res.ServerRSSEnd-res.ServerRSSBefore) * 1024 / float64(res.Joined)
		res.ServerBytesPerSettled = float64(res.ServerRSSSettled-res.ServerRSSBefore) * 1024 / float64(res.Joined)
	}
	if res.Joined < s.n && ctx.Err() == nil {
		return res, fmt.Errorf("%d of %d connections did not join (first errors: %v)", s.n-res.Joined, s.n, res.Errors)
	}
	return res, nil
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
