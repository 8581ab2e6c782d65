package phoenixredis_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The PubSub name of the captures: their channel is
// phx:Elixir.Wire.PubSub.Adapter.
const wirePubSub = "Wire.PubSub"

// node starts a Fawkes node in phoenix-redis mode on the Redis at addr,
// connected and subscribed to the Phoenix channel when it returns.
func node(t *testing.T, addr, name string) *phoenixredis.PubSub {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond})
	bridgeClient := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond, MaxRetries: -1})
	rp, err := redis.New(redis.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := phoenixredis.New(phoenixredis.Config{Redis: rp, Client: bridgeClient, PubSubName: wirePubSub, NodeName: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ps.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		client.Close()
		bridgeClient.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rp.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, name+" subscribed to the phoenix channel", func() bool { return ps.Ping(ctx) == nil })
	return ps
}

// elixir is what an Elixir node does on Redis: publish ETF on the Phoenix
// channel and read what is published there.
type elixir struct {
	client *goredis.Client
	sub    *goredis.PubSub
	ch     <-chan *goredis.Message
}

func newElixir(t *testing.T, addr string) *elixir {
	t.Helper()
	e := &elixir{client: goredis.NewClient(&goredis.Options{Addr: addr})}
	e.sub = e.client.Subscribe(context.Background(), phoenixredis.Channel(wirePubSub))
	if _, err := e.sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.ch = e.sub.Channel()
	t.Cleanup(func() { e.sub.Close(); e.client.Close() })
	return e
}

func (e *elixir) publish(t *testing.T, msg []byte) {
	t.Helper()
	if err := e.client.Publish(context.Background(), phoenixredis.Channel(wirePubSub), msg).Err(); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message on the channel, or nil after d.
func (e *elixir) next(d time.Duration) []byte {
	select {
	case m := <-e.ch:
		return []byte(m.Payload)
	case <-time.After(d):
		return nil
	}
}

// recorder is a Subscriber that keeps what it is handed.
type recorder struct {
	mu  sync.Mutex
	got []*pubsub.Broadcast
}

func (r *recorder) Deliver(b *pubsub.Broadcast) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, b)
}

func (r *recorder) all() []*pubsub.Broadcast {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*pubsub.Broadcast(nil), r.got...)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func captures(t *testing.T) map[int][]byte {
	t.Helper()
	f, err := os.Open("testdata/payloads.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[int][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var c struct {
			Seq int
			Hex string
		}
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		out[c.Seq], _ = hex.DecodeString(c.Hex)
	}
	return out
}

// Every captured message published on the Phoenix channel: the channel
// broadcasts (seq 1, 6, 21) reach the node's subscriber, in order, and
// the rest is skipped for its reason, without harm.
func TestCapturedElixirMessagesOverRedis(t *testing.T) {
	addr := redistest.Start(t).Addr
	a := node(t, addr, "fawkes-1")
	rec := &recorder{}
	a.Subscribe("events:lobby", rec)
	ex := newElixir(t, addr)
	caps := captures(t)
	for seq := 1; seq <= 29; seq++ {
		ex.publish(t, caps[seq])
	}
	waitFor(t, "29 messages taken", func() bool {
		n := int64(0)
		for _, v := range a.BridgeStats().Received {
			n += v
		}
		return n == 29
	})
	got := rec.all()
	if len(got) != 3 {
		t.Fatalf("delivered %d broadcasts, want 3 (seq 1, 6, 21)", len(got))
	}
	for i, id := range []string{`"e1"`, `"e1"`, `"g1"`} {
		if got[i].Event != "cloudevent" || !bytes.Contains(got[i].Payload, []byte(`"id":`+id)) {
			t.Errorf("delivery %d: %s %s", i, got[i].Event, got[i].Payload)
		}
	}
	st := a.BridgeStats()
	want := map[phoenixredis.SkipReason]int64{
		phoenixredis.Delivered: 3, phoenixredis.SkipTracker: 13, phoenixredis.SkipOtherNode: 3,
		phoenixredis.SkipNoSubscriber: 1, phoenixredis.SkipNotBroadcast: 6, phoenixredis.SkipMalformed: 3,
	}
	for why, n := range want {
		if st.Received[why] != n {
			t.Errorf("%v: %d, want %d (all: %v)", why, st.Received[why], n, st.Received)
		}
	}
}

// A broadcast published on a Fawkes node goes out on the Phoenix channel
// as Endpoint.broadcast would publish it, in publish order; presence diffs,
// binary payloads and unrepresentable ones do not.
func TestFawkesBroadcastsReachThePhoenixChannel(t *testing.T) {
	addr := redistest.Start(t).Addr
	a := node(t, addr, "fawkes-1")
	ex := newElixir(t, addr)
	_ = a.Publish(pubsub.NewBroadcast("events:lobby", "presence_diff", []byte(`{"joins":{},"leaves":{}}`)))
	_ = a.PublishWith(nil, func(ctx context.Context, pipe goredis.Pipeliner) { pipe.Set(ctx, "k", "v", 0) }) // commands alone
	_ = a.Publish(&pubsub.Broadcast{Topic: "events:lobby", Event: "bin", Payload: []byte{1, 2}, Binary: true})
	_ = a.Publish(pubsub.NewBroadcast("events:lobby", "x", []byte(`{"n":1e999}`)))
	var want [][]byte
	for i := range 100 {
		b := pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"specversion":"1.0","id":"`+strings.Repeat("x", i)+`","source":"/x","type":"t"}`))
		if i == 0 {
			b.Except = &recorder{} // broadcast_from: the sender is not on the wire
		}
		_ = a.Publish(b)
		msg, err := phoenixredis.AppendBroadcast(nil, "fawkes-1", b)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, msg)
	}
	for i, w := range want {
		got := ex.next(5 * time.Second)
		if !bytes.Equal(got, w) {
			t.Fatalf("message %d on the channel:\n got %x\nwant %x", i, got, w)
		}
	}
	if extra := ex.next(200 * time.Millisecond); extra != nil {
		t.Errorf("unexpected message %x", extra)
	}
	st := a.BridgeStats()
	if st.Sent != 100 || st.Kept != 1 || st.Unencodable != 2 {
		t.Errorf("stats %+v; want 100 sent, 1 kept (presence_diff), 2 unencodable", st)
	}
	if st.Received[phoenixredis.SkipOwn] != 100 {
		t.Errorf("own messages echoed by Redis: %d skipped as own, want 100", st.Received[phoenixredis.SkipOwn])
	}
}

// Two Fawkes nodes on one Redis: each broadcast reaches the other node's
// subscriber once (through the cluster's topic channel), not a second time
// through the Phoenix channel; and an Elixir node's reaches both once.
// Redis losing its data does not change that.
func TestFawkesNodesRecogniseEachOther(t *testing.T) {
	srv := redistest.Start(t)
	a, b := node(t, srv.Addr, "fawkes-a"), node(t, srv.Addr, "fawkes-b")
	recA, recB := &recorder{}, &recorder{}
	a.Subscribe("events:lobby", recA)
	b.Subscribe("events:lobby", recB)
	ex := newElixir(t, srv.Addr)
	for range 20 {
		_ = a.Publish(pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"from":"a"}`)))
	}
	ex.publish(t, captures(t)[1]) // from the Elixir node n1
	waitFor(t, "node B's deliveries", func() bool { return len(recB.all()) >= 21 })
	waitFor(t, "node B's skips", func() bool { return b.BridgeStats().Received[phoenixredis.SkipFawkes] == 20 })
	time.Sleep(100 * time.Millisecond)
	if n := len(recB.all()); n != 21 {
		t.Errorf("node B delivered %d broadcasts, want 21 (20 of A once, 1 of n1)", n)
	}
	if n := len(recA.all()); n != 21 {
		t.Errorf("node A delivered %d broadcasts, want 21 (its own 20, 1 of n1)", n)
	}

	// Redis loses everything; a new node C learns that fawkes-a is a
	// Fawkes node from A's next publish.
	admin := goredis.NewClient(&goredis.Options{Addr: srv.Addr})
	defer admin.Close()
	if err := admin.FlushAll(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	c := node(t, srv.Addr, "fawkes-c")
	recC := &recorder{}
	c.Subscribe("events:lobby", recC)
	_ = a.Publish(pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"after":"flush"}`)))
	waitFor(t, "node C's skip", func() bool { return c.BridgeStats().Received[phoenixredis.SkipFawkes] == 1 })
	waitFor(t, "node C's delivery", func() bool { return len(recC.all()) == 1 })
}

// Elixir's direct_broadcast reaches only the node it names.
func TestOnlyMessagesReachTheNamedNode(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr, "n1"), node(t, addr, "fawkes-b")
	recA, recB := &recorder{}, &recorder{}
	a.Subscribe("events:lobby", recA)
	b.Subscribe("events:lobby", recB)
	// seq 1 as :only for n1: 64 00 06 "except" becomes 64 00 04 "only".
	msg := bytes.Replace(captures(t)[1], []byte("\x64\x00\x06except"), []byte("\x64\x00\x04only"), 1)
	newElixir(t, addr).publish(t, msg)
	waitFor(t, "n1's delivery", func() bool { return len(recA.all()) == 1 })
	waitFor(t, "fawkes-b's skip", func() bool { return b.BridgeStats().Received[phoenixredis.SkipOtherNode] == 1 })
	if len(recB.all()) != 0 {
		t.Error(":only for n1 reached fawkes-b")
	}
}

// A node that closes leaves the registry of Fawkes names.
func TestCloseUnregistersTheName(t *testing.T) {
	addr := redistest.Start(t).Addr
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	defer client.Close()
	rp, err := redis.New(redis.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := phoenixredis.New(phoenixredis.Config{Redis: rp, PubSubName: wirePubSub, NodeName: "fawkes-x"})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscribed", func() bool { return ps.Ping(context.Background()) == nil })
	_ = ps.Publish(pubsub.NewBroadcast("t", "e", []byte(`{}`)))
	registered := func() bool {
		return client.HExists(context.Background(), rp.Key("phoenix:nodes"), "fawkes-x").Val()
	}
	waitFor(t, "registered", registered)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := ps.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if registered() {
		t.Error("name still registered after Close")
	}
}

func TestNewValidates(t *testing.T) {
	addr := redistest.Start(t).Addr
	client := goredis.NewClient(&goredis.Options{Addr: addr})
	defer client.Close()
	rp, err := redis.New(redis.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	defer rp.Close(context.Background())
	for _, cfg := range []phoenixredis.Config{
		{PubSubName: wirePubSub, NodeName: "n1"},
		{Redis: rp, PubSubName: "My App", NodeName: "n1"},
		{Redis: rp, PubSubName: wirePubSub, NodeName: "1n"},
		{Redis: rp, PubSubName: wirePubSub, NodeName: "n1", CompressionLevel: 10},
	} {
		if _, err := phoenixredis.New(cfg); err == nil {
			t.Errorf("%+v: accepted", cfg)
		}
	}
}
