package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// rpcScenario: C connections, each sending a push and waiting for its
// reply before the next.
type rpcScenario struct {
	conns        int
	duration     time.Duration
	rate         float64
	event        string
	payload      string
	replyTimeout time.Duration
	search       rateSearch
}

func (s *rpcScenario) register(fs *flag.FlagSet) {
	fs.IntVar(&s.conns, "conns", 100, "connections, each with one request in flight")
	fs.DurationVar(&s.duration, "duration", 5*time.Second, "how long to send")
	fs.Float64Var(&s.rate, "rate", 0, "total requests per second over all connections; 0 means as fast as replies come (with --find-max: the first step, default 1000)")
	fs.StringVar(&s.event, "ping-event", "ping", "event to push (conformance channel: echo)")
	fs.StringVar(&s.payload, "ping-payload", "{}", "payload of each push (JSON)")
	fs.DurationVar(&s.replyTimeout, "reply-timeout", 5*time.Second, "a request without reply after this long counts as timed out and ends its connection's loop")
	s.search.register(fs, "requests", 10*time.Millisecond, 1e6)
}

// rpcStep is one sending period.
type rpcStep struct {
	TargetRate  float64      `json:"target_rate,omitempty"` // 0: as fast as replies come
	Requests    uint64       `json:"requests"`
	Replies     uint64       `json:"replies"` // ok replies
	Errors      uint64       `json:"error_replies"`
	Timeouts    uint64       `json:"timeouts"`
	SendErrors  uint64       `json:"send_errors"`
	Seconds     float64      `json:"seconds"`
	RepliesPerS float64      `json:"replies_per_s"`
	Latency     hist.Summary `json:"latency"`
	// Sustainable: no error reply, timeout or failed send, p99 within
	// --max-p99, and (with a rate) replies at 90% of it or more.
	Sustainable bool `json:"sustainable"`
}

// rpcResult is the "result" of an rpc run: the step's figures at the top
// level (with --find-max: the highest sustainable step's), and with
// --find-max every step.
type rpcResult struct {
	Ramp rampResult `json:"ramp"`
	rpcStep
	Steps              []rpcStep `json:"steps,omitempty"`
	MaxSustainableRate float64   `json:"max_sustainable_rate,omitempty"` // replies/s of the best step
	StopReason         string    `json:"stop_reason,omitempty"`
}

// rpcConn is one connection's request in flight.
type rpcConn struct {
	pending atomic.Uint64 // ref awaited, 0 when none
	sentAt  atomic.Int64
	ok      atomic.Bool
	done    chan struct{}
}

// rpcHandler matches replies to the request in flight and records the
// latency at the moment the reply is read.
type rpcHandler struct {
	byConn  sync.Map                       // *client.Conn -> *rpcConn
	latency atomic.Pointer[hist.Histogram] // the current step's
}

func (h *rpcHandler) Message(c *client.Conn, m wire.Message) {
	if string(m.Event) != "phx_reply" {
		return
	}
	v, ok := h.byConn.Load(c)
	if !ok {
		return
	}
	rc := v.(*rpcConn)
	ref, ok := wire.Uint(m.Ref)
	if !ok || ref != rc.pending.Load() || !rc.pending.CompareAndSwap(ref, 0) {
		return // a reply after its timeout
	}
	h.latency.Load().Record(c.ReadAt() - rc.sentAt.Load())
	rc.ok.Store(string(wire.ReplyStatus(m.Payload)) == "ok")
	rc.done <- struct{}{}
}

func (h *rpcHandler) Closed(c *client.Conn, _ error) {}

func (s *rpcScenario) run(ctx context.Context, f *fleet, _ *serverWatch) (any, error) {
	if s.conns <= 0 || s.duration <= 0 {
		return nil, errors.New("--conns and --duration must be positive")
	}
	h := &rpcHandler{}
	h.latency.Store(&hist.Histogram{})
	res := &rpcResult{}
	conns := make([]*client.Conn, s.conns)
	res.Ramp = f.openMany(ctx, s.conns, f.opts.Concurrency,
		func(int) string { return f.opts.Topic },
		func(int) client.Handler { return h },
		func(i int, c *client.Conn) {
			h.byConn.Store(c, &rpcConn{done: make(chan struct{}, 1)})
			conns[i] = c
		})
	if res.Ramp.Joined < s.conns {
		return res, fmt.Errorf("%d of %d connections did not join (first errors: %v)", s.conns-res.Ramp.Joined, s.conns, res.Ramp.Errors)
	}
	if !s.search.enabled {
		res.rpcStep = s.step(ctx, h, conns, s.rate)
		if res.Errors > 0 {
			return res, fmt.Errorf("%d error replies: is --ping-event %q an event of the channel?", res.Errors, s.event)
		}
		return res, nil
	}
	first := s.rate
	if first <= 0 {
		first = 1000
	}
	stop, err := s.search.run(ctx, first, s.duration+s.replyTimeout, func(rate float64) (bool, error) {
		st := s.step(ctx, h, conns, rate)
		res.Steps = append(res.Steps, st)
		if st.Errors > 0 {
			return false, fmt.Errorf("%d error replies: is --ping-event %q an event of the channel?", st.Errors, s.event)
		}
		if st.Timeouts+st.SendErrors > 0 {
			return false, fmt.Errorf("step at %.0f/s: %d timeouts, %d failed sends: connections are no longer usable", rate, st.Timeouts, st.SendErrors)
		}
		if st.Sustainable {
			res.rpcStep = st
			res.MaxSustainableRate = st.RepliesPerS
		}
		return st.Sustainable, nil
	})
	res.StopReason = stop
	logf("rpc find-max: %s; highest sustainable rate %.0f/s (p99 %.2f ms)", stop, res.MaxSustainableRate, res.Latency.P99MS)
	return res, err
}

// step sends for --duration at rate (0: as fast as replies come) and
// measures.
func (s *rpcScenario) step(ctx context.Context, h *rpcHandler, conns []*client.Conn, rate float64) rpcStep {
	if rate > 0 {
		logf("rpc: %d connections sending %q at %.0f/s for %s", s.conns, s.event, rate, s.duration)
	} else {
		logf("rpc: %d connections sending %q for %s", s.conns, s.event, s.duration)
	}
	lat := &hist.Histogram{}
	h.latency.Store(lat)
	var requests, okN, errN, timeouts, sendErrs atomic.Uint64
	var interval time.Duration
	if rate > 0 {
		interval = time.Duration(float64(s.conns) / rate * float64(time.Second))
	}
	start := time.Now()
	end := start.Add(s.duration)
	var wg sync.WaitGroup
	for i, c := range conns {
		v, _ := h.byConn.Load(c)
		rc := v.(*rpcConn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			timer := time.NewTimer(s.replyTimeout)
			defer timer.Stop()
			// Spread the first requests over one interval so a rate limit
			// does not start with a burst.
			next := start.Add(time.Duration(int64(interval) * int64(i) / int64(s.conns)))
			for ctx.Err() == nil {
				if interval > 0 {
					if !next.Before(end) {
						return // no sleeping past the end: it would lower the rate measured
					}
					if d := time.Until(next); d > 0 {
						time.Sleep(d)
					}
					next = next.Add(interval)
				}
				if !time.Now().Before(end) {
					return
				}
				ref := c.NextRef()
				rc.sentAt.Store(time.Now().UnixNano())
				rc.pending.Store(ref)
				requests.Add(1)
				if err := c.Send(c.JoinRef(), ref, c.Topic, s.event, []byte(s.payload)); err != nil {
					sendErrs.Add(1)
					return
				}
				timer.Reset(s.replyTimeout)
				select {
				case <-rc.done:
					if rc.ok.Load() {
						okN.Add(1)
					} else {
						errN.Add(1)
					}
				case <-timer.C:
					if rc.pending.CompareAndSwap(ref, 0) {
						timeouts.Add(1)
						return
					}
					<-rc.done // the reply won the race
					if rc.ok.Load() {
						okN.Add(1)
					} else {
						errN.Add(1)
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	wg.Wait()
	res := rpcStep{TargetRate: rate, Seconds: time.Since(start).Seconds()}
	res.Requests, res.Replies, res.Errors = requests.Load(), okN.Load(), errN.Load()
	res.Timeouts, res.SendErrors = timeouts.Load(), sendErrs.Load()
	res.RepliesPerS = float64(res.Replies+res.Errors) / res.Seconds
	res.Latency = lat.Summarize()
	res.Sustainable = res.Errors+res.Timeouts+res.SendErrors == 0 && res.Replies > 0 &&
		res.Latency.P99MS <= float64(s.search.maxP99)/1e6 && (rate == 0 || res.RepliesPerS >= 0.9*rate)
	logf("rpc: %d replies (%.0f/s), p50 %.2f ms, p99 %.2f ms, max %.2f ms%s", res.Replies, res.RepliesPerS, res.Latency.P50MS, res.Latency.P99MS, res.Latency.MaxMS,
		map[bool]string{true: "", false: " (not sustainable)"}[res.Sustainable])
	return res
}
