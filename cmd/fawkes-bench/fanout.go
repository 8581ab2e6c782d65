package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/hist"
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// fanoutScenario: S subscribers in one room, one publisher. With
// --targets the subscribers are spread over the nodes of a cluster (round
// robin) and the publisher is on the first.
type fanoutScenario struct {
	subs         int
	rate         float64
	duration     time.Duration
	eventBytes   int
	publishEvent string
	receiveEvent string
	ownEvents    bool
	drain        time.Duration
	patterns     string

	search rateSearch
	watch  nodeWatch
}

// benchEventType is the "type" of every published CloudEvent.
const benchEventType = "dev.fawkes.bench.tick"

// watchedPIDs implements the interface execute looks for: the
// --watch-pids processes are not "others".
func (s *fanoutScenario) watchedPIDs() []int { return s.watch.watchedPIDs() }

// patternPayload returns subscriber i's phx_join payload for --patterns:
// two type patterns, one that never matches and one that matches every
// benchmark event, so each subscriber still receives every event and only
// the server's matching work differs between the modes. "distinct" gives
// every subscriber a list of its own (the server cannot share the match
// between them); "shared" gives all the same list.
func patternPayload(mode string, i int) []byte {
	own := "m"
	if mode == "distinct" {
		own = "m" + strconv.Itoa(i)
	}
	return []byte(`{"event_types":["dev.fawkes.` + own + `.*","dev.fawkes.bench.*"]}`)
}

func (s *fanoutScenario) register(fs *flag.FlagSet) {
	fs.IntVar(&s.subs, "subscribers", 100, "subscribers joined to --topic")
	fs.Float64Var(&s.rate, "rate", 100, "events per second the publisher sends (with --find-max: the first step)")
	fs.DurationVar(&s.duration, "duration", 5*time.Second, "publishing time (with --find-max: per step)")
	fs.IntVar(&s.eventBytes, "event-bytes", 300, "size of each published CloudEvent (JSON payload bytes)")
	fs.StringVar(&s.publishEvent, "publish-event", "cloudevent", "event the publisher pushes (conformance channel: broadcast_from)")
	fs.StringVar(&s.receiveEvent, "receive-event", "cloudevent", "event subscribers receive (conformance channel: broadcasted)")
	fs.BoolVar(&s.ownEvents, "publisher-receives-own", false, "the publisher gets its own events too (conformance \"broadcast\"); they are expected and counted")
	fs.DurationVar(&s.drain, "drain", 2*time.Second, "after publishing, wait at most this long for the expected deliveries")
	fs.StringVar(&s.patterns, "patterns", "none", `subscribers' type patterns: none (--join-payload), shared (all {"event_types":["dev.fawkes.m.*","dev.fawkes.bench.*"]}) or distinct (subscriber i "dev.fawkes.m<i>.*" instead of "dev.fawkes.m.*"); every subscriber receives every event in each mode`)
	s.search.register(fs, "events", 100*time.Millisecond, 100000)
	s.watch.register(fs)
}

// stepCounters are one step's deliveries. Events carry their step number
// ("benchstep"), so a late event of an earlier step is not counted here.
// Each reader (Conn.Shard) counts into its own shard, so two pollers on two
// cores never write the same cache line per delivery; the shards are
// summed when the step ends. Each target has its own set of shards, so
// the figures can be given per target too.
type stepCounters struct {
	step      int64
	perTarget int // shards per target
	shards    []stepShard
}

type stepShard struct {
	received atomic.Uint64
	late     atomic.Uint64
	noStamp  atomic.Uint64
	lastRecv atomic.Int64 // unix nanos
	latency  hist.Histogram
	// where "sentat" and "benchstep" were last found (see wire.FindIntHint)
	sentHint, stepHint atomic.Int64
	_                  [64]byte // keep the next shard's counters off this line
}

func newStepCounters(step int64, targets, shards int) *stepCounters {
	shards = max(1, shards)
	return &stepCounters{step: step, perTarget: shards, shards: make([]stepShard, max(1, targets)*shards)}
}

// shard returns the counters of a reader shard of one target.
func (st *stepCounters) shard(target, readerShard int) *stepShard {
	return &st.shards[target*st.perTarget+readerShard%st.perTarget]
}

func (st *stepCounters) received() uint64 {
	var n uint64
	for i := range st.shards {
		n += st.shards[i].received.Load()
	}
	return n
}

// tally is the sum of some shards.
type tally struct {
	received, late, noStamp uint64
	lastRecv                int64 // unix nanos
	latency                 hist.Histogram
}

// total sums every shard once the step is over.
func (st *stepCounters) total() *tally { return st.sum(st.shards) }

// ofTarget sums one target's shards once the step is over.
func (st *stepCounters) ofTarget(target int) *tally {
	return st.sum(st.shards[target*st.perTarget : (target+1)*st.perTarget])
}

func (st *stepCounters) sum(shards []stepShard) *tally {
	t := &tally{}
	for i := range shards {
		sh := &shards[i]
		t.received += sh.received.Load()
		t.late += sh.late.Load()
		t.noStamp += sh.noStamp.Load()
		t.lastRecv = max(t.lastRecv, sh.lastRecv.Load())
		t.latency.Merge(&sh.latency)
	}
	return t
}

// receiver counts what every subscriber (and the publisher) receives; each
// target's connections reach it through their targetReceiver.
type receiver struct {
	event     string
	cur       atomic.Pointer[stepCounters]
	closed    atomic.Int64
	acks      atomic.Uint64 // ok replies to publishes
	rejected  atomic.Uint64 // error replies to publishes
	publisher atomic.Pointer[client.Conn]
	countOwn  bool
}

// targetReceiver is the Handler of the connections to one target.
type targetReceiver struct {
	*receiver
	target int
}

func (t *targetReceiver) Message(c *client.Conn, m wire.Message) { t.message(c, m, t.target) }

func (r *receiver) message(c *client.Conn, m wire.Message, target int) {
	if string(m.Event) == "phx_reply" {
		if c == r.publisher.Load() {
			if string(wire.ReplyStatus(m.Payload)) == "ok" {
				r.acks.Add(1)
			} else {
				r.rejected.Add(1)
			}
		}
		return
	}
	if string(m.Event) != r.event {
		return
	}
	if c == r.publisher.Load() && !r.countOwn {
		return
	}
	st := r.cur.Load()
	if st == nil {
		return
	}
	sh := st.shard(target, c.Shard())
	sentAt, ok1 := findIntHint(m.Payload, `"sentat"`, &sh.sentHint)
	step, ok2 := findIntHint(m.Payload, `"benchstep"`, &sh.stepHint)
	switch {
	case !ok1 || !ok2:
		sh.noStamp.Add(1)
	case step != st.step:
		sh.late.Add(1)
	default:
		now := c.ReadAt()
		sh.latency.Record(now - sentAt)
		sh.received.Add(1)
		if now > sh.lastRecv.Load() {
			sh.lastRecv.Store(now)
		}
	}
}

// findIntHint is wire.FindIntHint with the hint in an atomic: with the
// goroutine Poller several readers share a shard.
func findIntHint(b []byte, key string, hint *atomic.Int64) (int64, bool) {
	h0 := int(hint.Load())
	h := h0
	v, ok := wire.FindIntHint(b, key, &h)
	if h != h0 {
		hint.Store(int64(h))
	}
	return v, ok
}

func (r *receiver) Closed(*client.Conn, error) { r.closed.Add(1) }

// stepResult is one publishing period.
type stepResult struct {
	Step           int64        `json:"step"`
	TargetRate     float64      `json:"target_rate"`
	Subscribers    int          `json:"subscribers"`
	Sent           uint64       `json:"sent"`
	SentRate       float64      `json:"sent_rate"` // sent / publishing seconds
	Expected       uint64       `json:"expected"`  // sent * receivers
	Received       uint64       `json:"received"`
	Lost           uint64       `json:"lost"`
	LossRatio      float64      `json:"loss_ratio"`
	Late           uint64       `json:"late"`     // events of an earlier step
	NoStamp        uint64       `json:"no_stamp"` // receive-event without sentat/benchstep
	DeliveriesPerS float64      `json:"deliveries_per_s"`
	Latency        hist.Summary `json:"latency"`
	PublishSeconds float64      `json:"publish_s"`
	Closed         int64        `json:"subscribers_closed"`
	PublishAcks    uint64       `json:"publish_acks"`
	PublishErrors  uint64       `json:"publish_errors"` // error replies, or failed writes
	// CPU microseconds per delivery during the step (publishing and
	// drain): the server's with --pid, and this client's.
	ServerCPUUSPerDelivery float64 `json:"server_cpu_us_per_delivery,omitempty"`
	ClientCPUUSPerDelivery float64 `json:"client_cpu_us_per_delivery,omitempty"`
	// Targets splits the step by target, with more than one.
	Targets []targetStep `json:"targets,omitempty"`
	// Nodes is what each --watch-pids / --watch-metrics node spent during
	// the step (publishing and drain).
	Nodes []nodeStep `json:"nodes,omitempty"`
	// Sustainable: nothing lost, no subscriber closed, no publish error,
	// p99 within --max-p99, and sent_rate at least 90% of the target.
	Sustainable bool `json:"sustainable"`
}

// targetStep is one target's share of a step: its subscribers'
// deliveries.
type targetStep struct {
	Target         string       `json:"target"`
	Subscribers    int          `json:"subscribers"`
	Expected       uint64       `json:"expected"`
	Received       uint64       `json:"received"`
	Lost           uint64       `json:"lost"`
	LossRatio      float64      `json:"loss_ratio"`
	Late           uint64       `json:"late"`
	DeliveriesPerS float64      `json:"deliveries_per_s"`
	Latency        hist.Summary `json:"latency"`
}

// fanoutResult is the "result" of a fanout run.
type fanoutResult struct {
	Patterns    string       `json:"patterns"`
	Ramp        rampResult   `json:"ramp"`
	Reconnected int          `json:"reconnected,omitempty"`
	Steps       []stepResult `json:"steps"`
	// Best is the single step without --find-max, else the highest
	// sustainable one (absent when none was).
	Best               *stepResult `json:"best,omitempty"`
	MaxSustainableRate float64     `json:"max_sustainable_rate,omitempty"`
	MaxDeliveriesPerS  float64     `json:"max_deliveries_per_s,omitempty"`
	StopReason         string      `json:"stop_reason,omitempty"`
}

type fanoutRun struct {
	s        *fanoutScenario
	f        *fleet
	srv      *serverWatch
	recv     *receiver
	handlers []client.Handler // per target
	subs     []*client.Conn
	subOn    []int // target of each subscriber
	pub      *client.Conn
	step     int64
	buf      []byte
	result   *fanoutResult
}

func (s *fanoutScenario) run(ctx context.Context, f *fleet, srv *serverWatch) (any, error) {
	if s.subs <= 0 || s.rate <= 0 || s.duration <= 0 {
		return nil, errors.New("--subscribers, --rate and --duration must be positive")
	}
	if lim := openFiles(); lim > 0 && uint64(s.subs)+64 > lim {
		return nil, fmt.Errorf("--subscribers %d: this process may open %d files", s.subs, lim)
	}
	switch s.patterns {
	case "none":
	case "shared", "distinct":
		if f.opts.JoinPayload != "{}" {
			return nil, fmt.Errorf("--patterns %s sets the join payload: leave --join-payload out", s.patterns)
		}
		f.payloadFor = func(i int) []byte { return patternPayload(s.patterns, i) }
	default:
		return nil, fmt.Errorf("--patterns %q: want none, shared or distinct", s.patterns)
	}
	if err := s.watch.parse(); err != nil {
		return nil, err
	}
	r := &fanoutRun{s: s, f: f, srv: srv, recv: &receiver{event: s.receiveEvent, countOwn: s.ownEvents}, result: &fanoutResult{Patterns: s.patterns}}
	for t := range f.dialers {
		r.handlers = append(r.handlers, &targetReceiver{receiver: r.recv, target: t})
	}
	r.subs = make([]*client.Conn, s.subs)
	r.subOn = make([]int, s.subs)
	for i := range r.subOn {
		r.subOn[i] = f.target(i)
	}
	r.result.Ramp = f.openMany(ctx, s.subs, f.opts.Concurrency,
		func(int) string { return f.opts.Topic },
		func(i int) client.Handler { return r.handlers[r.subOn[i]] },
		func(i int, c *client.Conn) { r.subs[i] = c })
	if r.result.Ramp.Joined < s.subs {
		return r.result, fmt.Errorf("%d of %d subscribers did not join (first errors: %v)", s.subs-r.result.Ramp.Joined, s.subs, r.result.Ramp.Errors)
	}
	var err error
	if r.pub, err = f.open(ctx, 0, f.opts.Topic, r.handlers[0]); err != nil {
		return r.result, fmt.Errorf("publisher: %w", err)
	}
	r.recv.publisher.Store(r.pub)
	logf("%d subscribers and the publisher joined %s", s.subs, f.opts.Topic)
	if !s.search.enabled {
		res := r.runStep(ctx, s.rate)
		r.result.Steps = append(r.result.Steps, res)
		r.result.Best = &r.result.Steps[0]
		return r.result, nil
	}
	return r.result, r.findMax(ctx)
}

// findMax runs steps of the rate search (see rateSearch) and keeps the
// highest sustainable one.
func (r *fanoutRun) findMax(ctx context.Context) error {
	s := r.s
	stop, err := s.search.run(ctx, s.rate, s.duration+s.drain, func(rate float64) (bool, error) {
		if err := r.reconnect(ctx); err != nil {
			return false, err
		}
		res := r.runStep(ctx, rate)
		r.result.Steps = append(r.result.Steps, res)
		if res.Sustainable {
			r.result.MaxSustainableRate = res.SentRate
			r.result.MaxDeliveriesPerS = res.DeliveriesPerS
			best := res
			r.result.Best = &best
		}
		return res.Sustainable, nil
	})
	r.result.StopReason = stop
	logf("find-max: %s; highest sustainable rate %.0f events/s, %.0f deliveries/s", stop, r.result.MaxSustainableRate, r.result.MaxDeliveriesPerS)
	return err
}

// reconnect replaces subscribers (and the publisher) the server closed in
// an earlier step, so every step has the same shape.
func (r *fanoutRun) reconnect(ctx context.Context) error {
	for i, c := range r.subs {
		if c == nil || !c.Closed() {
			continue
		}
		nc, err := r.f.openWith(ctx, r.subOn[i], r.f.opts.Topic, r.f.payload(i), r.handlers[r.subOn[i]])
		if err != nil {
			return fmt.Errorf("reconnecting a subscriber: %w", err)
		}
		r.subs[i] = nc
		r.result.Reconnected++
	}
	if r.pub.Closed() {
		nc, err := r.f.open(ctx, 0, r.f.opts.Topic, r.handlers[0])
		if err != nil {
			return fmt.Errorf("reconnecting the publisher: %w", err)
		}
		r.pub = nc
		r.recv.publisher.Store(nc)
		r.result.Reconnected++
	}
	return nil
}

// runStep publishes at rate for the configured duration, then waits for
// the deliveries.
func (r *fanoutRun) runStep(ctx context.Context, rate float64) stepResult {
	s := r.s
	r.step++
	st := newStepCounters(r.step, len(r.f.dialers), r.f.poller.Shards())
	r.recv.cur.Store(st)
	receivers := 0
	perTarget := make([]int, len(r.f.dialers))
	for i, c := range r.subs {
		if c != nil && !c.Closed() {
			receivers++
			perTarget[r.subOn[i]]++
		}
	}
	if s.ownEvents {
		receivers++
		perTarget[0]++
	}
	closed0, acks0, rej0 := r.recv.closed.Load(), r.recv.acks.Load(), r.recv.rejected.Load()
	logf("step %d: %.0f events/s to %d subscribers for %s", r.step, rate, receivers, s.duration)

	// The i-th event is due at start + i/rate; a publisher that falls
	// behind catches up in a burst, and one that cannot shows as a
	// sent_rate under the target.
	nodes0 := s.watch.sample(ctx)
	srvCPU0, cliCPU0 := r.srv.cpu(), cpuOf(0)
	total := uint64(math.Round(rate * s.duration.Seconds()))
	var sent, sendErrs uint64
	start := time.Now()
	for sent < total && ctx.Err() == nil {
		due := min(total, uint64(time.Since(start).Seconds()*rate)+1)
		for sent < due {
			if _, err := r.pub.Push(s.publishEvent, r.event(sent)); err != nil {
				sendErrs++
			}
			sent++
		}
		if d := time.Until(start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))); d > 0 {
			time.Sleep(d)
		}
	}
	// The last event was due at (total-1)/rate; count its period too.
	pubSecs := time.Since(start).Seconds()
	expected := sent * uint64(receivers)
	drainEnd := time.Now().Add(s.drain)
	for st.received() < expected && time.Now().Before(drainEnd) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	srvCPU, cliCPU := r.srv.cpu()-srvCPU0, cpuOf(0)-cliCPU0
	all := st.total()
	res := stepResult{
		Step:           r.step,
		TargetRate:     rate,
		Subscribers:    receivers,
		Sent:           sent,
		SentRate:       float64(sent) / pubSecs,
		Expected:       expected,
		Received:       all.received,
		Late:           all.late,
		NoStamp:        all.noStamp,
		Latency:        all.latency.Summarize(),
		PublishSeconds: pubSecs,
		Closed:         r.recv.closed.Load() - closed0,
		PublishAcks:    r.recv.acks.Load() - acks0,
		PublishErrors:  r.recv.rejected.Load() - rej0 + sendErrs,
	}
	if res.Received < expected {
		res.Lost = expected - res.Received
	}
	if res.Received > 0 {
		if srvCPU0 > 0 {
			res.ServerCPUUSPerDelivery = srvCPU * 1e6 / float64(res.Received)
		}
		res.ClientCPUUSPerDelivery = cliCPU * 1e6 / float64(res.Received)
	}
	if expected > 0 {
		res.LossRatio = float64(res.Lost) / float64(expected)
	}
	res.DeliveriesPerS = deliveriesPerS(all, start)
	if len(perTarget) > 1 {
		urls := r.f.urls()
		for t, n := range perTarget {
			tt := st.ofTarget(t)
			ts := targetStep{Target: urls[t], Subscribers: n, Expected: sent * uint64(n), Received: tt.received, Late: tt.late,
				DeliveriesPerS: deliveriesPerS(tt, start), Latency: tt.latency.Summarize()}
			if ts.Received < ts.Expected {
				ts.Lost = ts.Expected - ts.Received
			}
			if ts.Expected > 0 {
				ts.LossRatio = float64(ts.Lost) / float64(ts.Expected)
			}
			res.Targets = append(res.Targets, ts)
		}
	}
	res.Nodes = s.watch.diff(nodes0, s.watch.sample(ctx))
	res.Sustainable = res.Lost == 0 && res.Closed == 0 && res.PublishErrors == 0 &&
		res.Latency.P99MS <= float64(s.search.maxP99)/1e6 && res.SentRate >= 0.9*rate
	logf("step %d: sent %d (%.0f/s), received %d of %d, p50 %.2f ms, p99 %.2f ms, max %.2f ms, %.0f deliveries/s%s",
		r.step, sent, res.SentRate, res.Received, expected, res.Latency.P50MS, res.Latency.P99MS, res.Latency.MaxMS, res.DeliveriesPerS,
		map[bool]string{true: "", false: " (not sustainable)"}[res.Sustainable])
	for _, t := range res.Targets {
		logf("step %d: %s: received %d of %d, p50 %.2f ms, p99 %.2f ms", r.step, t.Target, t.Received, t.Expected, t.Latency.P50MS, t.Latency.P99MS)
	}
	return res
}

// deliveriesPerS is deliveries over the time from the step's start to the
// last delivery.
func deliveriesPerS(t *tally, start time.Time) float64 {
	if t.lastRecv <= start.UnixNano() {
		return 0
	}
	return float64(t.received) / (float64(t.lastRecv-start.UnixNano()) / 1e9)
}

// event returns the seq-th CloudEvent of the current step (see
// appendBenchEvent).
func (r *fanoutRun) event(seq uint64) []byte {
	r.buf = appendBenchEvent(r.buf[:0], r.step, seq, r.s.eventBytes)
	return r.buf
}

// appendBenchEvent appends the seq-th CloudEvent of step, padded with data
// to size bytes. It carries the step and the send time as extension
// attributes "benchstep" and "sentat" (unix nanoseconds), as strings so no
// JSON number precision is in question.
func appendBenchEvent(b []byte, step int64, seq uint64, size int) []byte {
	start := len(b)
	b = append(b, `{"specversion":"1.0","id":"`...)
	b = strconv.AppendInt(b, step, 10)
	b = append(b, '-')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, `","source":"/fawkes-bench","type":"`+benchEventType+`","datacontenttype":"text/plain","benchstep":"`...)
	b = strconv.AppendInt(b, step, 10)
	b = append(b, `","sentat":"`...)
	b = strconv.AppendInt(b, time.Now().UnixNano(), 10)
	b = append(b, `","data":"`...)
	for pad := size - (len(b) - start) - 2; pad > 0; pad-- {
		b = append(b, 'x')
	}
	b = append(b, `"}`...)
	return b
}
