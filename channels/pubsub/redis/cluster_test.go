package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

// A broadcast published right after Subscribe returns on another node
// reaches the new subscriber: the first subscriber of a topic waits for
// Redis to confirm the node's subscription.
func TestSubscribeIsLiveWhenItReturns(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	for i := range 30 {
		topic := fmt.Sprintf("events:fresh-%d", i)
		r := &recorder{}
		b.Subscribe(topic, r)
		if err := a.Publish(pubsub.NewBroadcast(topic, "e", []byte(`{}`))); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the broadcast on "+topic, func() bool { return len(r.got()) == 1 })
		b.Unsubscribe(topic, r)
	}
}

// A node without a subscriber of a topic does not receive its broadcasts
// from Redis at all.
func TestUninterestedNodeReceivesNothing(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b, c := node(t, addr), node(t, addr), node(t, addr)
	r := &recorder{}
	b.Subscribe("room", r)
	for range 50 {
		_ = a.Publish(pubsub.NewBroadcast("room", "e", []byte(`{}`)))
	}
	waitFor(t, "node B", func() bool { return len(r.got()) == 50 })
	b.Unsubscribe("room", r)
	time.Sleep(200 * time.Millisecond) // let the UNSUBSCRIBE through
	_ = a.Publish(pubsub.NewBroadcast("room", "e", []byte(`{}`)))
	time.Sleep(200 * time.Millisecond)
	if st := c.Stats(); st.Received != 0 {
		t.Errorf("node C, with no member, received %d broadcasts", st.Received)
	}
	if st := b.Stats(); st.Received != 50 {
		t.Errorf("node B received %d broadcasts, want 50 (none after its last member left)", st.Received)
	}
}

// The node starts while Redis is down, answers Ping with an error at once,
// and connects when Redis comes up.
func TestStartsBeforeRedis(t *testing.T) {
	srv := redistest.Reserve(t)
	a := nodeWith(t, srv.Addr, redis.Config{Prefix: "lazy:fawkes"})
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := a.Ping(ctx)
	cancel()
	if err == nil || time.Since(start) > 500*time.Millisecond {
		t.Fatalf("Ping with redis down = %v after %v; want an error at once", err, time.Since(start))
	}
	srv.Restart()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.WaitConnected(ctx); err != nil {
		t.Fatalf("not connected 10 s after redis came up: %v", err)
	}
	b := node(t, srv.Addr)
	r := &recorder{}
	b.Subscribe("t", r)
	_ = a.Publish(pubsub.NewBroadcast("t", "e", []byte(`{}`)))
	waitFor(t, "a broadcast after the late start", func() bool { return len(r.got()) == 1 })
}

// numbered records the "n" of each broadcast payload {"n":N}.
type numbered struct {
	mu sync.Mutex
	ns []int
}

func (r *numbered) Deliver(b *pubsub.Broadcast) {
	var v struct{ N int }
	_ = json.Unmarshal(b.Payload, &v)
	r.mu.Lock()
	r.ns = append(r.ns, v.N)
	r.mu.Unlock()
}

func (r *numbered) got() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.ns...)
}

// While Redis is frozen (SIGSTOP, as in a partition) a publisher keeps
// publishing; afterwards the receiving node has every broadcast at most
// once, in order, and traffic flows again. Ping fails fast meanwhile.
func TestFrozenRedisNeitherDuplicatesNorReorders(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redis.Config{StallAfter: 600 * time.Millisecond}
	a, b := nodeWith(t, srv.Addr, cfg), nodeWith(t, srv.Addr, cfg)
	r := &numbered{}
	b.Subscribe("seq", r)
	var n atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				i := n.Add(1)
				_ = a.Publish(pubsub.NewBroadcast("seq", "e", fmt.Appendf(nil, `{"n":%d}`, i)))
			}
		}
	}()
	waitFor(t, "traffic before the freeze", func() bool { return len(r.got()) > 50 })
	srv.Freeze()
	waitFor(t, "node A to notice the stall", func() bool { return !a.Stats().Up })
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	err := a.Ping(ctx)
	cancel()
	if err == nil || time.Since(start) > 1100*time.Millisecond {
		t.Errorf("Ping during the freeze = %v after %v; want an error within its 1 s", err, time.Since(start))
	}
	time.Sleep(2 * time.Second)
	srv.Thaw()
	frozenUpTo := n.Load()
	waitFor(t, "traffic after the thaw", func() bool {
		got := r.got()
		return len(got) > 0 && int64(got[len(got)-1]) > frozenUpTo+20
	})
	close(stop)
	<-done
	// The receiving node kept its subscription through the freeze, so
	// what Redis executed after it reached it: nothing is missing either.
	waitFor(t, "every broadcast", func() bool { return int64(len(r.got())) >= n.Load() })
	got := r.got()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("broadcast %d arrived after %d: duplicate or reordered (at index %d of %d)", got[i], got[i-1], i, len(got))
		}
	}
	if int64(len(got)) != n.Load() {
		t.Errorf("published %d, received %d", n.Load(), len(got))
	}
	stA := a.Stats()
	if stA.Outages == 0 {
		t.Errorf("node A stats %+v: the freeze was not counted as an outage", stA)
	}
	t.Logf("published %d, received %d (%d missing), A %+v, B %+v", n.Load(), len(got), int(n.Load())-len(got), stA, b.Stats())
}

// Redis killed and started again (no data): nodes reconnect, subscriptions
// come back, OnRejoin runs, broadcasts flow, without restarting a node.
func TestRedisRestart(t *testing.T) {
	srv := redistest.Start(t)
	cfg := redis.Config{StallAfter: 600 * time.Millisecond, NodeDownAfter: 600 * time.Millisecond}
	a, b := nodeWith(t, srv.Addr, cfg), nodeWith(t, srv.Addr, cfg)
	var rejoined atomic.Int32
	a.OnRejoin(func() { rejoined.Add(1) })
	var resubscribed atomic.Int32
	b.OnResubscribed(func() { resubscribed.Add(1) })
	r := &recorder{}
	b.Subscribe("t", r)
	a.RenewNow()
	srv.Restart()
	waitFor(t, "node B back on redis", func() bool { return resubscribed.Load() > 0 })
	waitFor(t, "node A rejoined", func() bool { return rejoined.Load() > 0 })
	waitFor(t, "a broadcast after the restart", func() bool {
		_ = a.Publish(pubsub.NewBroadcast("t", "e", []byte(`{}`)))
		time.Sleep(50 * time.Millisecond)
		return len(r.got()) > 0
	})
}

func TestRelayCall(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	a.Handle("echo", func(ctx context.Context, req []byte) []byte { return append([]byte("echo:"), req...) })
	a.Handle("slow", func(ctx context.Context, req []byte) []byte {
		time.Sleep(600 * time.Millisecond) // past the caller's deadline
		return nil
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	got, err := b.Call(ctx, a.NodeID(), "echo", []byte("hi"))
	if err != nil || string(got) != "echo:hi" {
		t.Fatalf("Call echo = %q, %v", got, err)
	}
	if _, err := b.Call(ctx, a.NodeID(), "nothing", nil); err == nil {
		t.Error("a call of a kind with no handler succeeded")
	}
	c := node(t, addr)
	gone := c.NodeID()
	c.Crash()
	if _, err := b.Call(ctx, gone, "echo", nil); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Errorf("call to a stopped node: %v, want ErrUnknownNode", err)
	}
	if _, err := b.Call(ctx, "not-a-node", "echo", nil); !errors.Is(err, pubsub.ErrUnknownNode) {
		t.Errorf("call to a malformed id: %v, want ErrUnknownNode", err)
	}
	short, cancelShort := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancelShort()
	if _, err := b.Call(short, a.NodeID(), "slow", nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow call: %v, want the deadline", err)
	}
}

func TestLeaseHasOneHolder(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	ctx := context.Background()
	names := []string{"heartbeat:x", "heartbeat:y"}
	held, err := a.Lease(ctx, names[:1], time.Minute)
	if err != nil || !held[0] {
		t.Fatalf("A leases x: %v %v", held, err)
	}
	held, err = b.Lease(ctx, names, time.Minute)
	if err != nil || held[0] || !held[1] {
		t.Fatalf("B leases x, y: %v %v; want x refused, y granted", held, err)
	}
	if held, _ = a.Lease(ctx, names[:1], time.Minute); !held[0] {
		t.Fatal("A could not renew its lease")
	}
	a.Release(ctx, names)
	if held, _ = b.Lease(ctx, names, time.Minute); !held[0] || !held[1] {
		t.Fatalf("after A released x, B got %v", held)
	}
	if held, _ = a.Lease(ctx, names[:1], 50*time.Millisecond); held[0] {
		t.Fatal("A took B's lease")
	}
}

// A node that dies without leaving is declared down once, on one of the
// others, within the bound; one that leaves cleanly is not.
func TestNodeDownOnceForADeadNode(t *testing.T) {
	addr := redistest.Start(t).Addr
	cfg := redis.Config{NodeDownAfter: 900 * time.Millisecond}
	a, b, dead, clean := nodeWith(t, addr, cfg), nodeWith(t, addr, cfg), nodeWith(t, addr, cfg), nodeWith(t, addr, cfg)
	var mu sync.Mutex
	var downs []string
	for _, n := range []*redis.PubSub{a, b} {
		n.OnNodeDown(func(id string) {
			mu.Lock()
			downs = append(downs, id)
			mu.Unlock()
		})
	}
	for _, n := range []*redis.PubSub{a, b, dead, clean} {
		n.RenewNow()
	}
	deadID := dead.NodeID()
	died := time.Now()
	dead.Crash()
	if err := clean.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the dead node declared down", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(downs) > 0
	})
	took := time.Since(died)
	time.Sleep(time.Second) // every node has looked again
	mu.Lock()
	defer mu.Unlock()
	if len(downs) != 1 || downs[0] != deadID {
		t.Fatalf("nodes declared down %v, want only %s, once", downs, deadID)
	}
	if took > 3*time.Second {
		t.Errorf("declared down after %v; bound is NodeDownAfter (0.9 s) + one look (0.3 s)", took)
	}
}

// A node joins the cluster's members as soon as it connects, not a renewal
// period later: one killed early is still declared down.
func TestNodeJoinsMembersWhenItConnects(t *testing.T) {
	srv := redistest.Start(t)
	a := nodeWith(t, srv.Addr, redis.Config{NodeDownAfter: 9 * time.Second})
	waitFor(t, "node A among the members", func() bool {
		ok, _ := a.Client().SIsMember(context.Background(), a.Key("nodes"), a.NodeID()).Result()
		return ok
	})
}

// PublishWith with a nil broadcast queues its commands alone, in order with
// the broadcasts around them.
func TestPublishWithCommandsOnly(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	r := &recorder{}
	b.Subscribe("t", r)
	set := func(v string) func(context.Context, goredis.Pipeliner) {
		return func(ctx context.Context, pipe goredis.Pipeliner) { pipe.Set(ctx, a.Key("probe"), v, 0) }
	}
	if err := a.PublishWith(nil, set("first")); err != nil {
		t.Fatal(err)
	}
	if err := a.PublishWith(pubsub.NewBroadcast("t", "e", []byte(`{}`)), set("second")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the broadcast", func() bool { return len(r.got()) == 1 })
	if v, _ := a.Client().Get(context.Background(), a.Key("probe")).Result(); v != "second" {
		t.Fatalf("probe = %q, want the later command's value", v)
	}
	if st := a.Stats(); st.Published != 1 {
		t.Errorf("published %d, want 1 (commands alone are not broadcasts)", st.Published)
	}
}
