package channels_test

// Mux logic tests with a recording Transport: no network.

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// TestMain fails the run if a test leaves a goroutine behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// recorder is a Transport that keeps every frame it is sent.
type recorder struct {
	mu           sync.Mutex
	frames       []protocol.Frame
	disconnected int
}

func (r *recorder) Send(f protocol.Frame) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames = append(r.frames, f)
}

func (r *recorder) Disconnect() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.disconnected++
}

// take returns the frames sent so far as JSON text and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.frames))
	for i, f := range r.frames {
		out[i] = string(f.Data)
	}
	r.frames = nil
	return out
}

// expect compares the frames sent since the last call with want, as JSON.
func (r *recorder) expect(t *testing.T, want ...string) {
	t.Helper()
	got := r.take()
	norm := func(ss []string) []any {
		out := make([]any, len(ss))
		for i, s := range ss {
			if err := json.Unmarshal([]byte(s), &out[i]); err != nil {
				out[i] = "invalid JSON: " + s
			}
		}
		return out
	}
	if diff := cmp.Diff(norm(want), norm(got)); diff != "" {
		t.Fatalf("frames differ (-want +got):\n%s\ngot: %q", diff, got)
	}
}

// spy is a Channel that records its lifecycle.
type spy struct {
	log   *eventLog
	topic string
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, fmt.Sprintf(format, args...))
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.events
	l.events = nil
	return out
}

func (s *spy) Join(sock *channels.Socket, payload []byte) channels.Reply {
	s.log.add("join %s", sock.Topic())
	return channels.OK(nil)
}

func (s *spy) HandleIn(sock *channels.Socket, in channels.Inbound) channels.Result {
	s.log.add("in %s %s", sock.Topic(), in.Event)
	return channels.Replied(channels.OK(in.Payload))
}

func (s *spy) Terminate(sock *channels.Socket, r channels.Reason) {
	s.log.add("terminate %s %s", sock.Topic(), r)
	_ = sock.Push("bye", nil) // after Close, nothing reaches the client
}

func newSpyMux(t *testing.T, cfg channels.MuxConfig) (*channels.Mux, *recorder, *eventLog) {
	t.Helper()
	log := &eventLog{}
	rec := &recorder{}
	if cfg.Router == nil {
		cfg.Router = channels.NewRouter()
		cfg.Router.Handle("room:*", func(topic string) channels.Channel { return &spy{log: log, topic: topic} })
	}
	cfg.Transport = rec
	x := channels.NewMux(cfg)
	t.Cleanup(x.Close)
	return x, rec, log
}

func msg(joinRef, ref, topic, event, payload string) protocol.Message {
	m := protocol.Message{Topic: topic, Event: event, Payload: []byte(payload)}
	if joinRef != "" {
		m.JoinRef = protocol.StringRef(joinRef)
	}
	if ref != "" {
		m.Ref = protocol.StringRef(ref)
	}
	return m
}

func TestMuxCloseTerminatesEverySilently(t *testing.T) {
	x, rec, log := newSpyMux(t, channels.MuxConfig{})
	for i, topic := range []string{"room:a", "room:b", "room:c"} {
		ref := fmt.Sprint(i + 1)
		x.Dispatch(msg(ref, ref, topic, channels.EventJoin, "{}"))
	}
	if n := x.Len(); n != 3 {
		t.Fatalf("Len() = %d, want 3", n)
	}
	rec.take()
	log.take()

	x.Close()
	if n := x.Len(); n != 0 {
		t.Errorf("Len() after Close = %d, want 0", n)
	}
	got := log.take()
	want := []string{"terminate room:a closed", "terminate room:b closed", "terminate room:c closed"}
	if diff := cmp.Diff(want, got, cmpSorted); diff != "" {
		t.Errorf("terminations (-want +got):\n%s", diff)
	}
	rec.expect(t) // nothing, not even the pushes made in Terminate

	// Idempotent, and nothing is dispatched any more.
	x.Close()
	x.Dispatch(msg("", "9", "phoenix", "heartbeat", "{}"))
	x.Dispatch(msg("4", "4", "room:d", channels.EventJoin, "{}"))
	rec.expect(t)
	if got := log.take(); len(got) != 0 {
		t.Errorf("after Close: %q", got)
	}
}

var cmpSorted = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

func TestMuxLen(t *testing.T) {
	x, rec, _ := newSpyMux(t, channels.MuxConfig{MaxChannels: 2})
	steps := []struct {
		m   protocol.Message
		len int
	}{
		{msg("1", "1", "room:a", channels.EventJoin, "{}"), 1},
		{msg("2", "2", "room:a", channels.EventJoin, "{}"), 1}, // duplicate join replaces
		{msg("3", "3", "room:b", channels.EventJoin, "{}"), 2},
		{msg("4", "4", "room:c", channels.EventJoin, "{}"), 2},  // too many
		{msg("5", "5", "other", channels.EventJoin, "{}"), 2},   // unmatched
		{msg("9", "6", "room:a", channels.EventLeave, "{}"), 2}, // stale join_ref
		{msg("2", "7", "room:a", channels.EventLeave, "{}"), 1},
		{msg("", "8", "room:b", channels.EventLeave, "{}"), 0}, // null join_ref
		{msg("", "9", "room:b", channels.EventLeave, "{}"), 0}, // not joined
	}
	for i, s := range steps {
		x.Dispatch(s.m)
		if n := x.Len(); n != s.len {
			t.Fatalf("step %d (%s %s): Len() = %d, want %d", i, s.m.Event, s.m.Topic, n, s.len)
		}
	}
	rec.take()
}

func TestMuxNilRouter(t *testing.T) {
	rec := &recorder{}
	x := channels.NewMux(channels.MuxConfig{Transport: rec})
	defer x.Close()
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	x.Dispatch(msg("", "2", "phoenix", channels.EventHeartbeat, "{}"))
	rec.expect(t,
		`[null,"1","room:a","phx_reply",{"status":"error","response":{"reason":"unmatched topic"}}]`,
		`[null,"2","phoenix","phx_reply",{"status":"ok","response":{}}]`)
}

func TestMuxV1Serializer(t *testing.T) {
	x, rec, _ := newSpyMux(t, channels.MuxConfig{Serializer: protocol.V1JSON})
	x.Dispatch(msg("", "1", "room:a", channels.EventJoin, "{}"))
	x.Dispatch(msg("", "2", "room:a", channels.EventLeave, "{}"))
	rec.expect(t,
		`{"topic":"room:a","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"1"}`,
		`{"topic":"room:a","event":"phx_reply","payload":{"status":"ok","response":{}},"ref":"2"}`,
		`{"topic":"room:a","event":"phx_close","payload":{},"ref":null}`,
		`{"topic":"room:a","event":"bye","payload":{},"ref":null}`)
}

func TestMuxHooks(t *testing.T) {
	var mu sync.Mutex
	var events []string
	hooks := channels.Hooks{
		Joined: func(topic, status string, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "joined "+topic+" "+status)
		},
		Terminated: func(topic string, r channels.Reason) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "terminated "+topic+" "+r.String())
		},
		Dropped: func(topic, event string) {
			mu.Lock()
			defer mu.Unlock()
			events = append(events, "dropped "+topic+" "+event)
		},
	}
	x, _, _ := newSpyMux(t, channels.MuxConfig{Hooks: hooks, MaxChannels: 1})
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	x.Dispatch(msg("2", "2", "room:b", channels.EventJoin, "{}"))
	x.Dispatch(msg("3", "3", "nope", channels.EventJoin, "{}"))
	x.Dispatch(msg("9", "4", "room:a", "ev", "{}"))
	x.Dispatch(msg("1", "5", "room:a", channels.EventLeave, "{}"))
	want := []string{
		"joined room:a ok",
		"joined room:b too_many",
		"joined nope unmatched",
		"dropped room:a ev",
		"terminated room:a left",
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff(want, events); diff != "" {
		t.Errorf("hooks (-want +got):\n%s", diff)
	}
}

// TestMuxSocketID: a Mux with a socket id disconnects its transport on a
// "disconnect" broadcast to the id, ignores other events there, and
// unsubscribes on Close.
func TestMuxSocketID(t *testing.T) {
	ps := pubsub.NewLocal()
	rec := &recorder{}
	x := channels.NewMux(channels.MuxConfig{Transport: rec, PubSub: ps, Conn: channels.Conn{ID: "user:1"}})
	if n := ps.Count("user:1"); n != 1 {
		t.Fatalf("Count(user:1) = %d, want 1", n)
	}
	_ = ps.Publish(pubsub.NewBroadcast("user:1", "other", nil))
	if rec.disconnected != 0 {
		t.Fatalf("disconnected by an event other than disconnect")
	}
	_ = ps.Publish(pubsub.NewBroadcast("user:1", channels.EventDisconnect, nil))
	if rec.disconnected != 1 {
		t.Fatalf("Disconnect called %d times, want 1", rec.disconnected)
	}
	rec.expect(t) // nothing written by the Mux itself
	x.Close()
	if n := ps.Count("user:1"); n != 0 {
		t.Errorf("Count(user:1) after Close = %d, want 0", n)
	}
}

// TestMuxCloseUnsubscribes: after Close no broadcast reaches the transport.
func TestMuxCloseUnsubscribes(t *testing.T) {
	ps := pubsub.NewLocal()
	x, rec, _ := newSpyMux(t, channels.MuxConfig{PubSub: ps})
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	_ = ps.Publish(pubsub.NewBroadcast("room:a", "news", []byte(`{"n":1}`)))
	rec.expect(t,
		`["1","1","room:a","phx_reply",{"status":"ok","response":{}}]`,
		`[null,null,"room:a","news",{"n":1}]`)
	x.Close()
	_ = ps.Publish(pubsub.NewBroadcast("room:a", "news", []byte(`{"n":2}`)))
	rec.expect(t)
	if n := ps.Count("room:a"); n != 0 {
		t.Errorf("Count(room:a) after Close = %d, want 0", n)
	}
}

// pusher pushes from its own goroutine until told to stop, to race Push
// against Close.
type pusher struct {
	stop chan struct{}
	done chan struct{}
}

func (p *pusher) Join(s *channels.Socket, _ []byte) channels.Reply {
	go func() {
		defer close(p.done)
		for {
			select {
			case <-p.stop:
				return
			default:
			}
			if err := s.Push("tick", nil); err == channels.ErrClosed {
				return
			}
		}
	}()
	return channels.OK(nil)
}

func (p *pusher) HandleIn(*channels.Socket, channels.Inbound) channels.Result {
	return channels.NoReply()
}

func (p *pusher) Terminate(*channels.Socket, channels.Reason) {}

// TestMuxCloseWhilePushing: a channel pushing from its own goroutine sees
// ErrClosed once the Mux closes, and nothing is sent after Close returns.
func TestMuxCloseWhilePushing(t *testing.T) {
	p := &pusher{stop: make(chan struct{}), done: make(chan struct{})}
	r := channels.NewRouter()
	r.Handle("tick", func(string) channels.Channel { return p })
	rec := &recorder{}
	x := channels.NewMux(channels.MuxConfig{Router: r, Transport: rec})
	x.Dispatch(msg("1", "1", "tick", channels.EventJoin, "{}"))
	x.Close()
	rec.take()
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		close(p.stop)
		<-p.done
		t.Fatal("Push did not return ErrClosed after Close")
	}
	rec.expect(t)
}
