package channels_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// nopTransport drops every frame.
type nopTransport struct{}

func (nopTransport) Send(protocol.Frame) {}
func (nopTransport) Disconnect()         {}

// BenchmarkIdleMux reports the heap an idle connection's Mux holds with
// one joined channel (the spy channel, a few words): the Mux's share of
// the memory per idle connection.
func BenchmarkIdleMux(b *testing.B) {
	const n = 10000
	ps := pubsub.NewLocal()
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { return &spy{log: &eventLog{}} })
	join := protocol.Message{JoinRef: protocol.StringRef("1"), Ref: protocol.StringRef("1"), Event: channels.EventJoin, Payload: []byte("{}")}
	for range b.N {
		muxes := make([]*channels.Mux, n)
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for i := range muxes {
			muxes[i] = channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: nopTransport{}, Conn: channels.Conn{ID: fmt.Sprint("u", i)}})
			join.Topic = fmt.Sprint("room:", i)
			muxes[i].Dispatch(join)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "B/idle-mux")
		for _, x := range muxes {
			x.Close()
		}
	}
}
