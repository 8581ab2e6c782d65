package events

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// BenchmarkBroadcastHistory: Service.Broadcast of one 300-byte CloudEvent
// to 0 and 1,000 members, history off and on (100 events per room): what
// the history adds to a broadcast, alone and next to a fan-out.
func BenchmarkBroadcastHistory(b *testing.B) {
	for _, members := range []int{0, 1000} {
		for _, on := range []bool{false, true} {
			name := "members=" + strconv.Itoa(members) + "/history=off"
			cfg := Config{PubSub: pubsub.NewLocal()}
			if on {
				name = "members=" + strconv.Itoa(members) + "/history=on"
				cfg.History = NewMemoryHistory(HistoryConfig{})
			}
			b.Run(name, func(b *testing.B) {
				svc := New(cfg)
				router := channels.NewRouter()
				router.Handle("events:*", svc.Factory())
				tr := &countingTransport{}
				for range members {
					mux := channels.NewMux(channels.MuxConfig{Router: router, PubSub: cfg.PubSub, Transport: tr})
					m, _ := protocol.V2JSON.Decode([]byte(`["1","1","events:bench","phx_join",{}]`), false)
					mux.Dispatch(m)
					defer mux.Close()
				}
				ev := event300("com.example.order.created")
				b.ReportAllocs()
				for b.Loop() {
					if err := svc.Broadcast("bench", ev); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkMemoryPerStoredEvent fills 1,000 rooms with 100 events of 300
// bytes each and reports the heap they hold per event: with the event's
// bytes (bytes/event) and without (overhead/event).
func BenchmarkMemoryPerStoredEvent(b *testing.B) {
	const rooms, perRoom = 1000, 100
	ev := event300("com.example.order.created")
	for b.Loop() {
		h := NewMemoryHistory(HistoryConfig{Size: perRoom})
		svc := New(Config{PubSub: pubsub.NewLocal(), History: h})
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for r := range rooms {
			room := "room-" + strconv.Itoa(r)
			for range perRoom {
				if err := svc.Broadcast(room, ev); err != nil {
					b.Fatal(err)
				}
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		per := float64(after.HeapAlloc-before.HeapAlloc) / (rooms * perRoom)
		b.ReportMetric(per, "bytes/event")
		b.ReportMetric(per-float64(len(ev)), "overhead/event")
		runtime.KeepAlive(h)
	}
}
