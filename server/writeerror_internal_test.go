package server

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// writeFailed returns an outbox of conn on pool whose write errors arrive
// on the returned channel.
func writeFailed(conn net.Conn, pool *writerPool, writeTimeout time.Duration) (*outbox, chan error) {
	failed := make(chan error, 1)
	o := newOutbox(conn, pool)
	o.limit, o.writeTimeout = 1<<30, writeTimeout
	o.onOverflow, o.onWrote = func() {}, func(int) {}
	o.onWriteError = func(err error) { failed <- err }
	o.closeConn = func() { conn.Close() }
	return o, failed
}

// TestWriteDeadlineIsWriteTimeout: a blocking write to a client that stopped
// reading fails at the write deadline (TLS connections and systems without
// the poller), and the outbox reports it as write_timeout.
func TestWriteDeadlineIsWriteTimeout(t *testing.T) {
	conn, client := tcpPair(t)
	_ = client.(*net.TCPConn).SetReadBuffer(4 << 10)
	pool := newWriterPool(0)
	pool.blocking = true
	o, failed := writeFailed(conn, pool, 200*time.Millisecond)
	o.deadlines.Store(true)
	frame := bytes.Repeat([]byte("x"), 64<<10)
	for range 512 { // 32 MiB, more than loopback buffers hold
		o.push(ws.OpText, frame)
	}
	select {
	case err := <-failed:
		if r := reasonOf(err).reason; r != CloseWriteTimeout {
			t.Errorf("write failed with %v, counted as %v; want write_timeout", err, r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write to a client that reads nothing never failed")
	}
}

// TestWriteAfterResetIsPeerReset: a write to a client that reset the
// connection (closed with SO_LINGER 0) fails as a peer reset, on the pool's
// non-blocking writev where there is one.
func TestWriteAfterResetIsPeerReset(t *testing.T) {
	conn, client := tcpPair(t)
	pool := newWriterPool(1)
	o, failed := writeFailed(conn, pool, 10*time.Second)
	if err := client.(*net.TCPConn).SetLinger(0); err != nil {
		t.Fatal(err)
	}
	client.Close()
	// Wait for the reset to arrive: a read sees it.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Read(make([]byte, 1)); !isPeerReset(err) {
		t.Fatalf("read after the client's reset: %v, want a reset", err)
	}
	o.push(ws.OpText, []byte("hello"))
	select {
	case err := <-failed:
		if r := reasonOf(err).reason; r != ClosePeerReset {
			t.Errorf("write failed with %v, counted as %v; want peer_reset", err, r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the write after a reset never failed")
	}
}
