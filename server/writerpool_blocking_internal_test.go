package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/gobwas/ws"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close() })
	return server, client
}

// blockingOutbox returns the outbox of conn written by a blocking pool, the
// pool of systems without a non-blocking writev (Windows). The pool has no
// writers: an outbox it queued instead would never be written.
func blockingOutbox(conn net.Conn, limit int, writeTimeout time.Duration) *outbox {
	pool := newWriterPool(0)
	pool.blocking = true
	o := newOutbox(conn, pool)
	o.limit, o.writeTimeout = limit, writeTimeout
	o.deadlines.Store(true) // no poller sweeps stuck writes there
	o.onOverflow, o.onWriteError = func() {}, func(error) {}
	o.closeConn = func() { conn.Close() }
	return o
}

// TestBlockingPoolWritesInOrder queues frames faster than a blocking pool
// writes them, then a close frame, and checks the client reads every frame
// in order, then the close frame, then the end of the connection.
func TestBlockingPoolWritesInOrder(t *testing.T) {
	conn, client := tcpPair(t)
	o := blockingOutbox(conn, 1<<20, 10*time.Second)
	closed := make(chan struct{})
	o.closeConn = func() { conn.Close(); close(closed) }
	frames := 0
	o.onWrote = func(n int) { frames += n } // one writer at a time: no lock needed

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(client)
		got <- b
	}()
	var want []byte
	for i := range 3000 {
		data := []byte{byte(i), byte(i >> 8), 'x'}
		if !o.push(ws.OpText, data) {
			t.Fatalf("push %d dropped", i)
		}
		want = appendFrameHeader(want, ws.OpText, len(data))
		want = append(want, data...)
	}
	o.close(1001)
	want = appendFrameHeader(want, ws.OpClose, len(closePayload(1001)))
	want = append(want, closePayload(1001)...)

	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the close frame was never written")
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("read %d bytes differing from the %d bytes of frames queued", len(b), len(want))
	}
	if frames != 3001 {
		t.Fatalf("onWrote counted %d frames; want 3001", frames)
	}
}

// TestBlockingPoolSlowConsumer queues frames for a client that never
// reads: the outbox overflows instead of growing, and says so.
func TestBlockingPoolSlowConsumer(t *testing.T) {
	conn, _ := tcpPair(t)
	o := blockingOutbox(conn, 1<<20, 10*time.Second)
	overflowed := make(chan struct{})
	o.onOverflow = func() { close(overflowed) }

	frame := make([]byte, 64<<10)
	for i := 0; o.push(ws.OpBinary, frame); i++ {
		if i == 1<<14 { // 1 GiB queued for a client that reads nothing
			t.Fatal("the outbox never overflowed")
		}
	}
	select {
	case <-overflowed:
	default:
		t.Fatal("push dropped a frame without onOverflow")
	}
}

// TestBlockingPoolStuckWrite fills the socket of a client that stops
// reading, well within the outbox bound: the blocked write ends at its
// deadline with a timeout, which tears the connection down.
func TestBlockingPoolStuckWrite(t *testing.T) {
	conn, client := tcpPair(t)
	_ = conn.(*net.TCPConn).SetWriteBuffer(64 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(64 << 10)
	o := blockingOutbox(conn, 64<<20, 200*time.Millisecond)
	writeErr := make(chan error, 1)
	o.onWriteError = func(err error) { writeErr <- err }

	frame := make([]byte, 64<<10)
	for i := range 128 { // 8 MiB: far more than both socket buffers hold
		if !o.push(ws.OpBinary, frame) {
			t.Fatalf("push %d dropped", i)
		}
	}
	select {
	case err := <-writeErr:
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("the stuck write ended with %v; want a timeout", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stuck write never ended")
	}
}
