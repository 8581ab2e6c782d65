package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// resumeScenario: N clients in a room and a publisher at R events/s; every
// client is disconnected at once, misses --missed events, and rejoins at
// once with "last_event_id" (issue 12). It reports the time until all are
// caught up (each has every event published before the rejoin began),
// events replayed per second, and whether any client lost an event or got
// one twice, from their first event to the last one published. With
// --targets, clients rejoin on the next target (another node).
type resumeScenario struct {
	clients     int
	rate        float64
	missed      int
	warmup      time.Duration
	tail        time.Duration
	eventBytes  int
	concurrency int
	timeout     time.Duration
	sameNode    bool
}

func (s *resumeScenario) register(fs *flag.FlagSet) {
	fs.IntVar(&s.clients, "clients", 1000, "clients joined to --topic")
	fs.Float64Var(&s.rate, "rate", 50, "events per second the publisher sends, from the start to the end")
	fs.IntVar(&s.missed, "missed", 100, "events published while every client is away: each replays this many")
	fs.DurationVar(&s.warmup, "warmup", 2*time.Second, "publishing before the clients are dropped")
	fs.DurationVar(&s.tail, "tail", 2*time.Second, "publishing after every client caught up (live after the replay)")
	fs.IntVar(&s.eventBytes, "event-bytes", 300, "size of each published CloudEvent")
	fs.IntVar(&s.concurrency, "rejoin-concurrency", 0, "clients reconnecting at once (0: all of them)")
	fs.DurationVar(&s.timeout, "catch-up-timeout", 30*time.Second, "give up waiting for the clients to catch up after this long")
	fs.BoolVar(&s.sameNode, "same-node", false, "with --targets: rejoin on the same target rather than the next one")
}

// resumeResult is the "result" of a resume run.
type resumeResult struct {
	Ramp   rampResult `json:"ramp"`
	Rejoin rampResult `json:"rejoin"`
	// CrossNode: clients rejoined on another target than their first.
	CrossNode bool `json:"cross_node"`
	// PublishedAtRejoin is the sequence number of the last event published
	// when the rejoin began: a client is caught up once it has it.
	PublishedAtRejoin int64 `json:"published_at_rejoin"`
	MissedMin         int64 `json:"missed_min"` // per client: events published while it was away
	MissedMax         int64 `json:"missed_max"`
	Replayed          int64 `json:"replayed"` // the missed events of every client, all together
	// CatchUp is, per client, the time from the start of the rejoin until
	// it had every event published before it; AllCaughtUpMS the longest.
	CatchUp       hist.Summary `json:"catch_up"`
	AllCaughtUpMS float64      `json:"all_caught_up_ms"`
	ReplayedPerS  float64      `json:"replayed_per_s"` // Replayed / AllCaughtUpMS
	NotCaughtUp   int          `json:"not_caught_up"`
	// Published is every event sent; Incomplete counts the clients that
	// do not end with the last one.
	Published  int64 `json:"published"`
	Incomplete int   `json:"incomplete"`
	Lost       int64 `json:"lost"`       // events a client skipped, all clients together
	Duplicates int64 `json:"duplicates"` // events a client got again
	Closed     int64 `json:"closed_by_server"`
	// ServerCPUSeconds is the --pid server's CPU time from the start of the
	// rejoin until every client caught up.
	ServerCPUSeconds float64 `json:"server_cpu_s,omitempty"`
	// Pass: every client caught up within 2 s, none lost or duplicated an
	// event, and all end with the last one.
	Pass bool `json:"pass"`
}

// resumeClient is one client's sequence, across its connections.
type resumeClient struct {
	mu         sync.Mutex
	gen        int   // the live connection's generation; older ones are ignored
	next       int64 // the next sequence number expected; 0 before the first event
	lost, dups int64
	target     int64 // caught up once it has this one (0: not asked)
	caughtUp   int64 // unix nanos
	on         int   // the target it is connected to
	conn       *client.Conn
	seqHint    atomic.Int64
}

// resumeHandler is the Handler of one connection of a client.
type resumeHandler struct {
	c      *resumeClient
	gen    int
	closed *atomic.Int64
}

func (h *resumeHandler) Message(conn *client.Conn, m wire.Message) {
	if string(m.Event) != "cloudevent" {
		return
	}
	seq, ok := findIntHint(m.Payload, `"benchseq"`, &h.c.seqHint)
	if !ok {
		return
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if h.gen != c.gen {
		return // a dropped connection's last reads
	}
	switch {
	case c.next == 0:
	case seq < c.next:
		c.dups++
		return
	case seq > c.next:
		c.lost += seq - c.next
	}
	c.next = seq + 1
	if c.target > 0 && c.caughtUp == 0 && seq >= c.target {
		c.caughtUp = conn.ReadAt()
	}
}

func (h *resumeHandler) Closed(*client.Conn, error) {
	h.c.mu.Lock()
	current := h.gen == h.c.gen
	h.c.mu.Unlock()
	if current {
		h.closed.Add(1)
	}
}

// resumePublisher sends the numbered events.
type resumePublisher struct {
	conn   *client.Conn
	seq    atomic.Int64 // the last one sent
	errors atomic.Int64
	buf    []byte
}

func (p *resumePublisher) Message(_ *client.Conn, m wire.Message) {
	if string(m.Event) == "phx_reply" && string(wire.ReplyStatus(m.Payload)) != "ok" {
		p.errors.Add(1)
	}
}

func (p *resumePublisher) Closed(*client.Conn, error) { p.errors.Add(1) }

// run publishes at rate until ctx ends.
func (p *resumePublisher) run(ctx context.Context, rate float64, size int) {
	start := time.Now()
	base := p.seq.Load()
	for ctx.Err() == nil {
		due := base + int64(time.Since(start).Seconds()*rate) + 1
		for p.seq.Load() < due {
			n := p.seq.Load() + 1
			p.buf = appendSeqEvent(p.buf[:0], n, size)
			if _, err := p.conn.Push("cloudevent", p.buf); err != nil {
				p.errors.Add(1)
			}
			p.seq.Store(n)
		}
		next := start.Add(time.Duration(float64(p.seq.Load()-base) / rate * float64(time.Second)))
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(next)):
		}
	}
}

// appendSeqEvent appends CloudEvent number seq (id "rs-<seq>", extension
// "benchseq"), padded to size bytes.
func appendSeqEvent(b []byte, seq int64, size int) []byte {
	start := len(b)
	b = append(b, `{"specversion":"1.0","id":"rs-`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","source":"/fawkes-bench","type":"`+benchEventType+`","benchseq":"`...)
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, `","data":"`...)
	for pad := size - (len(b) - start) - 2; pad > 0; pad-- {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

func (s *resumeScenario) run(ctx context.Context, f *fleet, srv *serverWatch) (any, error) {
	if s.clients <= 0 || s.rate <= 0 || s.missed <= 0 {
		return nil, errors.New("--clients, --rate and --missed must be positive")
	}
	if lim := openFiles(); lim > 0 && uint64(2*s.clients)+64 > lim {
		return nil, fmt.Errorf("--clients %d: this process may open %d files (a rejoin holds two per client for a moment)", s.clients, lim)
	}
	res := &resumeResult{CrossNode: len(f.dialers) > 1 && !s.sameNode}
	var closed atomic.Int64
	clients := make([]*resumeClient, s.clients)
	for i := range clients {
		clients[i] = &resumeClient{on: f.target(i)}
	}
	handler := func(i int) client.Handler {
		c := clients[i]
		c.mu.Lock()
		defer c.mu.Unlock()
		return &resumeHandler{c: c, gen: c.gen, closed: &closed}
	}
	res.Ramp = f.openMany(ctx, s.clients, f.opts.Concurrency, func(int) string { return f.opts.Topic }, handler,
		func(i int, conn *client.Conn) { clients[i].conn = conn })
	if res.Ramp.Joined < s.clients {
		return res, fmt.Errorf("%d of %d clients did not join (first errors: %v)", s.clients-res.Ramp.Joined, s.clients, res.Ramp.Errors)
	}
	pub := &resumePublisher{}
	var err error
	if pub.conn, err = f.open(ctx, 0, f.opts.Topic, pub); err != nil {
		return res, fmt.Errorf("publisher: %w", err)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		pub.run(pubCtx, s.rate, s.eventBytes)
	}()
	defer func() {
		stopPub()
		<-pubDone
	}()
	logf("%d clients joined %s; publishing %.0f events/s for %s", s.clients, f.opts.Topic, s.rate, s.warmup)
	if !waitCtx(ctx, s.warmup) {
		return res, ctx.Err()
	}

	// Drop every client at once; each remembers the last event it had.
	last := make([]int64, s.clients)
	for i, c := range clients {
		c.mu.Lock()
		c.gen++
		last[i] = c.next - 1
		conn := c.conn
		c.conn = nil
		c.mu.Unlock()
		_ = conn.Close()
	}
	dropped := pub.seq.Load()
	logf("dropped every client at event %d; waiting for %d more", dropped, s.missed)
	for pub.seq.Load() < dropped+int64(s.missed) {
		if !waitCtx(ctx, time.Millisecond) {
			return res, ctx.Err()
		}
	}

	// Rejoin at once, on the next target unless --same-node.
	start := time.Now()
	at := pub.seq.Load()
	res.PublishedAtRejoin = at
	res.MissedMin, res.MissedMax = at, 0
	for i, c := range clients {
		c.mu.Lock()
		c.target = at
		if last[i] >= at {
			c.caughtUp = start.UnixNano()
		}
		c.mu.Unlock()
		missed := at - last[i]
		res.Replayed += missed
		res.MissedMin, res.MissedMax = min(res.MissedMin, missed), max(res.MissedMax, missed)
	}
	f.payloadFor = func(i int) []byte { return []byte(`{"last_event_id":"rs-` + strconv.FormatInt(last[i], 10) + `"}`) }
	f.targetOf = func(i int) int {
		if !res.CrossNode {
			return clients[i].on
		}
		return (clients[i].on + 1) % len(f.dialers)
	}
	cpu0 := srv.cpu()
	concurrency := s.concurrency
	if concurrency <= 0 {
		concurrency = s.clients
	}
	res.Rejoin = f.openMany(ctx, s.clients, concurrency, func(int) string { return f.opts.Topic }, handler,
		func(i int, conn *client.Conn) {
			c := clients[i]
			c.mu.Lock()
			c.conn = conn
			c.on = f.target(i)
			c.mu.Unlock()
		})
	f.payloadFor, f.targetOf = nil, nil
	caughtUp := func() int {
		n := 0
		for _, c := range clients {
			c.mu.Lock()
			if c.caughtUp != 0 {
				n++
			}
			c.mu.Unlock()
		}
		return n
	}
	deadline := start.Add(s.timeout)
	for caughtUp() < s.clients && time.Now().Before(deadline) {
		if !waitCtx(ctx, 2*time.Millisecond) {
			return res, ctx.Err()
		}
	}
	if cpu0 > 0 {
		res.ServerCPUSeconds = srv.cpu() - cpu0
	}
	var lat hist.Histogram
	var longest int64
	for _, c := range clients {
		c.mu.Lock()
		if c.caughtUp == 0 {
			res.NotCaughtUp++
		} else {
			d := c.caughtUp - start.UnixNano()
			lat.Record(d)
			longest = max(longest, d)
		}
		c.mu.Unlock()
	}
	res.CatchUp = lat.Summarize()
	res.AllCaughtUpMS = float64(longest) / 1e6
	if longest > 0 {
		res.ReplayedPerS = float64(res.Replayed) / (float64(longest) / 1e9)
	}
	logf("rejoined %d of %d in %.0f ms; %d caught up, the last after %.0f ms (p50 %.0f ms, p99 %.0f ms): %d events replayed, %.0f/s",
		res.Rejoin.Joined, s.clients, res.Rejoin.Seconds*1000, s.clients-res.NotCaughtUp, res.AllCaughtUpMS, res.CatchUp.P50MS, res.CatchUp.P99MS, res.Replayed, res.ReplayedPerS)

	// Live after the replay, then the last event must reach everyone.
	if !waitCtx(ctx, s.tail) {
		return res, ctx.Err()
	}
	stopPub()
	<-pubDone
	res.Published = pub.seq.Load()
	end := time.Now().Add(10 * time.Second)
	for time.Now().Before(end) {
		res.Incomplete = 0
		for _, c := range clients {
			c.mu.Lock()
			if c.next-1 != res.Published {
				res.Incomplete++
			}
			c.mu.Unlock()
		}
		if res.Incomplete == 0 || !waitCtx(ctx, 5*time.Millisecond) {
			break
		}
	}
	for _, c := range clients {
		c.mu.Lock()
		res.Lost += c.lost
		res.Duplicates += c.dups
		c.mu.Unlock()
	}
	res.Closed = closed.Load()
	res.Pass = res.NotCaughtUp == 0 && res.AllCaughtUpMS <= 2000 && res.Lost == 0 && res.Duplicates == 0 && res.Incomplete == 0 && pub.errors.Load() == 0
	logf("published %d; %d clients incomplete, %d events lost, %d duplicated, %d publish errors", res.Published, res.Incomplete, res.Lost, res.Duplicates, pub.errors.Load())
	if pub.errors.Load() > 0 {
		return res, fmt.Errorf("%d publish errors", pub.errors.Load())
	}
	return res, nil
}

// waitCtx sleeps d, or reports false when ctx ends first.
func waitCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
