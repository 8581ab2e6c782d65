package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// connsScenario opens idle joined connections and reports what they cost
// the server. Several processes can share one numbering of connections
// (--first) to hold more than one process's open-file limit, and wait
// for events published to their rooms (--await-events).
type connsScenario struct {
	n            int
	rooms        string
	first        int
	hold         time.Duration
	settle       time.Duration
	serverGC     string
	readyFile    string
	awaitEvents  int
	receiveEvent string

	nRooms int // --rooms N
}

func (s *connsScenario) register(fs *flag.FlagSet) {
	fs.IntVar(&s.n, "conns", 1000, "connections to open (one process holds at most its open-file limit minus a few; run several for more)")
	fs.StringVar(&s.rooms, "rooms", "unique", "unique (topic-<n> per connection), shared (every connection joins --topic), or a number R: connection n joins topic-<(n / targets) mod R>, so every room has members on every target")
	fs.IntVar(&s.first, "first", 0, "number of this process's first connection, when several processes share one numbering (rooms and targets follow the number)")
	fs.StringVar(&s.readyFile, "ready-file", "", "write this file once every connection has joined (or failed), for a script that starts several processes")
	fs.IntVar(&s.awaitEvents, "await-events", 0, "during --hold, count --receive-event messages stamped with \"sentat\" (unix ns, as fanout and the post scenario send them) and end the hold once every joined connection has received this many")
	fs.StringVar(&s.receiveEvent, "receive-event", "cloudevent", "event that --await-events counts")
	fs.DurationVar(&s.hold, "hold", 10*time.Second, "how long to hold the connections after the last join")
	fs.DurationVar(&s.settle, "settle", 5*time.Second, "delay after the last join before reading the server's RSS (at most --hold)")
	fs.StringVar(&s.serverGC, "server-gc", "", "after the --settle reading, GET this URL to make the server collect garbage (fawkes --pprof: http://127.0.0.1:6060/debug/pprof/heap?gc=1); the end-of-hold reading then shows the heap after a GC and --hold minus --settle of scavenging")
}

// connsResult is the "result" of a conns run.
type connsResult struct {
	rampResult
	Rooms            string  `json:"rooms"`
	First            int     `json:"first"`
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
	// Events is what --await-events counted.
	Events *awaitedEvents `json:"events,omitempty"`
}

// awaitedEvents are the stamped events the connections received during the
// hold.
type awaitedEvents struct {
	Received uint64 `json:"received"`
	// Complete is the connections that received --await-events events.
	Complete int64 `json:"complete_connections"`
	Wanted   int   `json:"wanted_per_connection"`
	// Latency is from each event's "sentat" to its receipt.
	Latency hist.Summary `json:"latency"`
	// FirstSentUnixNS is the earliest "sentat" seen; LastReceivedUnixNS
	// the last receipt: their difference is the time to reach every
	// connection of this process (several processes: take the extremes).
	FirstSentUnixNS    int64   `json:"first_sent_unix_ns"`
	LastReceivedUnixNS int64   `json:"last_received_unix_ns"`
	ReachAllS          float64 `json:"reach_all_s"`
	Unstamped          uint64  `json:"unstamped"`
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

// eventCounter counts the stamped events of every connection (--await-events).
type eventCounter struct {
	closed    *closeCounter
	event     string
	want      int32
	received  atomic.Uint64
	unstamped atomic.Uint64
	complete  atomic.Int64
	firstSent atomic.Int64
	lastRecv  atomic.Int64
	latency   hist.Histogram
}

// connEvents is the Handler of one connection: how many events it got.
type connEvents struct {
	ec   *eventCounter
	got  atomic.Int32
	hint int // where "sentat" was last found; one reader per Conn at a time
}

func (h *connEvents) Closed(c *client.Conn, err error) { h.ec.closed.Closed(c, err) }

func (h *connEvents) Message(c *client.Conn, m wire.Message) {
	ec := h.ec
	if string(m.Event) != ec.event {
		return
	}
	sentAt, ok := wire.FindIntHint(m.Payload, `"sentat"`, &h.hint)
	if !ok {
		ec.unstamped.Add(1)
		return
	}
	now := c.ReadAt()
	ec.latency.Record(now - sentAt)
	ec.received.Add(1)
	storeMin(&ec.firstSent, sentAt)
	storeMax(&ec.lastRecv, now)
	if h.got.Add(1) == ec.want {
		ec.complete.Add(1)
	}
}

func storeMax(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if old >= v || a.CompareAndSwap(old, v) {
			return
		}
	}
}

func storeMin(a *atomic.Int64, v int64) {
	for {
		old := a.Load()
		if (old != 0 && old <= v) || a.CompareAndSwap(old, v) {
			return
		}
	}
}

// result returns the figures so far.
func (ec *eventCounter) result() *awaitedEvents {
	ae := &awaitedEvents{Received: ec.received.Load(), Complete: ec.complete.Load(), Wanted: int(ec.want),
		Latency: ec.latency.Summarize(), FirstSentUnixNS: ec.firstSent.Load(), LastReceivedUnixNS: ec.lastRecv.Load(),
		Unstamped: ec.unstamped.Load()}
	if ae.FirstSentUnixNS > 0 && ae.LastReceivedUnixNS > ae.FirstSentUnixNS {
		ae.ReachAllS = float64(ae.LastReceivedUnixNS-ae.FirstSentUnixNS) / 1e9
	}
	return ae
}

// roomTopic returns the topic of connection n (counted from --first).
func (s *connsScenario) roomTopic(base string, n, targets int) string {
	switch {
	case s.rooms == "shared":
		return base
	case s.nRooms > 0:
		return base + "-" + strconv.Itoa((n/targets)%s.nRooms)
	}
	return base + "-" + strconv.Itoa(n)
}

// parseRooms checks --rooms.
func (s *connsScenario) parseRooms() error {
	switch s.rooms {
	case "unique", "shared":
		return nil
	}
	n, err := strconv.Atoi(s.rooms)
	if err != nil || n <= 0 {
		return fmt.Errorf("--rooms %q: want unique, shared or a positive number", s.rooms)
	}
	s.nRooms = n
	return nil
}

func (s *connsScenario) run(ctx context.Context, f *fleet, srv *serverWatch) (any, error) {
	if err := s.parseRooms(); err != nil {
		return nil, err
	}
	if s.first < 0 || s.awaitEvents < 0 {
		return nil, errors.New("--first and --await-events must not be negative")
	}
	if lim := openFiles(); lim > 0 && uint64(s.n)+64 > lim {
		return nil, fmt.Errorf("--conns %d: this process may open %d files; run several processes of at most %d", s.n, lim, lim-64)
	}
	settle := min(s.settle, s.hold)
	res := &connsResult{Rooms: s.rooms, First: s.first, ServerRSSBefore: srv.rss()}
	var closed closeCounter
	targets := len(f.dialers)
	f.targetOf = func(i int) int { return (s.first + i) % targets }
	topic := func(i int) string { return s.roomTopic(f.opts.Topic, s.first+i, targets) }
	handler := func(int) client.Handler { return &closed }
	var ec *eventCounter
	if s.awaitEvents > 0 {
		ec = &eventCounter{closed: &closed, event: s.receiveEvent, want: int32(s.awaitEvents)}
		handler = func(int) client.Handler { return &connEvents{ec: ec} }
	}
	res.rampResult = f.openMany(ctx, s.n, f.opts.Concurrency, topic, handler, nil)
	logf("joined %d of %d at %.0f/s; holding %s", res.Joined, s.n, res.PerSecond, s.hold)
	if s.readyFile != "" {
		if err := writeReady(s.readyFile, res.Joined, s.n); err != nil {
			logf("--ready-file: %v", err)
		}
	}
	holdStart := time.Now()
	holdEnd := holdStart.Add(s.hold)
	if ec != nil {
		defer func() { res.Events = ec.result() }()
		// The hold ends early once every joined connection has its events;
		// --settle and --server-gc do not apply.
		for time.Now().Before(holdEnd) && ctx.Err() == nil && ec.complete.Load() < int64(res.Joined) {
			sleepCtx(ctx, 10*time.Millisecond)
		}
		settle = 0
		logf("events: %d received, %d of %d connections complete", ec.received.Load(), ec.complete.Load(), res.Joined)
	}
	sleepCtx(ctx, min(settle, time.Until(holdEnd)))
	res.ServerRSSSettled = srv.rss()
	if s.serverGC != "" {
		if err := getURL(ctx, s.serverGC); err != nil {
			res.ServerGCError = err.Error()
			logf("--server-gc: %v", err)
		} else {
			res.ServerGC = true
		}
	}
	if ec == nil {
		sleepCtx(ctx, time.Until(holdEnd))
	}
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
	if ec != nil && ec.complete.Load() < int64(res.Joined) && ctx.Err() == nil {
		return res, fmt.Errorf("--await-events %d: %d of %d connections received them within --hold", s.awaitEvents, ec.complete.Load(), res.Joined)
	}
	return res, nil
}

// writeReady writes --ready-file through a rename, so a script polling for
// it never reads it half written.
func writeReady(path string, joined, n int) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, fmt.Appendf(nil, "%d %d\n", joined, n), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
