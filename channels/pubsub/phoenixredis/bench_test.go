package phoenixredis

import (
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// benchEvent is a 303-byte CloudEvent, the payload of the codec benchmarks
// of docs/BENCHMARKS.md.
const benchEvent = `{"specversion":"1.0","id":"0f8fad5b-d9cb-469f-a165-70867728950e","source":"/orders/service","type":"com.example.order.created","time":"2026-11-25T20:32:07.721038Z","datacontenttype":"application/json","data":{"order_id":12345,"customer":"alice","items":[{"sku":"A-1","qty":2},{"sku":"B-7","qty":1}],"total":42.5}}`

// Fawkes to Elixir: one broadcast into the ETF Endpoint.broadcast writes.
func BenchmarkAppendBroadcast(b *testing.B) {
	br := pubsub.NewBroadcast("events:orders", "cloudevent", []byte(benchEvent))
	node := mustAtom("fawkes-1")
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(benchEvent)))
	for b.Loop() {
		var err error
		if buf, err = appendBroadcast(buf[:0], node, br); err != nil {
			b.Fatal(err)
		}
	}
}

// Elixir to Fawkes: one message of the channel into a Broadcast with a
// JSON payload, and the skip of a Phoenix.Tracker message.
func BenchmarkClassify(b *testing.B) {
	msg, err := AppendBroadcast(nil, "n1", pubsub.NewBroadcast("events:orders", "cloudevent", []byte(benchEvent)))
	if err != nil {
		b.Fatal(err)
	}
	tracker := loadCaptures(b)[9].bytes(b) // seq 10, a Tracker heartbeat with state
	c := testClassifier("fawkes-1", "events:orders")
	b.Run("broadcast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			if _, why, err := c.classify(msg); why != Delivered {
				b.Fatal(why, err)
			}
		}
	})
	b.Run("tracker", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, why, _ := c.classify(tracker); why != SkipTracker {
				b.Fatal(why)
			}
		}
	})
}
