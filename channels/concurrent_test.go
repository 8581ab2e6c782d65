package channels_test

// The Mux with Concurrent set: each channel's messages on a goroutine of
// their own while it has work.

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
)

// blocking is a channel whose HandleIn of "block" waits on release; it
// logs its lifecycle.
type blocking struct {
	log     *eventLog
	release chan struct{}
}

func (c *blocking) Join(s *channels.Socket, _ []byte) channels.Reply {
	c.log.add("join %s", s.Topic())
	return channels.OK(nil)
}

func (c *blocking) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	if in.Event == "block" {
		<-c.release
	}
	c.log.add("in %s %s", s.Topic(), in.Event)
	return channels.Replied(channels.OK(nil))
}

func (c *blocking) Terminate(s *channels.Socket, r channels.Reason) {
	c.log.add("terminate %s %s", s.Topic(), r)
}

func concurrentMux(t *testing.T) (*channels.Mux, *recorder, *eventLog, chan struct{}) {
	t.Helper()
	log, release := &eventLog{}, make(chan struct{})
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { return &blocking{log: log, release: release} })
	x, rec, _ := newSpyMux(t, channels.MuxConfig{Router: router, Concurrent: true})
	return x, rec, log, release
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (l *eventLog) len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.events)
}

func TestConcurrentKeepsEachChannelsOrder(t *testing.T) {
	x, rec, log, release := concurrentMux(t)
	close(release)
	const n = 300 // more than the queue holds: Dispatch waits for room
	for _, topic := range []string{"room:a", "room:b"} {
		x.Dispatch(msg("1", "1", topic, channels.EventJoin, "{}"))
	}
	for i := range n {
		for _, topic := range []string{"room:a", "room:b"} {
			x.Dispatch(msg("1", fmt.Sprint(i), topic, fmt.Sprint("e", i), "{}"))
		}
	}
	waitFor(t, "every message", func() bool { return log.len() == 2+2*n })
	next := map[string]int{}
	for _, e := range log.take() {
		var topic string
		var i int
		if _, err := fmt.Sscanf(e, "in %s e%d", &topic, &i); err != nil {
			continue
		}
		if i != next[topic] {
			t.Fatalf("%s handled e%d after e%d", topic, i, next[topic]-1)
		}
		next[topic]++
	}
	rec.take()
}

func TestConcurrentCloseWhileBusy(t *testing.T) {
	x, rec, log, release := concurrentMux(t)
	x.Dispatch(msg("1", "1", "room:busy", channels.EventJoin, "{}"))
	x.Dispatch(msg("2", "2", "room:idle", channels.EventJoin, "{}"))
	waitFor(t, "both joins", func() bool { return x.Len() == 2 })
	x.Dispatch(msg("1", "3", "room:busy", "block", "{}"))
	x.Dispatch(msg("1", "4", "room:busy", "queued", "{}"))
	log.take()
	x.Close() // the idle channel ends now, the busy one once unblocked
	if got := log.take(); len(got) != 1 || got[0] != "terminate room:idle closed" {
		t.Fatalf("after Close: %q", got)
	}
	rec.take()
	close(release)
	waitFor(t, "the busy channel's end", func() bool { return log.len() == 2 })
	if got := log.take(); got[0] != "in room:busy block" || got[1] != "terminate room:busy closed" {
		t.Errorf("busy channel after Close: %q (the queued message must be dropped)", got)
	}
	rec.expect(t) // nothing after Close
}

// has reports whether a frame containing part was sent.
func (r *recorder) has(part string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range r.frames {
		if strings.Contains(string(f.Data), part) {
			return true
		}
	}
	return false
}

// expectTopic is expect for the frames of one topic, the others dropped.
func (r *recorder) expectTopic(t *testing.T, topic string, want ...string) {
	t.Helper()
	r.mu.Lock()
	kept := r.frames[:0:0]
	for _, f := range r.frames {
		if strings.Contains(string(f.Data), `"`+topic+`"`) {
			kept = append(kept, f)
		}
	}
	r.frames = kept
	r.mu.Unlock()
	r.expect(t, want...)
}

func TestConcurrentDuplicateJoinWhileBusy(t *testing.T) {
	x, rec, log, release := concurrentMux(t)
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	x.Dispatch(msg("1", "2", "room:a", "block", "{}"))
	x.Dispatch(msg("3", "3", "room:a", channels.EventJoin, "{}"))      // waits its turn
	x.Dispatch(msg("3", "4", "room:a", "after", "{}"))                 // for the new join
	x.Dispatch(msg("1", "5", "room:a", "stale", "{}"))                 // the old join_ref: dropped
	x.Dispatch(msg("", "6", "phoenix", channels.EventHeartbeat, "{}")) // answered meanwhile
	waitFor(t, "the heartbeat reply", func() bool { return rec.has(`"phoenix"`) })
	close(release)
	waitFor(t, "the new channel's message", func() bool { return log.len() == 5 })
	want := []string{"join room:a", "in room:a block", "terminate room:a duplicate_join", "join room:a", "in room:a after"}
	if got := log.take(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("lifecycle: %q, want %q", got, want)
	}
	rec.expectTopic(t, "room:a",
		`["1","1","room:a","phx_reply",{"status":"ok","response":{}}]`,
		`["1","2","room:a","phx_reply",{"status":"ok","response":{}}]`,
		`["3","3","room:a","phx_reply",{"status":"ok","response":{}}]`,
		`["1","1","room:a","phx_close",{}]`,
		`["3","4","room:a","phx_reply",{"status":"ok","response":{}}]`,
	)
}

func TestConcurrentLeaveThenMessages(t *testing.T) {
	x, rec, log, release := concurrentMux(t)
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	x.Dispatch(msg("1", "2", "room:a", "block", "{}"))
	x.Dispatch(msg("1", "3", "room:a", channels.EventLeave, "{}"))
	x.Dispatch(msg("1", "4", "room:a", "late", "{}")) // after the leave, in its turn: unmatched
	close(release)
	waitFor(t, "the leave", func() bool { return log.len() == 3 })
	waitFor(t, "the late message's reply", func() bool { return rec.has(`"4"`) })
	waitFor(t, "the channel gone", func() bool { return x.Len() == 0 })
	rec.expect(t,
		`["1","1","room:a","phx_reply",{"response":{},"status":"ok"}]`,
		`["1","2","room:a","phx_reply",{"response":{},"status":"ok"}]`,
		`["1","3","room:a","phx_reply",{"response":{},"status":"ok"}]`,
		`["1","1","room:a","phx_close",{}]`,
		`[null,"4","room:a","phx_reply",{"response":{"reason":"unmatched topic"},"status":"error"}]`,
	)
	// The topic is free again: a new join gets a new channel.
	x.Dispatch(msg("5", "5", "room:a", channels.EventJoin, "{}"))
	waitFor(t, "the rejoin", func() bool { return x.Len() == 1 })
}

// DispatchTurn hands the caller the turn Dispatch would have started on a
// pool goroutine; the messages queued while it runs are handled by it, in
// order, and a message for a busy channel, a heartbeat or a refusal leaves
// no turn to run.
func TestDispatchTurnLendsTheCaller(t *testing.T) {
	x, rec, log, release := concurrentMux(t)
	join := x.DispatchTurn(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	if !join.Pending() {
		t.Fatal("a join of an idle topic: no turn to run")
	}
	if x.Len() != 0 || log.len() != 0 {
		t.Fatal("the join ran before its turn was run")
	}
	join.Run()
	if got := log.take(); fmt.Sprint(got) != "[join room:a]" {
		t.Fatalf("after the join's turn: %q", got)
	}

	// A turn that blocks runs on a goroutine the test owns; what comes for
	// the same channel meanwhile is queued behind it, for that turn.
	block := x.DispatchTurn(msg("1", "2", "room:a", "block", "{}"))
	done := make(chan struct{})
	go func() { block.Run(); close(done) }()
	for i, next := range []channels.Turn{
		x.DispatchTurn(msg("1", "3", "room:a", "queued", "{}")),
		x.DispatchTurn(msg("", "4", "phoenix", channels.EventHeartbeat, "{}")),
		x.DispatchTurn(msg("1", "5", "nowhere:a", channels.EventJoin, "{}")), // unmatched
	} {
		if next.Pending() {
			t.Errorf("message %d: a turn to run; it was handled or queued", i)
		}
	}
	waitFor(t, "the heartbeat reply while the channel blocks", func() bool { return rec.has(`"phoenix"`) })
	close(release)
	<-done // block.Run returns once the queued message is handled too
	if got := log.take(); fmt.Sprint(got) != "[in room:a block in room:a queued]" {
		t.Errorf("the blocked turn handled %q", got)
	}
	rec.expectTopic(t, "room:a",
		`["1","1","room:a","phx_reply",{"response":{},"status":"ok"}]`,
		`["1","2","room:a","phx_reply",{"response":{},"status":"ok"}]`,
		`["1","3","room:a","phx_reply",{"response":{},"status":"ok"}]`,
	)

	// The zero Turn is nothing to run.
	var zero channels.Turn
	zero.Run()
	zero.Go()
}

// With Concurrent off, DispatchTurn handles the message itself, as
// Dispatch does.
func TestDispatchTurnSequentialMux(t *testing.T) {
	router := channels.NewRouter()
	log := &eventLog{}
	release := make(chan struct{})
	close(release)
	router.Handle("room:*", func(string) channels.Channel { return &blocking{log: log, release: release} })
	x, _, _ := newSpyMux(t, channels.MuxConfig{Router: router})
	if turn := x.DispatchTurn(msg("1", "1", "room:a", channels.EventJoin, "{}")); turn.Pending() {
		t.Fatal("a sequential Mux left a turn to run")
	}
	if got := log.take(); fmt.Sprint(got) != "[join room:a]" {
		t.Fatalf("the join was not handled by DispatchTurn: %q", got)
	}
}
