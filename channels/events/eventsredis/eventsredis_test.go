package eventsredis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/eventsredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
	"github.com/fawkes-rt/fawkes/protocol"
)

// node is one Fawkes node: the Redis adapter, an events service with the
// Redis history, and a router.
type node struct {
	t       testing.TB
	ps      *redis.PubSub
	history *eventsredis.History
	svc     *events.Service
	router  *channels.Router
}

func startNode(t testing.TB, addr string, cfg eventsredis.Config) *node {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond})
	ps, err := redis.New(redis.Config{Client: client, Prefix: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ps.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ps.Close(ctx)
		_ = client.Close()
	})
	cfg.PubSub = ps
	h, err := eventsredis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	svc := events.New(events.Config{PubSub: ps, History: h, HeartbeatInterval: events.HeartbeatOff})
	router := channels.NewRouter()
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	return &node{t: t, ps: ps, history: h, svc: svc, router: router}
}

// member is one connection to a node.
type member struct {
	t   testing.TB
	mux *channels.Mux
	tr  *channelstest.Recorder
}

func (n *node) connect() *member {
	tr := &channelstest.Recorder{}
	m := &member{t: n.t, tr: tr, mux: channels.NewMux(channels.MuxConfig{Router: n.router, PubSub: n.ps, Transport: tr})}
	n.t.Cleanup(m.mux.Close)
	return m
}

func (m *member) send(text string) {
	m.t.Helper()
	msg, err := protocol.V2JSON.Decode([]byte(text), false)
	if err != nil {
		m.t.Fatal(err)
	}
	m.mux.Dispatch(msg)
}

// take returns the join reply's response (nil when none was sent since)
// and the ids of the cloudevents received since the last take.
func (m *member) take() (reply map[string]any, ids []string) {
	m.t.Helper()
	for _, f := range m.tr.Take() {
		msg, err := protocol.V2JSON.Decode(f.Data, f.Binary)
		if err != nil {
			m.t.Fatal(err)
		}
		var p map[string]any
		_ = json.Unmarshal(msg.Payload, &p)
		switch msg.Event {
		case "phx_reply":
			reply, _ = p["response"].(map[string]any)
		case events.EventCloudEvent:
			ids = append(ids, p["id"].(string))
		}
	}
	return reply, ids
}

func numbered(n int) []byte {
	return []byte(`{"specversion":"1.0","id":"e` + strconv.Itoa(n) + `","source":"/test","type":"t.` + strconv.Itoa(n%2) + `","data":{"n":` + strconv.Itoa(n) + `}}`)
}

func idRange(from, to int) []string {
	var out []string
	for n := from; n <= to; n++ {
		out = append(out, "e"+strconv.Itoa(n))
	}
	return out
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestResumeOnAnotherNode: events published on node A are replayed to a
// member that rejoins on node B, which never had a member in the room.
func TestResumeOnAnotherNode(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := startNode(t, addr, eventsredis.Config{}), startNode(t, addr, eventsredis.Config{})
	for n := 1; n <= 5; n++ {
		if err := a.svc.Broadcast("r", numbered(n)); err != nil {
			t.Fatal(err)
		}
	}
	m := b.connect()
	waitFor(t, "the events in Redis", func() bool {
		p, err := b.svc.ReadHistory(context.Background(), "r", "", 0)
		return err == nil && len(p.Events) == 5
	})
	m.send(`["1","1","events:r","phx_join",{"last_event_id":"e2","event_types":["t.*"]}]`)
	reply, ids := m.take()
	if fmt.Sprint(reply) != "map[event_types:[t.*] recovered:true replayed:3]" || fmt.Sprint(ids) != fmt.Sprint(idRange(3, 5)) {
		t.Errorf("reply %v, replay %v; want 3 recovered, e3 to e5", reply, ids)
	}
	if err := a.svc.Broadcast("r", numbered(6)); err != nil {
		t.Fatal(err)
	}
	var live []string
	waitFor(t, "e6 live on node B", func() bool { _, ids := m.take(); live = append(live, ids...); return len(live) > 0 })
	if fmt.Sprint(live) != "[e6]" {
		t.Errorf("live %v, want [e6]", live)
	}
	m2 := b.connect()
	m2.send(`["1","1","events:r","phx_join",{"last_event_id":"never"}]`)
	if reply, ids := m2.take(); fmt.Sprint(reply) != "map[recovered:false]" || len(ids) != 0 {
		t.Errorf("unknown id: %v %v", reply, ids)
	}
}

// TestHandoffAcrossNodesUnderAConcurrentPublisher drops a member again and
// again, rejoining on the other node each time, while node A publishes
// (half through a member's push, half through the Go API): the member
// ends with every event once, in order.
func TestHandoffAcrossNodesUnderAConcurrentPublisher(t *testing.T) {
	const total = 1500
	addr := redistest.Start(t).Addr
	nodes := []*node{startNode(t, addr, eventsredis.Config{Size: 1000}), startNode(t, addr, eventsredis.Config{Size: 1000})}
	pusher := nodes[0].connect()
	pusher.send(`["1","1","events:r","phx_join",{}]`)
	pusher.take()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; n <= total; n++ {
			if n%2 == 0 {
				_ = nodes[0].svc.Broadcast("r", numbered(n))
			} else {
				pusher.send(`["1","` + strconv.Itoa(n+1) + `","events:r","cloudevent",` + string(numbered(n)) + `]`)
			}
			if n%20 == 0 {
				time.Sleep(2 * time.Millisecond)
			}
		}
	}()
	var got []string
	var drops []int // len(got) at each drop
	last := ""
	rejoins := 0
	deadline := time.Now().Add(60 * time.Second)
	for last != "e"+strconv.Itoa(total) {
		if time.Now().After(deadline) {
			t.Fatalf("stuck after %s (%d rejoins)", last, rejoins)
		}
		m := nodes[rejoins%2].connect()
		payload := `{}`
		if last != "" {
			payload = `{"last_event_id":"` + last + `"}`
		}
		m.send(`["1","1","events:r","phx_join",` + payload + `]`)
		stayUntil := time.Now().Add(time.Duration(5+rejoins%20) * time.Millisecond)
		for {
			reply, ids := m.take()
			if reply != nil && last != "" && reply["recovered"] != true {
				t.Fatalf("resume after %s on node %d not recovered: %v", last, rejoins%2, reply)
			}
			for _, id := range ids {
				got, last = append(got, id), id
			}
			if time.Now().After(stayUntil) || last == "e"+strconv.Itoa(total) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		m.mux.Close()
		_, ids := m.take()
		for _, id := range ids {
			got, last = append(got, id), id
		}
		rejoins++
		drops = append(drops, len(got))
	}
	<-done
	first, _ := strconv.Atoi(strings.TrimPrefix(got[0], "e"))
	if want := idRange(first, total); fmt.Sprint(got) != fmt.Sprint(want) {
		i := firstDiff(got, want)
		t.Fatalf("after %d rejoins: %d events from %s, want %d in order, once each; first difference at %d: got %v (drops after %v)", rejoins, len(got), got[0], len(want), i, got[max(i-5, 0):min(i+10, len(got))], drops)
	}
	t.Logf("%d rejoins over two nodes, %d events", rejoins, len(got))
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestBoundsAndExpiry(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	t.Run("bounds", func(t *testing.T) {
		// A TTL no loaded machine outlasts between the writes and the reads.
		n := startNode(t, srv.Addr, eventsredis.Config{Size: 3, TTL: time.Minute})
		for i := 1; i <= 5; i++ {
			if err := n.svc.Broadcast("r", numbered(i)); err != nil {
				t.Fatal(err)
			}
		}
		for _, tt := range []struct {
			after string
			limit int
			want  string
		}{
			{"", 0, "true [e3 e4 e5] more=false"}, // MAXLEN ~ keeps more; reads count exactly
			{"e2", 0, "false [] more=false"},
			{"e3", 0, "true [e4 e5] more=false"},
			{"e3", 1, "true [e4] more=true"},
			{"", 2, "true [e3 e4] more=true"},
			{"e5", 0, "true [] more=false"},
		} {
			if got := readIDs(t, n, "r", tt.after, tt.limit); got != tt.want {
				t.Errorf("after %q limit %d: %s, want %s", tt.after, tt.limit, got, tt.want)
			}
		}
	})
	t.Run("expiry", func(t *testing.T) {
		const ttl = 400 * time.Millisecond
		n := startNode(t, srv.Addr, eventsredis.Config{Size: 3, TTL: ttl})
		for i := 1; i <= 5; i++ {
			if err := n.svc.Broadcast("x", numbered(i)); err != nil {
				t.Fatal(err)
			}
		}
		client := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
		defer client.Close()
		// The writes are asynchronous: look once the stream exists. -2
		// would be no stream, -1 a stream without expiry.
		waitFor(t, "the stream in Redis", func() bool { return client.Exists(ctx, "test:hs:x").Val() == 1 })
		if pttl := client.PTTL(ctx, "test:hs:x").Val(); pttl == -1 || pttl > ttl {
			t.Errorf("stream expiry %v, want at most the TTL", pttl)
		}
		// Each write renews the TTL; then both keys go.
		waitFor(t, "the keys to expire", func() bool { return client.Exists(ctx, "test:hs:x", "test:hm:x").Val() == 0 })
		if got := readIDs(t, n, "x", "e3", 0); got != "false [] more=false" {
			t.Errorf("after the TTL: %s", got)
		}
	})
}

// readIDs reads topic's history after after (limit: 0 for all) and
// describes the page as "found [ids] more=m".
func readIDs(t *testing.T, n *node, topic, after string, limit int) string {
	t.Helper()
	p, err := n.svc.ReadHistory(context.Background(), topic, after, limit)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range p.Events {
		ids = append(ids, r.ID)
	}
	return fmt.Sprintf("%v %v more=%v", p.Found, ids, p.More)
}

func TestDuplicateIDsAndRetriedWrites(t *testing.T) {
	srv := redistest.Start(t)
	n := startNode(t, srv.Addr, eventsredis.Config{})
	for _, id := range []string{"a", "x", "b", "x", "c"} {
		ev := `{"specversion":"1.0","id":"` + id + `","source":"/s","type":"t"}`
		if err := n.svc.Broadcast("r", []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	ctx := context.Background()
	client := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer client.Close()
	waitFor(t, "5 entries", func() bool { return client.XLen(ctx, "test:hs:r").Val() == 5 })
	// A publish pipeline sent again adds the same entry (node and seq) twice.
	last := client.XRevRangeN(ctx, "test:hs:r", "+", "-", 1).Val()[0]
	if err := client.XAdd(ctx, &goredis.XAddArgs{Stream: "test:hs:r", Values: last.Values}).Err(); err != nil {
		t.Fatal(err)
	}
	p, err := n.svc.ReadHistory(ctx, "r", "x", 0)
	if err != nil || !p.Found || len(p.Events) != 1 || p.Events[0].ID != "c" {
		t.Fatalf("after x: %+v %v; want [c]: the newer x wins, the copy of c is skipped", p, err)
	}
	if p.Events[0].Seq == 0 || p.Through != p.Events[0].Seq {
		t.Errorf("this node's event has Seq %d, Through %d", p.Events[0].Seq, p.Through)
	}
	other := startNode(t, srv.Addr, eventsredis.Config{})
	p, err = other.svc.ReadHistory(ctx, "r", "b", 0)
	if err != nil || len(p.Events) != 2 || p.Events[0].Seq != 0 || p.Through != 0 {
		t.Errorf("another node's read: %+v %v; want x and c, Seq 0", p, err)
	}
}
