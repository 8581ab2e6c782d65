package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
)

// fleet is the connections of one run: a Dialer per target, the Poller
// that reads them, the Heartbeater that keeps them alive, and their shared
// counters.
type fleet struct {
	opts    *commonOptions
	dialers []*client.Dialer // one per target, in --targets order
	poller  client.Poller
	hb      *client.Heartbeater
	stats   client.Stats
	stopHB  context.CancelFunc
	hbDone  chan struct{}
	// payloadFor, when set, gives connection i of openMany its own
	// phx_join payload instead of --join-payload.
	payloadFor func(i int) []byte
	// targetOf, when set, gives connection i of openMany its target (an
	// index of dialers) instead of i mod the number of targets.
	targetOf func(i int) int
}

func newFleet(opts *commonOptions) (*fleet, error) {
	first, n, err := sourceAddrs(opts.SourceAddrs)
	if err != nil {
		return nil, err
	}
	targets := opts.targets()
	if len(targets) == 0 {
		return nil, errors.New("--targets: no target")
	}
	var dialers []*client.Dialer
	for _, t := range targets {
		d, err := client.NewDialer(client.DialConfig{Target: t, SourceAddrs: n, SourceFirst: first, Timeout: opts.DialTimeout})
		if err != nil {
			return nil, err
		}
		dialers = append(dialers, d)
	}
	var p client.Poller
	switch opts.Reader {
	case "epoll":
		if p, err = client.NewPoller(opts.Pollers); err != nil {
			return nil, err
		}
	case "goroutine":
		p = client.NewGoroutinePoller()
	default:
		return nil, fmt.Errorf("--reader %q: want epoll or goroutine", opts.Reader)
	}
	f := &fleet{opts: opts, dialers: dialers, poller: p, hb: client.NewHeartbeater(opts.Heartbeat), hbDone: make(chan struct{})}
	var ctx context.Context
	ctx, f.stopHB = context.WithCancel(context.Background())
	go func() {
		defer close(f.hbDone)
		f.hb.Run(ctx)
	}()
	return f, nil
}

// payload returns the phx_join payload of connection i.
func (f *fleet) payload(i int) []byte {
	if f.payloadFor != nil {
		return f.payloadFor(i)
	}
	return []byte(f.opts.JoinPayload)
}

// urls returns the URL of every target.
func (f *fleet) urls() []string {
	var u []string
	for _, d := range f.dialers {
		u = append(u, d.URL())
	}
	return u
}

// target returns the target (index of dialers) of connection i.
func (f *fleet) target(i int) int {
	if f.targetOf != nil {
		return f.targetOf(i)
	}
	return i % len(f.dialers)
}

// open dials target (an index of --targets), joins topic with
// --join-payload and starts reading and heartbeating the result. The error
// says which step failed (a *stepError).
func (f *fleet) open(ctx context.Context, target int, topic string, h client.Handler) (*client.Conn, error) {
	return f.openWith(ctx, target, topic, []byte(f.opts.JoinPayload), h)
}

// openWith is open with the given join payload.
func (f *fleet) openWith(ctx context.Context, target int, topic string, payload []byte, h client.Handler) (*client.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, f.opts.DialTimeout)
	defer cancel()
	c, err := f.dialers[target].Dial(ctx, h, &f.stats)
	if err != nil {
		return nil, &stepError{step: "dial", err: err}
	}
	if err := c.Join(ctx, topic, payload); err != nil {
		_ = c.Close()
		return nil, &stepError{step: "join", err: err}
	}
	if err := f.poller.Add(c); err != nil {
		_ = c.Close()
		return nil, &stepError{step: "join", err: err}
	}
	f.hb.Add(c)
	return c, nil
}

// close stops heartbeats and closes every connection.
func (f *fleet) close() {
	f.stopHB()
	<-f.hbDone
	f.poller.Close()
}

type stepError struct {
	step string
	err  error
}

func (e *stepError) Error() string { return e.step + ": " + e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// rampResult is what opening many connections did.
type rampResult struct {
	Attempted   int          `json:"attempted"`
	Established int          `json:"established"` // WebSocket open
	Joined      int          `json:"joined"`
	DialFailed  int          `json:"dial_failed"`
	JoinFailed  int          `json:"join_failed"`
	Seconds     float64      `json:"seconds"`
	PerSecond   float64      `json:"connect_join_per_s"` // joined / seconds
	Latency     hist.Summary `json:"connect_join_latency"`
	Errors      []string     `json:"errors,omitempty"` // the first few distinct
	// JoinedPerTarget is Joined by target, with more than one target.
	JoinedPerTarget []int `json:"joined_per_target,omitempty"`
}

// openMany opens n connections, at most concurrency at a time; topic and
// handler give each its room and Handler (f.payload its join payload,
// f.target its server), and opened receives each joined Conn
// (concurrently). It stops early when ctx ends.
func (f *fleet) openMany(ctx context.Context, n, concurrency int, topic func(i int) string, handler func(i int) client.Handler, opened func(i int, c *client.Conn)) rampResult {
	var (
		next                atomic.Int64
		joined, dialF, join atomic.Int64
		lat                 hist.Histogram
		errMu               sync.Mutex
		errs                []string
		wg                  sync.WaitGroup
		perTarget           = make([]atomic.Int64, len(f.dialers))
	)
	start := time.Now()
	progress := newProgress("connect+join", n)
	for range max(1, min(concurrency, n)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				t0 := time.Now()
				t := f.target(i)
				c, err := f.openWith(ctx, t, topic(i), f.payload(i), handler(i))
				if err != nil {
					var se *stepError
					if errors.As(err, &se) && se.step == "dial" {
						dialF.Add(1)
					} else {
						join.Add(1)
					}
					errMu.Lock()
					if len(errs) < 5 && !contains(errs, err.Error()) {
						errs = append(errs, err.Error())
					}
					errMu.Unlock()
					progress.add()
					continue
				}
				lat.RecordDuration(time.Since(t0))
				joined.Add(1)
				perTarget[t].Add(1)
				if opened != nil {
					opened(i, c)
				}
				progress.add()
			}
		}()
	}
	wg.Wait()
	progress.done()
	secs := time.Since(start).Seconds()
	r := rampResult{
		Attempted:  int(min(next.Load(), int64(n))),
		Joined:     int(joined.Load()),
		DialFailed: int(dialF.Load()),
		JoinFailed: int(join.Load()),
		Seconds:    secs,
		Latency:    lat.Summarize(),
		Errors:     errs,
	}
	r.Established = r.Joined + r.JoinFailed
	if len(perTarget) > 1 {
		for i := range perTarget {
			r.JoinedPerTarget = append(r.JoinedPerTarget, int(perTarget[i].Load()))
		}
	}
	if secs > 0 {
		r.PerSecond = float64(r.Joined) / secs
	}
	return r
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
