package server_test

// How a connection that fails on the socket is counted: a client that stops
// reading (write_timeout) apart from one that resets (peer_reset).

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// TestWriteTimeoutCounted: a client that stops reading while broadcasts
// pile up, with room in its outbox, is cut off once a write has been stuck
// for WriteTimeout, and counted as write_timeout, not as a slow consumer or
// a reset.
func TestWriteTimeoutCounted(t *testing.T) {
	srv := servertest.NewServer(t, server.Config{
		Router:       okRouter(),
		WriteTimeout: 300 * time.Millisecond,
		OutboxBytes:  1 << 30, // never the outbox bound: the write must time out first
	})
	c := dialRawSocket(t, srv)
	if err := c.Conn.(*net.TCPConn).SetReadBuffer(4 << 10); err != nil {
		t.Fatal(err)
	}
	c.join(t, "room:stuck")
	// The client reads no more. 32 MiB is more than the kernel buffers
	// both ends hold on loopback; the outbox shares each broadcast's bytes.
	payload := []byte(`{"pad":"` + string(bytes.Repeat([]byte("x"), 64<<10)) + `"}`)
	for range 512 {
		if err := srv.Broadcast("room:stuck", "msg", payload); err != nil {
			t.Fatal(err)
		}
	}
	checkClosed(t, srv, server.CloseWriteTimeout, 1)
	for _, r := range []server.CloseReason{server.CloseSlow, server.ClosePeerReset, server.CloseWriteError} {
		if n := srv.Stats().ClosedFor(r); n != 0 {
			t.Errorf("Stats().ClosedFor(%v) = %d, want 0", r, n)
		}
	}
}

// TestPeerResetCounted: a client that resets its connection (close with
// SO_LINGER 0) is counted as peer_reset, not as a client that closed.
func TestPeerResetCounted(t *testing.T) {
	srv := servertest.NewServer(t, server.Config{Router: okRouter()})
	c := dialRawSocket(t, srv)
	c.join(t, "room:reset")
	tc := c.Conn.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	tc.Close()
	checkClosed(t, srv, server.ClosePeerReset, 1)
	if n := srv.Stats().ClosedFor(server.CloseClient); n != 0 {
		t.Errorf("Stats().ClosedFor(client_closed) = %d, want 0", n)
	}
}
