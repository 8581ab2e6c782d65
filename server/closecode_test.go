package server_test

// The close handshake with real frames: what the server answers a client's
// close frame with.

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// rawSocket is a client that reads and writes WebSocket frames itself.
type rawSocket struct {
	net.Conn
	br *bufio.Reader // what the handshake read past the response, then the socket
}

// dialRawSocket opens a V2 WebSocket to srv, closed by the test's cleanup.
func dialRawSocket(t *testing.T, srv *servertest.Server) *rawSocket {
	t.Helper()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/websocket?vsn=2.0.0"
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, u)
	if err != nil {
		t.Fatalf("dial %s: %v", u, err)
	}
	t.Cleanup(func() { conn.Close() })
	if br == nil {
		br = bufio.NewReader(conn)
	}
	return &rawSocket{Conn: conn, br: br}
}

// send writes one masked frame.
func (s *rawSocket) send(t *testing.T, op ws.OpCode, payload []byte) {
	t.Helper()
	if err := ws.WriteFrame(s, ws.MaskFrameInPlace(ws.NewFrame(op, true, payload))); err != nil {
		t.Fatalf("write %v frame: %v", op, err)
	}
}

// next reads the next frame within 10 s.
func (s *rawSocket) next() (ws.Frame, error) {
	_ = s.SetReadDeadline(time.Now().Add(10 * time.Second))
	return readTestFrame(s.br)
}

// join joins topic and waits for the reply.
func (s *rawSocket) join(t *testing.T, topic string) {
	t.Helper()
	s.send(t, ws.OpText, []byte(`["1","1","`+topic+`","phx_join",{}]`))
	f, err := s.next()
	if err != nil || !strings.Contains(string(f.Payload), `"status":"ok"`) {
		t.Fatalf("join %s: %q, %v", topic, f.Payload, err)
	}
}

// okChannel joins anyone and ignores their messages.
type okChannel struct{}

func (okChannel) Join(*channels.Socket, []byte) channels.Reply { return channels.OK(nil) }

func (okChannel) HandleIn(*channels.Socket, channels.Inbound) channels.Result {
	return channels.Replied(channels.OK(nil))
}

func (okChannel) Terminate(*channels.Socket, channels.Reason) {}

func okRouter() *channels.Router {
	r := channels.NewRouter()
	r.Handle("room:*", func(string) channels.Channel { return okChannel{} })
	return r
}

// TestCloseCodeAnswer: the server answers a client's close frame with the
// client's code when that code may be sent (RFC 6455 7.4), with 1002 when
// it may not (reserved for reporting: 1005, 1006, 1015; undefined: 999,
// 2999, 5000), then closes the connection; each counts as client_closed.
func TestCloseCodeAnswer(t *testing.T) {
	srv := servertest.NewServer(t, server.Config{Router: okRouter()})
	cases := []struct {
		sent, want uint16
	}{
		{1000, 1000}, {1001, 1001}, {1012, 1012}, {3000, 3000}, {4999, 4999},
		{1005, 1002}, {1006, 1002}, {1015, 1002}, {999, 1002}, {5000, 1002}, {2999, 1002},
	}
	for _, tt := range cases {
		t.Run(fmt.Sprint(tt.sent), func(t *testing.T) {
			c := dialRawSocket(t, srv)
			c.join(t, "room:a")
			c.send(t, ws.OpClose, binary.BigEndian.AppendUint16(nil, tt.sent))
			f, err := c.next()
			if err != nil {
				t.Fatalf("no close frame: %v", err)
			}
			if f.Header.OpCode != ws.OpClose || len(f.Payload) < 2 {
				t.Fatalf("got %v frame %q, want a close frame with a code", f.Header.OpCode, f.Payload)
			}
			if got := binary.BigEndian.Uint16(f.Payload); got != tt.want {
				t.Errorf("answered %d with %d, want %d", tt.sent, got, tt.want)
			}
			if _, err := c.next(); !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("after the close frame: %v, want the end of the connection", err)
			}
		})
	}
	// A close without a code is answered without one.
	c := dialRawSocket(t, srv)
	c.send(t, ws.OpClose, nil)
	if f, err := c.next(); err != nil || f.Header.OpCode != ws.OpClose || len(f.Payload) != 0 {
		t.Errorf("empty close answered with %v %q, %v; want an empty close frame", f.Header.OpCode, f.Payload, err)
	}
	checkClosed(t, srv, server.CloseClient, int64(len(cases))+1)
}

// checkClosed waits until srv counted want connections closed for r.
func checkClosed(t *testing.T, srv *servertest.Server, r server.CloseReason, want int64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().ClosedFor(r) != want {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().ClosedFor(%v) = %d, want %d; all: %v", r, srv.Stats().ClosedFor(r), want, srv.Stats().Closed())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// readTestFrame reads one server frame, refusing a declared length over
// 1 MiB (ws.ReadFrame would allocate whatever the peer declares).
func readTestFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 1<<20 {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes declared, over the test's 1 MiB", h.Length)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return ws.Frame{}, err
	}
	if h.Masked {
		ws.Cipher(payload, h.Mask, 0)
	}
	return ws.Frame{Header: h, Payload: payload}, nil
}
