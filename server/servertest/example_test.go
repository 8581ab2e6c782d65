package servertest_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// echo answers "shout" by broadcasting the payload to the room.
type echo struct{}

func (echo) Join(*channels.Socket, []byte) channels.Reply {
	return channels.OKJSON(map[string]int{"members": 1})
}

func (echo) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	if in.Event != "shout" {
		return channels.Replied(channels.ErrorReason("unknown event"))
	}
	return channels.Replied(channels.OKJSON(map[string]error{"error": s.BroadcastJSON("shouted", in.Payload)}))
}

func (echo) Terminate(*channels.Socket, channels.Reason) {}

func newRouter() *channels.Router {
	r := channels.NewRouter()
	r.Handle("room:*", func(string) channels.Channel { return echo{} })
	return r
}

// A test of a channel, end to end: two clients, one over LongPoll, in the
// same room; the server disconnects one by its socket id.
func Example() {
	t := &testing.T{} // in a test, the *testing.T of the test
	srv := servertest.NewServer(t, server.Config{
		Router: newRouter(),
		Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
			return server.ConnectResult{ID: "user:" + req.Params["user"]}, nil
		},
	})
	alice := servertest.Dial(t, srv.URL, servertest.Params("user", "alice"))
	bob := servertest.Dial(t, srv.URL, servertest.Params("user", "bob"), servertest.LongPoll())

	aliceRoom := alice.Join("room:1", nil)
	bobRoom := bob.Join("room:1", nil)
	fmt.Println("join:", aliceRoom.JoinReply)

	fmt.Println("shout:", aliceRoom.Push("shout", `{"text":"hi"}`))
	m := bobRoom.Await("shouted")
	var got struct{ Text string }
	_ = m.Decode(&got)
	fmt.Println("bob got:", got.Text, "broadcast:", m.IsBroadcast())
	fmt.Println("unknown:", bobRoom.Push("whisper", nil).Reason())

	_ = srv.Disconnect("user:alice")
	fmt.Println("alice closed with", alice.AwaitClose())
	// Output:
	// join: ok {"members":1}
	// shout: ok {"error":null}
	// bob got: hi broadcast: true
	// unknown: unknown event
	// alice closed with 1001
}

// A test of the protocol itself: a V1 client, whose frames are compared
// byte for byte, and a malformed frame that ends the connection.
func ExampleClient_SendText() {
	t := &testing.T{} // in a test, the *testing.T of the test
	srv := servertest.NewServer(t, server.Config{Router: newRouter()})
	c := servertest.Dial(t, srv.URL, servertest.Vsn("1.0.0"))

	c.SendText([]byte(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":7}`))
	fmt.Printf("%s\n", c.Next().Raw)

	c.SendText([]byte(`not json`))
	fmt.Println("closed with", c.AwaitClose(), "unread:", len(c.Unread()))
	// Output:
	// {"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":7,"topic":"phoenix"}
	// closed with 1011 unread: 0
}
