package server_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
)

// greeter is a channel written against the channels API: it accepts every
// join and answers "hello" with a greeting.
type greeter struct{}

func (greeter) Join(*channels.Socket, []byte) channels.Reply { return channels.OK(nil) }

func (greeter) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	if in.Event != "hello" {
		return channels.Replied(channels.Error([]byte(`{"reason":"unknown event"}`)))
	}
	return channels.Replied(channels.OK([]byte(`{"greeting":"hello from ` + s.Topic() + `"}`)))
}

func (greeter) Terminate(*channels.Socket, channels.Reason) {}

// Example mounts an Endpoint with a custom channel in a plain net/http mux,
// then talks to it as phoenix.js would.
func Example() {
	router := channels.NewRouter()
	router.Handle("room:*", func(string) channels.Channel { return greeter{} })
	endpoint := server.New(server.Config{Router: router})

	mux := http.NewServeMux()
	mux.Handle("/socket/", endpoint) // serves /socket/websocket and /socket/longpoll
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer endpoint.Shutdown(context.Background())

	// A bare gobwas/ws client shows the frames on the wire; tests use
	// server/servertest instead.
	conn, _, _, err := ws.Dial(context.Background(), "ws"+srv.URL[len("http"):]+"/socket/websocket?vsn=2.0.0")
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	for _, frame := range []string{
		`["1","1","room:lobby","phx_join",{}]`,
		`["1","2","room:lobby","hello",{}]`,
	} {
		_ = wsutil.WriteClientText(conn, []byte(frame))
		reply, _ := wsutil.ReadServerText(conn)
		fmt.Println(string(reply))
	}
	// Output:
	// ["1","1","room:lobby","phx_reply",{"response":{},"status":"ok"}]
	// ["1","2","room:lobby","phx_reply",{"response":{"greeting":"hello from room:lobby"},"status":"ok"}]
}
