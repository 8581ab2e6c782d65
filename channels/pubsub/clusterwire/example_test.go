package clusterwire_test

import (
	"fmt"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
	"github.com/fawkes-rt/fawkes/channels/pubsub/sendq"
)

// printer is a local subscriber that prints what it is delivered.
type printer struct{}

func (printer) Deliver(b *pubsub.Broadcast) {
	fmt.Printf("%s %s tenant=%q\n", b.Event, b.Payload, b.Header.Get("tenant"))
}

// The two halves of a cluster adapter for some broker, here a slice that
// every node reads (a broker echoes a node's own messages back, as Redis
// and NATS do). The sender numbers broadcasts in the order the queue
// hands them out; the receiver lets Dedup drop echoes and copies.
func Example() {
	var broker [][]byte // what the broker delivers to every node, in order

	// Sending node: Publish delivers locally, then queues for the others.
	self := clusterwire.NewNodeID()
	queue := sendq.New[*pubsub.Broadcast](8192)
	b := pubsub.NewBroadcast("room:1", "msg", []byte(`{"n":1}`))
	b.Header = pubsub.Header{{Key: "tenant", Value: "acme"}}
	_ = queue.Push(b)
	_ = queue.Push(pubsub.NewBroadcast("room:1", "msg", []byte(`{"n":2}`)))
	queue.Close()
	var seq uint64
	batch, _ := queue.Next(nil, 128) // the sending goroutine's loop, once
	for _, b := range batch {
		seq++
		broker = append(broker, clusterwire.AppendBroadcast(nil, self, seq, b))
	}
	broker = append(broker, broker[0]) // a publish the broker executed twice

	// Receiving node: one goroutine reads the broker.
	local := pubsub.NewLocal()
	local.Subscribe("room:1", printer{})
	d := clusterwire.Dedup{Self: clusterwire.NewNodeID()}
	for _, msg := range broker {
		e, err := clusterwire.DecodeEnvelope(msg)
		if err != nil {
			continue // count it as malformed
		}
		if v := d.Accept(e, time.Now()); v != clusterwire.Take {
			fmt.Println("dropped:", v)
			continue
		}
		if b, err := e.Broadcast(); err == nil {
			_ = local.Publish(b)
		}
	}
	// Output:
	// msg {"n":1} tenant="acme"
	// msg {"n":2} tenant=""
	// dropped: duplicate
}
