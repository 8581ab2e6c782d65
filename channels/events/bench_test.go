package events

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// countingTransport counts frames and drops them.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) Send(protocol.Frame) { c.n.Add(1) }
func (c *countingTransport) Disconnect()         {}

// event300 is a 300-byte CloudEvent of type typ (padded with data).
func event300(typ string) []byte {
	ev := `{"specversion":"1.0","id":"8d2c7a3e-5b1f-4c1e-9e0a-2f6b1d9c4e7a","source":"https://example.com/orders","type":"` + typ + `","time":"2026-11-25T20:32:07.721038Z","datacontenttype":"application/json","data":{"order":1234,"note":"`
	ev += strings.Repeat("x", 300-len(ev)-3) + `"}}`
	return []byte(ev)
}

const benchMembers = 10000

// benchFanOut joins benchMembers members to one topic, member i with the
// patterns of patterns(i), and measures Service.Broadcast of a 300-byte
// event of type typ.
func benchFanOut(b *testing.B, typ string, patterns func(i int) string) {
	ps := pubsub.NewLocal()
	svc := New(Config{PubSub: ps})
	router := channels.NewRouter()
	router.Handle("events:*", svc.Factory())
	tr := &countingTransport{}
	for i := 0; i < benchMembers; i++ {
		mux := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: tr})
		m, err := protocol.V2JSON.Decode([]byte(`["1","1","events:bench","phx_join",`+patterns(i)+`]`), false)
		if err != nil {
			b.Fatal(err)
		}
		mux.Dispatch(m)
		defer mux.Close()
	}
	ev := event300(typ)
	if len(ev) != 300 {
		b.Fatalf("event is %d bytes", len(ev))
	}
	tr.n.Store(0)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := svc.Broadcast("bench", ev); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchMembers, "ns/member")
	b.ReportMetric(float64(tr.n.Load())/float64(b.N), "frames/op")
}

// BenchmarkBroadcast10kMembers: one 300-byte CloudEvent to 10,000 members
// of one topic.
func BenchmarkBroadcast10kMembers(b *testing.B) {
	const typ = "com.example.3.created"
	b.Run("no-patterns", func(b *testing.B) {
		benchFanOut(b, typ, func(int) string { return `{}` })
	})
	// 20 distinct pattern sets; one in 20 matches.
	b.Run("20-sets-5pct-match", func(b *testing.B) {
		benchFanOut(b, typ, func(i int) string {
			return fmt.Sprintf(`{"event_types":["com.example.%d.*","org.other.*"]}`, i%20)
		})
	})
	// 20 distinct pattern sets, all matching: the price of filtering when
	// everyone still gets the event.
	b.Run("20-sets-all-match", func(b *testing.B) {
		benchFanOut(b, typ, func(i int) string {
			return fmt.Sprintf(`{"event_types":["org.%d.*","com.*.created"]}`, i%20)
		})
	})
}

func BenchmarkValidate300B(b *testing.B) {
	ev := event300("com.example.order.created")
	b.ReportAllocs()
	b.SetBytes(int64(len(ev)))
	for b.Loop() {
		if _, err := Validate(ev, 0); err != nil {
			b.Fatal(err)
		}
	}
}
