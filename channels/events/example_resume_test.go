package events_test

import (
	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// A member that comes back with the id of the last event it received gets
// the ones it missed, then the live ones.
func ExampleNewMemoryHistory() {
	ps := pubsub.NewLocal()
	svc := events.New(events.Config{
		PubSub:            ps,
		HeartbeatInterval: events.HeartbeatOff,
		History:           events.NewMemoryHistory(events.HistoryConfig{Size: 100}),
	})
	router := channels.NewRouter()
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	for _, id := range []string{"1", "2", "3"} { // broadcast while the member is away
		_ = svc.Broadcast("orders", []byte(`{"specversion":"1.0","id":"`+id+`","source":"/shop","type":"order"}`))
	}

	mux := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: printTransport{}})
	defer mux.Close()
	m, _ := protocol.V2JSON.Decode([]byte(`["5","5","events:orders","phx_join",{"last_event_id":"1"}]`), false)
	mux.Dispatch(m)
	_ = svc.Broadcast("orders", []byte(`{"specversion":"1.0","id":"4","source":"/shop","type":"order"}`))
	// Output:
	// ["5","5","events:orders","phx_reply",{"response":{"recovered":true,"replayed":2},"status":"ok"}]
	// ["5",null,"events:orders","cloudevent",{"specversion":"1.0","id":"2","source":"/shop","type":"order"}]
	// ["5",null,"events:orders","cloudevent",{"specversion":"1.0","id":"3","source":"/shop","type":"order"}]
	// [null,null,"events:orders","cloudevent",{"specversion":"1.0","id":"4","source":"/shop","type":"order"}]
}
