package servertest_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// transports runs f over WebSocket and over LongPoll.
func transports(t *testing.T, f func(t *testing.T, opts ...servertest.Option)) {
	t.Run("websocket", func(t *testing.T) { f(t) })
	t.Run("longpoll", func(t *testing.T) { f(t, servertest.LongPoll()) })
}

func tokenServer(t *testing.T) *servertest.Server {
	router := newRouter()
	router.Handle("conformance:*", conformance.New)
	return servertest.NewServer(t, server.Config{Router: router,
		Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
			if req.AuthToken != "secret" && req.Params["token"] != "secret" {
				return server.ConnectResult{}, errors.New("bad token")
			}
			return server.ConnectResult{ID: "u"}, nil
		}})
}

func TestDialRefusedAndAuthToken(t *testing.T) {
	transports(t, func(t *testing.T, opts ...servertest.Option) {
		srv := tokenServer(t)
		_, err := servertest.TryDial(t, srv.URL, opts...)
		var refused *servertest.DialError
		if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
			t.Fatalf("without a token: %v, want a 403 DialError", err)
		}
		c := servertest.Dial(t, srv.URL, append(opts, servertest.AuthToken("secret"))...)
		if r := c.Heartbeat(); !r.OK() {
			t.Errorf("heartbeat: %s", r)
		}
		servertest.Dial(t, srv.URL, append(opts, servertest.Params("token", "secret"))...).Sync()
	})
}

func TestRepliesPushesAndClose(t *testing.T) {
	transports(t, func(t *testing.T, opts ...servertest.Option) {
		srv := tokenServer(t)
		c := servertest.Dial(t, srv.URL, append(opts, servertest.AuthToken("secret"))...)
		if _, r := c.TryJoin("nowhere", nil); r.Status != "error" || r.Reason() != "unmatched topic" {
			t.Errorf("unmatched join: %s", r)
		}
		ch := c.Join("conformance:x", nil)
		if r := ch.Push("echo", `{"a":1}`); !r.OK() || string(r.Response) != `{"a":1}` {
			t.Errorf("echo: %s", r)
		}
		if r := ch.Push("push", map[string]int{"n": 2}); !r.OK() {
			t.Fatalf("push command: %s", r)
		}
		m := ch.Await("pushed")
		if m.JoinRef != ch.JoinRef || m.Ref != "" || m.IsBroadcast() || string(m.Payload) != `{"n":2}` {
			t.Errorf("push: %s", m)
		}
		c.Sync()
		if got := ch.Received("pushed"); len(got) != 0 {
			t.Errorf("a second push: %v", got)
		}
		if r := ch.Leave(); !r.OK() {
			t.Errorf("leave: %s", r)
		}
		ch.Await("phx_close")
		_ = srv.Shutdown(context.Background())
		// WebSocket: 1012. LongPoll: 3410 when the poll in flight learns that
		// the session is gone, 1008 when the next poll finds the server
		// refusing new sessions; phoenix.js reconnects after either.
		code := c.AwaitClose()
		if len(opts) == 0 && code != 1012 || len(opts) > 0 && code != 3410 && code != 1008 {
			t.Errorf("close code after Shutdown: %d", code)
		}
	})
}

func TestBinary(t *testing.T) {
	srv := servertest.NewServer(t, server.Config{Router: func() *channels.Router {
		r := channels.NewRouter()
		r.Handle("conformance:*", conformance.New)
		return r
	}()})
	ch := servertest.Dial(t, srv.URL).Join("conformance:bin", nil)
	r := ch.PushBinary("echo", []byte{0, 1, 2})
	if !r.Binary || !r.OK() || string(r.Response) != "\x00\x01\x02" {
		t.Errorf("binary echo: %s", r)
	}
}

func TestVsnAndRaw(t *testing.T) {
	srv := tokenServer(t)
	for _, vsn := range []string{"1.0.0", ""} {
		c := servertest.Dial(t, srv.URL, servertest.Vsn(vsn), servertest.Params("token", "secret"))
		ch := c.Join("conformance:v1", nil)
		if r := ch.Push("echo", `{"a":1}`); !r.OK() || string(r.Response) != `{"a":1}` {
			t.Errorf("vsn %q: echo %s", vsn, r)
		}
		c.SendText([]byte(`{"topic":"phoenix","event":"heartbeat","payload":{},"ref":5}`))
		if m := c.Next(); m.Ref != "5" || string(m.Raw) != `{"event":"phx_reply","payload":{"response":{},"status":"ok"},"ref":5,"topic":"phoenix"}` {
			t.Errorf("vsn %q: numeric ref: %s (ref %q)", vsn, m.Raw, m.Ref)
		}
	}
}

func TestSubprotocolsAndVsnRefused(t *testing.T) {
	srv := tokenServer(t)
	c := servertest.Dial(t, srv.URL, servertest.Params("token", "secret"), servertest.Subprotocols("phoenix"))
	if c.Protocol() != "phoenix" {
		t.Errorf("protocol %q", c.Protocol())
	}
	_, err := servertest.TryDial(t, srv.URL, servertest.Vsn("3.0.0"), servertest.Params("token", "secret"))
	var refused *servertest.DialError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden {
		t.Fatalf("vsn 3.0.0: %v, want a 403 DialError", err)
	}
}

func TestCloseAfterMalformedFrame(t *testing.T) {
	srv := tokenServer(t)
	c := servertest.Dial(t, srv.URL, servertest.AuthToken("secret"))
	c.Sync()
	c.SendText([]byte("["))
	if code := c.AwaitClose(); code != 1011 || !c.Closed() {
		t.Errorf("close code %d (%q), want 1011", code, c.CloseReason())
	}
}

func TestDialErrorBody(t *testing.T) {
	e := server.New(server.Config{Router: newRouter()})
	srv := servertest.Serve(t, e, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "nope", http.StatusForbidden)
	}))
	_, err := servertest.TryDial(t, srv.URL+"/socket")
	var refused *servertest.DialError
	if !errors.As(err, &refused) || refused.Status != http.StatusForbidden || refused.Body != "nope\n" {
		t.Fatalf("%v, want a 403 DialError with the body", err)
	}
}
