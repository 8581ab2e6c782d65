// Package servertest is an in-process Phoenix Channels client for tests,
// as net/http/httptest is for HTTP handlers: it talks to a server.Endpoint
// over a real loopback socket, as phoenix.js would, over WebSocket or
// LongPoll.
//
//	srv := servertest.NewServer(t, server.Config{Router: router})
//	c := servertest.Dial(t, srv.URL, servertest.Params("token", token))
//	room := c.Join("room:lobby", nil)            // fails the test unless the reply is ok
//	reply := room.Push("new_msg", map[string]string{"body": "hi"})
//	msg := room.Await("new_msg")                 // the next new_msg push or broadcast
//	var got struct{ Body string }
//	msg.Decode(&got)
//
// Every message the server sends is kept in arrival order. Await and the
// reply of a Push take the first message that matches and leave the others
// for later calls, so a test states what it expects without caring about
// what else arrives in between.
//
// The methods that wait (Join, Push, Await, AwaitClose, Sync, ...) fail the
// test with t.Fatalf after the client's timeout (Timeout, 10 s by default):
// call them from the test's goroutine. Every client is closed by the test's
// cleanup.
//
// The client speaks the V2 JSON serializer phoenix.js uses (and V2 binary
// frames for PushBinary and binary replies), or V1 objects with Vsn.
// Messages it sends carry string refs from one counter, as phoenix.js's do.
//
// For tests of the protocol itself, every Message keeps the bytes it came
// in (Raw), Next takes messages in arrival order, SendText and SendBinary
// send frames the serializer would not make, WriteRaw writes WebSocket
// bytes as they are, and AwaitClose, CloseReason and Unread say how the
// connection ended and what came before.
package servertest

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/server"
)

// DefaultTimeout bounds every wait of a Client unless Timeout says
// otherwise. A passing test never waits that long; a loaded machine with
// the race detector may take seconds.
const DefaultTimeout = 10 * time.Second

// Server is an Endpoint mounted at /socket/ on a loopback port.
type Server struct {
	// Endpoint is the endpoint under test.
	*server.Endpoint
	// URL is the socket's mount, "http://127.0.0.1:<port>/socket": give it to
	// Dial, which adds /websocket or /longpoll.
	URL string
	// HTTP is the underlying test server.
	HTTP *httptest.Server
}

// NewServer starts server.New(cfg) on a loopback port, mounted at /socket/
// of a fresh http.ServeMux, with its WebSocket upgrades answered by the
// endpoint's UpgradeListener as the fawkes binary answers them (Serve
// leaves them to net/http). The test's cleanup shuts the endpoint down
// (after the clients dialed later are closed) and then the HTTP server.
func NewServer(t testing.TB, cfg server.Config) *Server {
	t.Helper()
	e := server.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/socket/", e)
	hs := httptest.NewUnstartedServer(mux)
	hs.Listener = e.UpgradeListener(hs.Listener, "/socket/websocket", 0)
	hs.Start()
	srv := serve(t, e, hs)
	srv.URL += "/socket"
	return srv
}

// Serve starts h, a handler that mounts e somewhere, on a loopback port;
// URL is then the HTTP server's root: add the mount path before dialing.
// Every request, WebSocket upgrades included, goes through net/http.
// NewServer is Serve with e mounted at /socket/ and its upgrades answered
// by the endpoint's UpgradeListener.
func Serve(t testing.TB, e *server.Endpoint, h http.Handler) *Server {
	t.Helper()
	return serve(t, e, httptest.NewServer(h))
}

func serve(t testing.TB, e *server.Endpoint, hs *httptest.Server) *Server {
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultTimeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("servertest: Shutdown: %v", err)
		}
		hs.Close()
	})
	return &Server{Endpoint: e, URL: hs.URL, HTTP: hs}
}

// socketURL returns the transport URL of a socket mount: base (http, https,
// ws or wss, with the mount path) plus "/websocket" or "/longpoll".
func socketURL(base, transport string, ws bool) string {
	base = strings.TrimSuffix(base, "/")
	switch {
	case ws && strings.HasPrefix(base, "http"):
		base = "ws" + strings.TrimPrefix(base, "http")
	case !ws && strings.HasPrefix(base, "ws"):
		base = "http" + strings.TrimPrefix(base, "ws")
	}
	return base + "/" + transport
}
