package pubsub_test

import (
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

type countingSub struct{ n int }

func (c *countingSub) Deliver(*pubsub.Broadcast) { c.n++ }

func TestLocalObserveCountsDeliveriesButNotExcept(t *testing.T) {
	var got []int
	l := &pubsub.Local{Observe: func(b *pubsub.Broadcast, delivered int, took time.Duration) {
		if took < 0 {
			t.Errorf("negative duration %v", took)
		}
		got = append(got, delivered)
	}}
	a, b, c := &countingSub{}, &countingSub{}, &countingSub{}
	l.Subscribe("room", a)
	l.Subscribe("room", b)
	l.Subscribe("room", c)
	_ = l.Publish(pubsub.NewBroadcast("room", "e", []byte(`{}`)))
	from := pubsub.NewBroadcast("room", "e", []byte(`{}`))
	from.Except = b
	_ = l.Publish(from)
	_ = l.Publish(pubsub.NewBroadcast("nobody", "e", []byte(`{}`)))
	if len(got) != 3 || got[0] != 3 || got[1] != 2 || got[2] != 0 {
		t.Fatalf("Observe saw %v, want [3 2 0]", got)
	}
	if a.n != 2 || b.n != 1 || c.n != 2 {
		t.Fatalf("deliveries a=%d b=%d c=%d", a.n, b.n, c.n)
	}
}
