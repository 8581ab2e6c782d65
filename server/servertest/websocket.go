package servertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/gobwas/ws"
)

// maxFrame bounds a frame the client reads: a larger declared length is a
// broken server, not something to allocate.
const maxFrame = 64 << 20

// wsConn is the WebSocket transport: a reader goroutine queues what the
// server sends; writes are masked, as a client's must be, and serialized.
type wsConn struct {
	c    *Client
	conn net.Conn
	r    io.Reader

	wmu  sync.Mutex
	done chan struct{} // the reader has returned
}

func dialWebSocket(c *Client, url string, o *options) (transport, error) {
	protocols := o.subprotocols
	if protocols == nil {
		protocols = []string{"phoenix"}
		if o.hasToken {
			// As phoenix.js: standard base64, padding removed.
			protocols = append(protocols, "base64url.bearer.phx."+strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(o.token)), "="))
		}
	}
	var body string
	d := ws.Dialer{
		Timeout:   c.timeout,
		Protocols: protocols,
		Header:    ws.HandshakeHeaderHTTP(o.header),
		OnStatusError: func(_ int, _ []byte, resp io.Reader) {
			if r, err := http.ReadResponse(bufio.NewReader(resp), nil); err == nil {
				b, _ := io.ReadAll(r.Body)
				_ = r.Body.Close()
				body = string(b)
			}
		},
	}
	conn, br, hs, err := d.Dial(context.Background(), url)
	if err != nil {
		var status ws.StatusError
		if errors.As(err, &status) {
			return nil, &DialError{Status: int(status), Body: body, Err: err}
		}
		return nil, &DialError{Err: err}
	}
	c.protocol = hs.Protocol
	w := &wsConn{c: c, conn: conn, r: conn, done: make(chan struct{})}
	if br != nil {
		w.r = br
	}
	go w.readLoop()
	return w, nil
}

func (w *wsConn) send(frame []byte, binary bool) error {
	f := ws.NewTextFrame(frame)
	if binary {
		f = ws.NewBinaryFrame(frame)
	}
	return w.write(f)
}

func (w *wsConn) write(f ws.Frame) error {
	f.Payload = append([]byte(nil), f.Payload...) // masking is in place
	return w.writeRaw(ws.MustCompileFrame(ws.MaskFrameInPlace(f)))
}

func (w *wsConn) writeRaw(b []byte) error {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	_, err := w.conn.Write(b)
	return err
}

// close sends a close frame (1000, as a client leaving) and closes the
// socket; the reader then returns.
func (w *wsConn) close() {
	_ = w.write(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	_ = w.conn.Close()
	<-w.done
}

// readLoop reads until the connection ends. After the server's close frame
// it answers with its own and reads on until the server closes the TCP
// connection: only then has the connection ended.
func (w *wsConn) readLoop() {
	defer close(w.done)
	r := bufio.NewReader(w.r)
	var msg []byte
	var msgOp ws.OpCode
	closed := false // the server's close frame came
	var code ws.StatusCode
	var reason string
	fail := func(code ws.StatusCode, format string, args ...any) {
		w.c.end(int(code), fmt.Sprintf(format, args...))
		_ = w.conn.Close()
	}
	for {
		if !w.c.waitReading() {
			return
		}
		h, err := ws.ReadHeader(r)
		if err == nil && h.Length > maxFrame {
			err = fmt.Errorf("a frame of %d bytes, over the client's %d", h.Length, maxFrame)
		}
		var payload []byte
		if err == nil {
			payload = make([]byte, h.Length)
			_, err = io.ReadFull(r, payload)
		}
		switch {
		case err != nil && closed:
			w.c.end(int(code), reason)
			return
		case err != nil:
			w.c.end(int(ws.StatusAbnormalClosure), err.Error())
			return
		case closed:
			fail(ws.StatusProtocolError, "the server sent opcode %d after its close frame", h.OpCode)
			return
		case h.Masked:
			fail(ws.StatusProtocolError, "the server sent a masked frame")
			return
		}
		switch h.OpCode {
		case ws.OpClose:
			code, reason = ws.ParseCloseFrameData(payload)
			if code == 0 {
				code = ws.StatusNoStatusRcvd
			}
			closed = true
			_ = w.write(ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))) // may fail: the server may be gone
			continue
		case ws.OpPing:
			_ = w.write(ws.NewPongFrame(payload))
			continue
		case ws.OpPong:
			w.c.pong(payload)
			continue
		case ws.OpContinuation:
			msg = append(msg, payload...)
		default:
			msg, msgOp = payload, h.OpCode
		}
		if !h.Fin {
			continue
		}
		var m Message
		if msgOp == ws.OpBinary {
			m, err = decodeBinary(msg)
		} else {
			m, err = w.c.codec.decodeText(msg)
		}
		msg = nil
		if err != nil {
			fail(ws.StatusProtocolError, "%v", err)
			return
		}
		w.c.received(m)
	}
}
