package events_test

import (
	"context"
	"fmt"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

type printTransport struct{}

func (printTransport) Send(f protocol.Frame) { fmt.Println(string(f.Data)) }
func (printTransport) Disconnect()           {}

func ExampleService() {
	ps := pubsub.NewLocal()
	svc := events.New(events.Config{
		PubSub:            ps,
		HeartbeatInterval: events.HeartbeatOff, // what "--heartbeat-interval 0" maps to
		Authorize: func(r events.JoinRequest) error {
			if r.Room == "private" {
				return events.Refuse("members_only")
			}
			return nil
		},
	})
	router := channels.NewRouter()
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	go svc.Run(ctx) // returns at once: the heartbeat is off

	mux := channels.NewMux(channels.MuxConfig{Router: router, PubSub: ps, Transport: printTransport{}})
	defer mux.Close()
	for _, frame := range []string{
		`["1","1","events:private","phx_join",{}]`,
		`["2","2","events:lobby","phx_join",{"event_types":["com.example.*"]}]`,
	} {
		m, _ := protocol.V2JSON.Decode([]byte(frame), false)
		mux.Dispatch(m)
	}
	_ = svc.Broadcast("lobby", []byte(`{"specversion":"1.0","id":"1","source":"/api","type":"com.example.hello"}`))
	// Output:
	// ["1","1","events:private","phx_reply",{"response":{"reason":"members_only"},"status":"error"}]
	// ["2","2","events:lobby","phx_reply",{"response":{"event_types":["com.example.*"]},"status":"ok"}]
	// [null,null,"events:lobby","cloudevent",{"specversion":"1.0","id":"1","source":"/api","type":"com.example.hello"}]
}
