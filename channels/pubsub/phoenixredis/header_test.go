package phoenixredis_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

// A broadcast's Header reaches the other Fawkes nodes, and the Elixir
// nodes get the broadcast without it: the bytes of the same broadcast with
// no header, since Phoenix.Socket.Broadcast has no place for one.
func TestHeaderCrossesFawkesNodesOnly(t *testing.T) {
	addr := redistest.Start(t).Addr
	a, b := node(t, addr, "fawkes-a"), node(t, addr, "fawkes-b")
	recB := &recorder{}
	b.Subscribe("events:lobby", recB)
	ex := newElixir(t, addr)

	sent := pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"n":1}`))
	sent.Header = pubsub.Header{{Key: "tenant", Value: "acme"}}
	if err := a.Publish(sent); err != nil {
		t.Fatal(err)
	}
	want, err := phoenixredis.AppendBroadcast(nil, "fawkes-a", pubsub.NewBroadcast("events:lobby", "cloudevent", []byte(`{"n":1}`)))
	if err != nil {
		t.Fatal(err)
	}
	if got := ex.next(5 * time.Second); !bytes.Equal(got, want) {
		t.Fatalf("on the Phoenix channel:\n got %x\nwant %x", got, want)
	}
	waitFor(t, "node B's delivery", func() bool { return len(recB.all()) == 1 })
	if got := recB.all()[0].Header.Get("tenant"); got != "acme" {
		t.Errorf("node B's subscriber got tenant %q, want acme", got)
	}
}
