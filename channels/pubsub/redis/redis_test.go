package redis_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
	"github.com/fawkes-rt/fawkes/protocol"
)

// node is one Fawkes node's PubSub on the shared Redis.
func node(t *testing.T, addr string) *redis.PubSub {
	t.Helper()
	return nodeWith(t, addr, redis.Config{})
}

// nodeWith is node with settings; it waits until the node is connected
// unless cfg.Prefix is "lazy:" followed by the prefix.
func nodeWith(t *testing.T, addr string, cfg redis.Config) *redis.PubSub {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: 500 * time.Millisecond})
	cfg.Client = client
	lazy := strings.HasPrefix(cfg.Prefix, "lazy:")
	cfg.Prefix = strings.TrimPrefix(cfg.Prefix, "lazy:")
	ps, err := redis.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !lazy {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ps.WaitConnected(ctx); err != nil {
			t.Fatalf("node not connected to redis: %v", err)
		}
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := ps.Close(ctx); err != nil {
			t.Errorf("close: %v", err)
		}
		client.Close()
	})
	return ps
}

// recorder is a Subscriber that keeps the V2 frames it is handed.
type recorder struct {
	mu     sync.Mutex
	frames []string
}

func (r *recorder) Deliver(b *pubsub.Broadcast) {
	f, err := b.Frame(protocol.V2JSON)
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.frames = append(r.frames, string(f.Data))
	r.mu.Unlock()
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.frames...)
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

func TestBroadcastCrossesNodesInOrder(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	onA, onB, otherTopic := &recorder{}, &recorder{}, &recorder{}
	a.Subscribe("events:r", onA)
	b.Subscribe("events:r", onB)
	b.Subscribe("events:other", otherTopic)
	const n = 200
	var want []string
	for i := 0; i < n; i++ {
		payload := fmt.Sprintf(`{"i":%d}`, i)
		if err := a.Publish(pubsub.NewBroadcast("events:r", "cloudevent", []byte(payload))); err != nil {
			t.Fatal(err)
		}
		want = append(want, `[null,null,"events:r","cloudevent",`+payload+`]`)
	}
	waitFor(t, "node B to receive every broadcast", func() bool { return len(onB.got()) == n })
	if got := onB.got(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("node B got (in order) %v\nwant %v", got[:3], want[:3])
	}
	// The publishing node delivers once, locally (Redis's echo is skipped).
	time.Sleep(100 * time.Millisecond)
	if got := onA.got(); len(got) != n {
		t.Fatalf("node A delivered %d broadcasts, want %d (its own, once each)", len(got), n)
	}
	if got := otherTopic.got(); len(got) != 0 {
		t.Fatalf("a subscriber of another topic got %v", got)
	}
	if st := a.Stats(); st.Published != n || st.Dropped != 0 || st.Retried != 0 || !st.Up {
		t.Errorf("node A stats: %+v", st)
	}
	if st := b.Stats(); st.Received != n || st.Duplicates != 0 {
		t.Errorf("node B stats %+v, want %d received", st, n)
	}
}

func TestBinaryBroadcastAndExceptAcrossNodes(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr), node(t, addr)
	sender, localPeer, remote := &recorder{}, &recorder{}, &recorder{}
	a.Subscribe("t", sender)
	a.Subscribe("t", localPeer)
	b.Subscribe("t", remote)
	bin := pubsub.NewBroadcast("t", "bin", []byte{0, 1, 2, 255})
	bin.Binary = true
	bin.Except = sender
	if err := a.Publish(bin); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the remote subscriber", func() bool { return len(remote.got()) == 1 })
	var got protocol.Frame
	rb := &binaryRecorder{}
	b.Subscribe("t", rb)
	bin2 := pubsub.NewBroadcast("t", "bin", []byte{9, 8})
	bin2.Binary = true
	_ = a.Publish(bin2)
	waitFor(t, "a binary frame on node B", func() bool { got = rb.last(); return got.Data != nil })
	want, _ := protocol.Encode(protocol.V2JSON, &protocol.Message{Kind: protocol.Broadcast, Topic: "t", Event: "bin", Payload: []byte{9, 8}, Binary: true})
	if !got.Binary || !bytes.Equal(got.Data, want.Data) {
		t.Fatalf("binary frame on node B = %x, want %x", got.Data, want.Data)
	}
	if len(sender.got()) != 1 { // bin2 only: Except held for bin
		t.Fatalf("the excepted sender got %d broadcasts, want 1", len(sender.got()))
	}
	if len(localPeer.got()) != 2 {
		t.Fatalf("the local peer got %d broadcasts, want 2", len(localPeer.got()))
	}
}

type binaryRecorder struct {
	mu sync.Mutex
	f  protocol.Frame
}

func (r *binaryRecorder) Deliver(b *pubsub.Broadcast) {
	f, _ := b.Frame(protocol.V2JSON)
	r.mu.Lock()
	r.f = f
	r.mu.Unlock()
}

func (r *binaryRecorder) last() protocol.Frame {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.f
}
