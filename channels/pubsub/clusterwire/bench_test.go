package clusterwire_test

import (
	"testing"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
)

// BenchmarkBroadcast encodes and decodes a cloudevent-sized broadcast,
// without a header and with two fields: a header costs its bytes and two
// allocations per broadcast per node, nothing per subscriber.
func BenchmarkBroadcast(b *testing.B) {
	payload := []byte(`{"specversion":"1.0","id":"a1b2c3","source":"/sensors/1","type":"com.example.reading","data":{"t":21.5}}`)
	for _, c := range []struct {
		name   string
		header pubsub.Header
	}{
		{"no_header", nil},
		{"header", pubsub.Header{{Key: "tenant", Value: "acme"}, {Key: "visibility", Value: "staff"}}},
	} {
		bc := pubsub.NewBroadcast("events:lobby", "cloudevent", payload)
		bc.Header = c.header
		node := clusterwire.NewNodeID()
		b.Run("encode/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			buf := make([]byte, 0, 512)
			for i := range b.N {
				buf = clusterwire.AppendBroadcast(buf[:0], node, uint64(i+1), bc)
			}
		})
		msg := clusterwire.AppendBroadcast(nil, node, 1, bc)
		b.Run("decode/"+c.name, func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				e, err := clusterwire.DecodeEnvelope(msg)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := e.Broadcast(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
