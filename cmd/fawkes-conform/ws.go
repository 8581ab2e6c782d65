package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
)

// eventKind is what a connection received.
type eventKind uint8

const (
	evText   eventKind = iota + 1 // a text message (or a LongPoll message)
	evBinary                      // a binary message
	evClose                       // a close frame
	evEnd                         // the connection ended without a close frame, or a LongPoll session ended
)

// event is one thing a connection received, in order.
type event struct {
	kind   eventKind
	data   []byte
	code   int // close code; 1005 for a close frame without one
	reason string
}

func (e event) String() string {
	switch e.kind {
	case evText:
		return compactJSON(e.data)
	case evBinary:
		if v, err := decodeServerBinary(e.data); err == nil {
			return "binary " + render(v)
		}
		return fmt.Sprintf("binary % x", e.data)
	case evClose:
		if e.reason != "" {
			return fmt.Sprintf("close %d %q", e.code, e.reason)
		}
		return fmt.Sprintf("close %d", e.code)
	}
	if e.reason != "" {
		return "end of connection (" + e.reason + ")"
	}
	return "end of connection"
}

// queue holds received events for the steps that take them.
type queue struct {
	mu     sync.Mutex
	events []event
	notify chan struct{}
}

func newQueue() *queue { return &queue{notify: make(chan struct{}, 1)} }

func (q *queue) push(e event) {
	q.mu.Lock()
	q.events = append(q.events, e)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
}

// pop returns the next event, waiting until deadline. An end event stays
// queued: every later read sees it too.
func (q *queue) pop(deadline time.Time) (event, bool) {
	for {
		q.mu.Lock()
		if len(q.events) > 0 {
			e := q.events[0]
			if e.kind != evEnd {
				q.events = q.events[1:]
			}
			q.mu.Unlock()
			return e, true
		}
		q.mu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			return event{}, false
		}
		t := time.NewTimer(wait)
		select {
		case <-q.notify:
		case <-t.C:
		}
		t.Stop()
	}
}

// wsConn is a WebSocket client connection: a goroutine reads every frame
// into the queue, answers pings and records pongs.
type wsConn struct {
	name  string
	conn  net.Conn
	r     io.Reader
	trace *tracer

	wmu sync.Mutex
	q   *queue

	pmu   sync.Mutex
	pongs [][]byte
	pongq chan struct{}
	done  chan struct{}
}

// handshake is what an upgrade request got back.
type handshake struct {
	status   int
	header   http.Header
	body     []byte
	protocol string
	took     time.Duration
}

// dialOptions are the request options of connect, upgrade and http.
type dialOptions struct {
	query         string // raw query, without "?"; hasQuery false means none
	hasQuery      bool
	origin        string
	protocols     []string
	header        http.Header
	contentType   string
	tokenInHeader bool // LongPoll: the session token travels in X-Phoenix-Longpoll-Token (phoenix.js after 1.8.12), not in the query
	body          string
}

// dialWS upgrades url (ws://...) with opts. It returns the open connection
// when the server answered 101, and the handshake in every case.
func dialWS(ctx context.Context, name, url string, opts dialOptions, tr *tracer) (*wsConn, *handshake, error) {
	hs := &handshake{header: http.Header{}}
	header := opts.header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if opts.origin != "" {
		header.Set("Origin", opts.origin)
	}
	d := ws.Dialer{
		Timeout:   10 * time.Second,
		Protocols: opts.protocols,
		Header:    ws.HandshakeHeaderHTTP(header),
		OnHeader: func(k, v []byte) error {
			hs.header.Add(string(k), string(v))
			return nil
		},
		OnStatusError: func(status int, _ []byte, resp io.Reader) {
			hs.status = status
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				return
			}
			defer r.Body.Close()
			hs.header = r.Header
			hs.body, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
		},
	}
	target := url
	if opts.hasQuery {
		target += "?" + opts.query
	}
	tr.add(name, "→", "upgrade GET "+target+describeHeaders(header, opts.protocols))
	start := time.Now()
	conn, br, h, err := d.Dial(ctx, target)
	hs.took = time.Since(start)
	if err != nil {
		var se ws.StatusError
		if errors.As(err, &se) || hs.status != 0 {
			tr.add(name, "←", fmt.Sprintf("HTTP %d %s", hs.status, shorten(string(hs.body), 200)))
			return nil, hs, nil
		}
		tr.add(name, "←", "upgrade failed: "+err.Error())
		return nil, hs, fmt.Errorf("upgrade %s: %w", target, err)
	}
	hs.status = http.StatusSwitchingProtocols
	hs.protocol = h.Protocol
	if h.Protocol != "" {
		hs.header.Set("Sec-WebSocket-Protocol", h.Protocol)
	}
	tr.add(name, "←", "HTTP 101"+describeProtocol(h.Protocol))
	c := &wsConn{name: name, conn: conn, r: conn, trace: tr, q: newQueue(), pongq: make(chan struct{}, 1), done: make(chan struct{})}
	if br != nil {
		c.r = br // holds what came right behind the 101, then reads conn
	}
	go c.readLoop()
	return c, hs, nil
}

func describeHeaders(h http.Header, protocols []string) string {
	var parts []string
	for k, vs := range h {
		for _, v := range vs {
			parts = append(parts, k+": "+v)
		}
	}
	if len(protocols) > 0 {
		parts = append(parts, "Sec-WebSocket-Protocol: "+strings.Join(protocols, ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, "; ") + ")"
}

func describeProtocol(p string) string {
	if p == "" {
		return ""
	}
	return " (Sec-WebSocket-Protocol: " + p + ")"
}

func (c *wsConn) readLoop() {
	defer close(c.done)
	var msg []byte
	var msgOp ws.OpCode
	for {
		f, err := readFrame(c.r)
		if err != nil {
			reason := ""
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				reason = err.Error()
			}
			c.deliver(event{kind: evEnd, reason: reason})
			return
		}
		if f.Header.Masked {
			ws.Cipher(f.Payload, f.Header.Mask, 0)
			c.deliver(event{kind: evEnd, reason: "the server sent a masked frame"})
			return
		}
		switch f.Header.OpCode {
		case ws.OpPing:
			c.trace.add(c.name, "←", fmt.Sprintf("ping %q", f.Payload))
			_ = c.writeFrame(ws.NewPongFrame(f.Payload))
			continue
		case ws.OpPong:
			c.trace.add(c.name, "←", fmt.Sprintf("pong %q", f.Payload))
			c.pmu.Lock()
			c.pongs = append(c.pongs, f.Payload)
			c.pmu.Unlock()
			select {
			case c.pongq <- struct{}{}:
			default:
			}
			continue
		case ws.OpClose:
			code, reason := ws.StatusNoStatusRcvd, ""
			if len(f.Payload) >= 2 {
				code, reason = ws.ParseCloseFrameData(f.Payload)
			}
			c.deliver(event{kind: evClose, code: int(code), reason: reason})
			_ = c.writeFrame(ws.NewCloseFrame(f.Payload))
			c.deliver(event{kind: evEnd})
			return
		case ws.OpText, ws.OpBinary:
			msg, msgOp = append(msg[:0], f.Payload...), f.Header.OpCode
		case ws.OpContinuation:
			msg = append(msg, f.Payload...)
		}
		if !f.Header.Fin {
			continue
		}
		kind := evText
		if msgOp == ws.OpBinary {
			kind = evBinary
		}
		c.deliver(event{kind: kind, data: bytes.Clone(msg)})
	}
}

// maxFrame bounds one frame from the server: no case expects more.
const maxFrame = 64 << 20

// readFrame reads one frame, refusing a declared length over maxFrame
// before reading the payload.
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxFrame {
		return ws.Frame{}, fmt.Errorf("the server announced a frame of %d bytes", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	_, err = io.ReadFull(r, f.Payload)
	return f, err
}

func (c *wsConn) deliver(e event) {
	if e.kind != evEnd || e.reason != "" {
		c.trace.add(c.name, "←", e.String())
	} else {
		c.trace.add(c.name, "←", "end of connection")
	}
	c.q.push(e)
}

// writeFrame masks f and writes it.
func (c *wsConn) writeFrame(f ws.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return ws.WriteFrame(c.conn, ws.MaskFrameInPlace(f))
}

// sendFrame writes one frame. A failed write is not a failure of the step:
// a server may close while a frame is on its way (a message over its size
// limit, say), and the next expectation sees how the connection ended.
func (c *wsConn) sendFrame(op ws.OpCode, fin bool, payload []byte, what string) error {
	c.trace.add(c.name, "→", what)
	if err := c.writeFrame(ws.NewFrame(op, fin, bytes.Clone(payload))); err != nil {
		c.trace.add(c.name, "·", "write failed: "+err.Error())
	}
	return nil
}

func (c *wsConn) next(deadline time.Time) (event, bool) { return c.q.pop(deadline) }

// pong waits for the next pong and returns its payload.
func (c *wsConn) pong(deadline time.Time) ([]byte, bool) {
	for {
		c.pmu.Lock()
		if len(c.pongs) > 0 {
			p := c.pongs[0]
			c.pongs = c.pongs[1:]
			c.pmu.Unlock()
			return p, true
		}
		c.pmu.Unlock()
		wait := time.Until(deadline)
		if wait <= 0 {
			return nil, false
		}
		t := time.NewTimer(wait)
		select {
		case <-c.pongq:
		case <-t.C:
		}
		t.Stop()
	}
}

func (c *wsConn) close() {
	_ = c.conn.Close()
	<-c.done
}
