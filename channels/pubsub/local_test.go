package pubsub_test

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// counter is a Subscriber that counts deliveries and keeps the frames it
// encoded.
type counter struct {
	name   string
	n      atomic.Int64
	mu     sync.Mutex
	frames []protocol.Frame
	ser    protocol.Serializer // nil: do not encode
}

func (c *counter) Deliver(b *pubsub.Broadcast) {
	c.n.Add(1)
	if c.ser != nil {
		f, err := b.Frame(c.ser)
		if err != nil {
			panic(err)
		}
		c.mu.Lock()
		c.frames = append(c.frames, f)
		c.mu.Unlock()
	}
}

func deliveries(subs []*counter) map[string]int64 {
	out := make(map[string]int64)
	for _, s := range subs {
		if n := s.n.Swap(0); n > 0 {
			out[s.name] = n
		}
	}
	return out
}

func TestLocalSubscribeUnsubscribe(t *testing.T) {
	var l pubsub.Local // the zero value works
	a, b, c, d := &counter{name: "a"}, &counter{name: "b"}, &counter{name: "c"}, &counter{name: "d"}
	all := []*counter{a, b, c, d}
	publish := func() map[string]int64 {
		if err := l.Publish(pubsub.NewBroadcast("t", "e", nil)); err != nil {
			t.Fatal(err)
		}
		return deliveries(all)
	}
	steps := []struct {
		op   string
		sub  *counter
		want map[string]int64
	}{
		{"sub", a, map[string]int64{"a": 1}},
		{"sub", b, map[string]int64{"a": 1, "b": 1}},
		{"sub", c, map[string]int64{"a": 1, "b": 1, "c": 1}},
		{"sub", d, map[string]int64{"a": 1, "b": 1, "c": 1, "d": 1}},
		{"unsub", b, map[string]int64{"a": 1, "c": 1, "d": 1}}, // middle: d swapped in
		{"sub", a, map[string]int64{"a": 2, "c": 1, "d": 1}},   // duplicate delivers twice
		{"unsub", d, map[string]int64{"a": 2, "c": 1}},         // moved one
		{"unsub", a, map[string]int64{"a": 1, "c": 1}},         // one of two
		{"unsub", b, map[string]int64{"a": 1, "c": 1}},         // unknown: ignored
		{"unsub", a, map[string]int64{"c": 1}},                 // the other
		{"unsub", c, map[string]int64{}},                       // topic now empty
		{"sub", d, map[string]int64{"d": 1}},                   // and back
		{"unsub", d, map[string]int64{}},
	}
	for i, s := range steps {
		if s.op == "sub" {
			l.Subscribe("t", s.sub)
		} else {
			l.Unsubscribe("t", s.sub)
		}
		if diff := cmp.Diff(s.want, publish()); diff != "" {
			t.Fatalf("step %d (%s %s): deliveries (-want +got):\n%s", i, s.op, s.sub.name, diff)
		}
	}
	if n := l.Count("t"); n != 0 {
		t.Errorf("Count = %d, want 0", n)
	}
	if topics := l.Topics(); len(topics) != 0 {
		t.Errorf("Topics() = %q, want none", topics)
	}
	l.Unsubscribe("never", a) // unknown topic: ignored
}

// TestLocalRandomOps checks swap-remove against a multiset model over many
// random subscribe/unsubscribe sequences.
func TestLocalRandomOps(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	subs := make([]*counter, 8)
	for i := range subs {
		subs[i] = &counter{name: fmt.Sprint(i)}
	}
	for round := range 200 {
		l := pubsub.NewLocal()
		model := make(map[string]int64)
		for op := range 60 {
			s := subs[rng.IntN(len(subs))]
			if rng.IntN(3) > 0 {
				l.Subscribe("t", s)
				model[s.name]++
			} else {
				l.Unsubscribe("t", s)
				if model[s.name] > 0 {
					model[s.name]--
					if model[s.name] == 0 {
						delete(model, s.name)
					}
				}
			}
			_ = l.Publish(pubsub.NewBroadcast("t", "e", nil))
			if diff := cmp.Diff(model, deliveries(subs)); diff != "" {
				t.Fatalf("round %d op %d: deliveries (-model +got):\n%s", round, op, diff)
			}
			var total int64
			for _, n := range model {
				total += n
			}
			if got := l.Count("t"); int64(got) != total {
				t.Fatalf("round %d op %d: Count = %d, want %d", round, op, got, total)
			}
		}
	}
}

func TestLocalTopicsAreSeparate(t *testing.T) {
	l := pubsub.NewLocal()
	a, b := &counter{name: "a"}, &counter{name: "b"}
	l.Subscribe("x", a)
	l.Subscribe("y", b)
	l.Subscribe("y", a)
	_ = l.Publish(pubsub.NewBroadcast("x", "e", nil))
	if diff := cmp.Diff(map[string]int64{"a": 1}, deliveries([]*counter{a, b})); diff != "" {
		t.Errorf("publish x (-want +got):\n%s", diff)
	}
	_ = l.Publish(pubsub.NewBroadcast("z", "e", nil))
	if got := deliveries([]*counter{a, b}); len(got) != 0 {
		t.Errorf("publish on a topic nobody subscribed reached %v", got)
	}
	topics := l.Topics()
	sort.Strings(topics)
	if diff := cmp.Diff([]string{"x", "y"}, topics); diff != "" {
		t.Errorf("Topics (-want +got):\n%s", diff)
	}
}

func TestLocalExcept(t *testing.T) {
	l := pubsub.NewLocal()
	a, b, c := &counter{name: "a"}, &counter{name: "b"}, &counter{name: "c"}
	for _, s := range []*counter{a, b, c, b} {
		l.Subscribe("t", s)
	}
	br := pubsub.NewBroadcast("t", "e", nil)
	br.Except = b
	_ = l.Publish(br)
	// Except skips every subscription of b.
	if diff := cmp.Diff(map[string]int64{"a": 1, "c": 1}, deliveries([]*counter{a, b, c})); diff != "" {
		t.Errorf("deliveries (-want +got):\n%s", diff)
	}
}

// TestBroadcastEncodedOncePerSerializer: every subscriber with the same
// serializer gets the very same bytes (one backing array), concurrently
// too; another serializer version gets its own encoding.
func TestBroadcastEncodedOncePerSerializer(t *testing.T) {
	l := pubsub.NewLocal()
	var v2s, v1s []*counter
	for i := range 4 {
		v2s = append(v2s, &counter{name: fmt.Sprint("v2-", i), ser: protocol.V2JSON})
		v1s = append(v1s, &counter{name: fmt.Sprint("v1-", i), ser: protocol.V1JSON})
		l.Subscribe("room", v2s[i])
		l.Subscribe("room", v1s[i])
	}
	b := pubsub.NewBroadcast("room", "msg", []byte(`{"body":"hi"}`))
	_ = l.Publish(b)

	same := func(subs []*counter, want string) {
		t.Helper()
		first := subs[0].frames[0]
		if !jsonEqual(first.Data, want) {
			t.Errorf("frame %s, want %s", first.Data, want)
		}
		for _, s := range subs[1:] {
			if f := s.frames[0]; &f.Data[0] != &first.Data[0] || len(f.Data) != len(first.Data) {
				t.Errorf("%s got its own encoding, not the shared one", s.name)
			}
		}
	}
	same(v2s, `[null,null,"room","msg",{"body":"hi"}]`)
	same(v1s, `{"topic":"room","event":"msg","payload":{"body":"hi"},"ref":null}`)
	if &v1s[0].frames[0].Data[0] == &v2s[0].frames[0].Data[0] {
		t.Error("V1 and V2 share one encoding")
	}

	// Concurrent first use encodes once too.
	b2 := pubsub.NewBroadcast("room", "msg", []byte(`{}`))
	frames := make([]protocol.Frame, 8)
	var wg sync.WaitGroup
	for i := range frames {
		wg.Go(func() {
			f, err := b2.Frame(protocol.V2JSON)
			if err != nil {
				t.Error(err)
			}
			frames[i] = f
		})
	}
	wg.Wait()
	for i, f := range frames {
		if &f.Data[0] != &frames[0].Data[0] {
			t.Errorf("caller %d got a different encoding", i)
		}
	}
}

func TestBroadcastBinaryFrame(t *testing.T) {
	b := pubsub.NewBroadcast("topic", "event", []byte("efg"))
	b.Binary = true
	f, err := b.Frame(protocol.V2JSON)
	if err != nil {
		t.Fatal(err)
	}
	// Spec 3.3, byte-exact: server broadcast.
	want := []byte{0x02, 0x05, 0x05, 't', 'o', 'p', 'i', 'c', 'e', 'v', 'e', 'n', 't', 'e', 'f', 'g'}
	if !f.Binary || string(f.Data) != string(want) {
		t.Errorf("frame % x (binary %v), want % x", f.Data, f.Binary, want)
	}
	if _, err := b.Frame(protocol.V1JSON); err == nil {
		t.Error("V1 encoded a binary broadcast")
	}
}

func TestBroadcastSeq(t *testing.T) {
	a, b := pubsub.NewBroadcast("t", "e", nil), pubsub.NewBroadcast("t", "e", nil)
	if a.Seq() == 0 || a.Seq() == b.Seq() {
		t.Errorf("Seq() = %d and %d, want distinct non-zero", a.Seq(), b.Seq())
	}
}

// jsonEqual compares as JSON: key order does not matter.
func jsonEqual(got []byte, want string) bool {
	var g, w any
	return json.Unmarshal(got, &g) == nil && json.Unmarshal([]byte(want), &w) == nil && cmp.Equal(g, w)
}
