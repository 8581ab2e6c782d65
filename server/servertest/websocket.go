package servertest

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"strings"
	"sync"

	"github.com/gobwas/ws"
)

// wsConn is the WebSocket transport: a reader goroutine queues what the
// server sends; writes are masked, as a client's must be, and serialized.
type wsConn struct {
	c    *Client
	conn net.Conn
	r    io.Reader

	wmu       sync.Mutex
	closeOnce sync.Once
	done      chan struct{} // the reader has returned
}

func dialWebSocket(c *Client, url string, o *options) (transport, error) {
	protocols := []string{"phoenix"}
	if o.hasToken {
		// As phoenix.js: standard base64, padding removed.
		protocols = append(protocols, "base64url.bearer.phx."+strings.TrimRight(base64.StdEncoding.EncodeToString([]byte(o.token)), "="))
	}
	d := ws.Dialer{Timeout: c.timeout, Protocols: protocols, Header: ws.HandshakeHeaderHTTP(o.header)}
	conn, br, _, err := d.Dial(context.Background(), url)
	if err != nil {
		var status ws.StatusError
		if errors.As(err, &status) {
			return nil, &DialError{Status: int(status), Err: err}
		}
		return nil, &DialError{Err: err}
	}
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
	w.wmu.Lock()
	defer w.wmu.Unlock()
	return ws.WriteFrame(w.conn, ws.MaskFrameInPlace(f))
}

// close sends a close frame (1000, as a client leaving) and closes the
// socket once the reader is done, or at once if the server does not
// answer.
func (w *wsConn) close() {
	w.closeOnce.Do(func() {
		_ = w.write(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
		_ = w.conn.Close()
		<-w.done
	})
}

func (w *wsConn) readLoop() {
	defer close(w.done)
	r := bufio.NewReader(w.r)
	var msg []byte
	var msgOp ws.OpCode
	for {
		h, err := ws.ReadHeader(r)
		if err != nil {
			w.c.end(int(ws.StatusAbnormalClosure), err.Error())
			return
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(r, payload); err != nil {
			w.c.end(int(ws.StatusAbnormalClosure), err.Error())
			return
		}
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpClose:
			code, reason := ws.ParseCloseFrameData(payload)
			if code == 0 {
				code = ws.StatusNoStatusRcvd
			}
			w.c.end(int(code), reason)
			_ = w.write(ws.NewCloseFrame(ws.NewCloseFrameBody(code, ""))) // may fail: the server may be gone
			return
		case ws.OpPing:
			_ = w.write(ws.NewPongFrame(payload))
			continue
		case ws.OpPong:
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
			m, err = decodeText(msg)
		}
		msg = nil
		if err != nil {
			w.c.end(int(ws.StatusProtocolError), err.Error())
			_ = w.conn.Close()
			return
		}
		w.c.received(m)
	}
}
