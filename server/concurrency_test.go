package server_test

import (
	"sync"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// gate is a channel whose Join and HandleIn wait until the test opens the
// gate of their event ("join" for Join), and record the order they ran in.
type gate struct {
	gates *gates
}

type gates struct {
	mu    sync.Mutex
	open  map[string]chan struct{}
	order []string
}

func (g *gates) wait(name string) {
	g.mu.Lock()
	c := g.open[name]
	g.mu.Unlock()
	if c != nil {
		<-c
	}
	g.mu.Lock()
	g.order = append(g.order, name)
	g.mu.Unlock()
}

func (c *gate) Join(s *channels.Socket, _ []byte) channels.Reply {
	c.gates.wait(s.Topic() + " join")
	return channels.OK(nil)
}

func (c *gate) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	c.gates.wait(s.Topic() + " " + in.Event)
	return channels.Replied(channels.OKJSON(map[string]string{"event": in.Event}))
}

func (c *gate) Terminate(*channels.Socket, channels.Reason) {}

// TestSlowChannelDoesNotStallTheConnection: on one WebSocket, a channel
// whose callbacks block (a slow database, say) holds up neither the
// socket's other channel nor its heartbeats, and its own messages are still
// handled one at a time, in order.
func TestSlowChannelDoesNotStallTheConnection(t *testing.T) {
	g := &gates{open: map[string]chan struct{}{}}
	for _, name := range []string{"slow:1 join", "slow:1 first", "slow:1 second"} {
		g.open[name] = make(chan struct{})
	}
	router := channels.NewRouter()
	router.Handle("*", func(string) channels.Channel { return &gate{gates: g} })
	srv := servertest.NewServer(t, server.Config{Router: router})
	c := servertest.Dial(t, srv.URL)
	slow := c.Channel("slow:1")
	fast := c.Join("fast:1", nil)

	// A join that blocks: the rest of the connection carries on.
	join := slow.SendJoin(nil)
	c.Sync()
	if r := fast.Push("ping", nil); !r.OK() {
		t.Fatalf("fast channel while slow joins: %s", r)
	}
	close(g.open["slow:1 join"])
	if r := c.AwaitReply(join); !r.OK() {
		t.Fatalf("slow join: %s", r)
	}

	// Two messages to the slow channel: the first blocks, the second waits
	// behind it; meanwhile the fast channel and heartbeats answer.
	first := slow.Send("first", nil)
	second := slow.Send("second", nil)
	for range 3 {
		c.Sync()
		if r := fast.Push("ping", nil); !r.OK() {
			t.Fatalf("fast channel while slow is busy: %s", r)
		}
	}
	close(g.open["slow:1 second"]) // opened first, yet runs second
	close(g.open["slow:1 first"])
	if r := c.AwaitReply(first); !r.OK() {
		t.Fatalf("first: %s", r)
	}
	if r := c.AwaitReply(second); !r.OK() {
		t.Fatalf("second: %s", r)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	var slowOrder []string
	for _, name := range g.order {
		if name[:4] == "slow" {
			slowOrder = append(slowOrder, name)
		}
	}
	if len(slowOrder) != 3 || slowOrder[1] != "slow:1 first" || slowOrder[2] != "slow:1 second" {
		t.Errorf("slow channel ran %q, want join, first, second", slowOrder)
	}
}
