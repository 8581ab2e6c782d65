package server_test

// A LongPoll session that fails to open leaves nothing behind: no session,
// no connection, no close counted, no goroutine (TestMain checks).

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fawkes-rt/fawkes/server"
)

// expectNothingOpen fails if srv holds a session or connection, or counted
// a close.
func (srv *lpServer) expectNothingOpen(t *testing.T) {
	t.Helper()
	st := srv.Stats()
	if n, c, closed := st.LongPollSessions(), srv.Connections(), st.Closed(); n != 0 || c != 0 || len(closed) != 0 {
		t.Fatalf("LongPollSessions = %d, Connections = %d, Closed = %v; want nothing", n, c, closed)
	}
}

func TestLongPollOpenRefused(t *testing.T) {
	srv := lpStart(t, server.Config{
		Connect: func(context.Context, *server.ConnectRequest) (server.ConnectResult, error) {
			return server.ConnectResult{ID: "user:1"}, errors.New("no")
		},
	})
	srv.do(t, http.MethodGet, "vsn=2.0.0", nil, nil).expectStatus(t, http.StatusForbidden)
	srv.expectNothingOpen(t)
	if n := srv.PubSub().(interface{ Count(string) int }).Count("user:1"); n != 0 {
		t.Fatalf("%d subscriptions to the socket id remain", n)
	}
}

func TestLongPollOpenDuringShutdown(t *testing.T) {
	// Shutdown begins while the connect hook runs: the endpoint has
	// accepted the request but must not open the session.
	entered, release := make(chan struct{}), make(chan struct{})
	srv := lpStart(t, server.Config{
		Connect: func(context.Context, *server.ConnectRequest) (server.ConnectResult, error) {
			close(entered)
			<-release
			return server.ConnectResult{ID: "user:1"}, nil
		},
	})
	answer := make(chan *lpResponse, 1)
	go func() { answer <- srv.do(t, http.MethodGet, "vsn=2.0.0", nil, nil) }()
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), lpTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	(<-answer).expectStatus(t, http.StatusForbidden)
	srv.expectNothingOpen(t)
	if n := srv.PubSub().(interface{ Count(string) int }).Count("user:1"); n != 0 {
		t.Fatalf("%d subscriptions to the socket id remain", n)
	}
}

func TestLongPollOpenClientLeft(t *testing.T) {
	// The client leaves while the connect hook runs: nobody could ever use
	// the session, so it is not opened (it would wait 1.5 windows to expire).
	entered := make(chan struct{})
	e := server.New(server.Config{
		Router: lpRouter(nil),
		Connect: func(ctx context.Context, _ *server.ConnectRequest) (server.ConnectResult, error) {
			close(entered)
			<-ctx.Done() // the request's context: the client is gone
			return server.ConnectResult{}, nil
		},
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), lpTimeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Error(err)
		}
	}()
	served := make(chan struct{})
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(served)
		e.ServeHTTP(w, r)
	}))
	defer hs.Close()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hs.URL+"/socket/longpoll?vsn=2.0.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := hs.Client().Do(req); err == nil {
			resp.Body.Close()
			t.Error("the cancelled request got an answer")
		}
	}()
	<-entered
	cancel()
	<-done
	<-served
	if n, c := e.Stats().LongPollSessions(), e.Connections(); n != 0 || c != 0 {
		t.Fatalf("LongPollSessions = %d, Connections = %d; want 0, 0", n, c)
	}
}
