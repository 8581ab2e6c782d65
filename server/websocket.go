package server

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/protocol"
)

// subprotocolPhoenix is echoed whenever the client offers it: browsers fail
// the handshake if they offered subprotocols and none was selected.
const subprotocolPhoenix = "phoenix"

// serveWebSocket handles GET {mount}/websocket.
func (e *Endpoint) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if reason := checkUpgradeRequest(r); reason != "" {
		e.stats.refused.Add(1)
		http.Error(w, reason, http.StatusBadRequest)
		return
	}
	offered, authToken, hasToken, err := parseProtocols(r.Header.Values("Sec-Websocket-Protocol"))
	if err != nil {
		e.stats.refused.Add(1)
		http.Error(w, "invalid auth token in Sec-WebSocket-Protocol", http.StatusBadRequest)
		return
	}
	acc, status := e.accept(r, "websocket", authToken, hasToken)
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	up := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == subprotocolPhoenix && offered }}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		e.stats.refused.Add(1)
		e.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	var br *bufio.Reader
	if rw != nil {
		br = rw.Reader
	}
	e.startWebSocket(conn, br, acc)
}

// checkUpgradeRequest returns why r is not a WebSocket upgrade, or "".
func checkUpgradeRequest(r *http.Request) string {
	switch {
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return "missing Connection: upgrade header"
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return "missing Upgrade: websocket header"
	case r.Header.Get("Sec-Websocket-Version") != "13":
		return "Sec-WebSocket-Version must be 13"
	case r.Header.Get("Sec-Websocket-Key") == "":
		return "missing Sec-WebSocket-Key header"
	}
	return ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// wsConn is one WebSocket connection: a reader goroutine that decodes
// frames and dispatches them to the Mux, and an outbox that writes.
type wsConn struct {
	e       *Endpoint
	conn    net.Conn
	br      *bufio.Reader
	ser     protocol.Serializer
	mux     *channels.Mux
	out     *outbox
	log     zerolog.Logger
	started time.Time
	remote  string

	reason   atomic.Uint32 // first closeReason
	msgsIn   atomic.Int64
	msgsOut  atomic.Int64
	doneOnce sync.Once
}

func (e *Endpoint) startWebSocket(conn net.Conn, br *bufio.Reader, acc accepted) {
	c := &wsConn{e: e, conn: conn, br: br, ser: acc.ser, started: time.Now(), remote: conn.RemoteAddr().String()}
	if c.br == nil || c.br.Buffered() == 0 {
		c.br = bufio.NewReaderSize(conn, 2048)
	}
	c.log = e.log.With().Str("transport", "websocket").Str("remote", c.remote).Str("socket_id", acc.result.ID).Logger()
	c.out = &outbox{
		conn:         conn,
		limit:        e.cfg.OutboxBytes,
		writeTimeout: e.cfg.WriteTimeout,
		onOverflow:   func() { c.abort(closeSlow) },
		onWriteError: func(error) { c.abort(closeWriteError) },
		onWrote:      func(n int) { c.msgsOut.Add(int64(n)) },
	}
	c.mux = channels.NewMux(channels.MuxConfig{
		Router:      e.cfg.Router,
		PubSub:      e.cfg.PubSub,
		Serializer:  acc.ser,
		Transport:   c,
		Conn:        channels.Conn{ID: acc.result.ID, Params: acc.params, Assigns: acc.result.Assigns, Transport: "websocket"},
		MaxChannels: e.cfg.MaxChannels,
		Logger:      &c.log,
		Hooks:       e.hooks,
	})
	if !e.register(c) {
		c.close(closeShutdown)
		c.mux.Close()
		return
	}
	e.stats.connections.Add(1)
	go c.readLoop()
}

// Send implements channels.Transport.
func (c *wsConn) Send(f protocol.Frame) {
	op := ws.OpText
	if f.Binary {
		op = ws.OpBinary
	}
	c.out.push(op, f.Data)
}

func (c *wsConn) shutdown() { c.close(closeShutdown) }

// Disconnect implements channels.Transport.
func (c *wsConn) Disconnect() { c.close(closeDisconnect) }

// close ends the connection cleanly: a close frame with the reason's code
// follows what is queued, then the connection closes; the read loop ends.
func (c *wsConn) close(r closeReason) {
	c.reason.CompareAndSwap(0, uint32(r))
	c.out.close(r.info().code)
	// Unblock the reader if the client never answers the close.
	_ = c.conn.SetReadDeadline(time.Now().Add(time.Second))
}

// abort ends the connection at once, without a close frame (the writer is
// stuck or broken).
func (c *wsConn) abort(r closeReason) {
	c.reason.CompareAndSwap(0, uint32(r))
	_ = c.conn.Close()
}

// readLoop reads messages until the connection ends, then tears it down.
func (c *wsConn) readLoop() {
	defer c.teardown()
	var scratch [14]byte
	var msg []byte
	var msgOp ws.OpCode
	idle := c.e.cfg.IdleTimeout
	limit := c.e.cfg.MaxMessageBytes
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(idle))
		h, err := readFrameHeader(c.br, scratch[:])
		if err != nil {
			c.readFailed(err)
			return
		}
		if h.op.IsControl() {
			payload := make([]byte, h.length)
			if _, err := io.ReadFull(c.br, payload); err != nil {
				c.readFailed(err)
				return
			}
			ws.Cipher(payload, h.mask, 0)
			switch h.op {
			case ws.OpPing:
				c.out.push(ws.OpPong, payload)
			case ws.OpClose:
				c.reason.CompareAndSwap(0, uint32(closeClient))
				c.out.close(echoCloseCode(payload))
				return
			}
			continue
		}
		switch {
		case h.op == ws.OpContinuation && msg == nil:
			c.protocolError("continuation frame without a message")
			return
		case h.op != ws.OpContinuation && msg != nil:
			c.protocolError("new message before the previous one ended")
			return
		}
		if int64(len(msg))+h.length > limit {
			c.log.Warn().Int64("limit", limit).Msg("message too big")
			c.e.stats.tooBig.Add(1)
			c.close(closeTooBig)
			return
		}
		if h.op != ws.OpContinuation {
			msgOp = h.op
			msg = make([]byte, 0, h.length)
		}
		start := len(msg)
		msg = append(msg, make([]byte, h.length)...)
		if _, err := io.ReadFull(c.br, msg[start:]); err != nil {
			c.readFailed(err)
			return
		}
		ws.Cipher(msg[start:], h.mask, 0)
		if !h.fin {
			continue
		}
		m, err := c.ser.Decode(msg, msgOp == ws.OpBinary)
		msg = nil
		if err != nil {
			c.log.Warn().Err(err).Msg("malformed message; closing")
			c.e.stats.malformed.Add(1)
			c.close(closeMalformed)
			return
		}
		c.msgsIn.Add(1)
		c.mux.Dispatch(m)
	}
}

func echoCloseCode(payload []byte) uint16 {
	if len(payload) >= 2 {
		return uint16(payload[0])<<8 | uint16(payload[1])
	}
	return 0
}

func (c *wsConn) protocolError(what string) {
	c.log.Warn().Str("error", what).Msg("websocket protocol error; closing")
	c.e.stats.malformed.Add(1)
	c.close(closeProtocol)
}

// readFailed classifies a read error.
func (c *wsConn) readFailed(err error) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if c.reason.Load() == 0 {
			c.close(closeIdle)
		}
	case errors.Is(err, errUnmasked), errors.Is(err, errReservedBits), errors.Is(err, errBadControl), errors.Is(err, errBadOpcode):
		c.protocolError(err.Error())
	default:
		c.reason.CompareAndSwap(0, uint32(closeClient))
	}
}

// teardown ends the channels, waits briefly for the close frame to go out,
// and unregisters the connection.
func (c *wsConn) teardown() {
	c.doneOnce.Do(func() {
		c.mux.Close()
		if c.reason.Load() == uint32(closeClient) || c.reason.Load() == 0 {
			c.out.close(0)
		}
		// The outbox closes the socket after the close frame; bound the wait.
		time.AfterFunc(time.Second, func() { _ = c.conn.Close() })
		r := closeReason(c.reason.Load())
		info := r.info()
		c.e.stats.connections.Add(-1)
		c.e.stats.closed(r)
		c.log.WithLevel(info.level).
			Str("vsn", c.ser.Version().String()).
			Dur("duration", time.Since(c.started)).
			Str("close_reason", info.label).
			Uint16("close_code", info.code).
			Int64("messages_in", c.msgsIn.Load()).
			Int64("messages_out", c.msgsOut.Load()).
			Msg("connection closed")
		c.e.unregister(c)
	})
}

// accepted is the outcome of the checks every transport runs before a
// connection starts.
type accepted struct {
	ser    protocol.Serializer
	params map[string]string
	result ConnectResult
}

// accept runs the origin check, serializer negotiation and connect hook.
// It returns a non-zero HTTP status when the connection is refused.
func (e *Endpoint) accept(r *http.Request, transport, authToken string, hasToken bool) (accepted, int) {
	if e.draining.Load() {
		return accepted{}, http.StatusServiceUnavailable
	}
	if origin := r.Header.Get("Origin"); origin != "" && e.cfg.CheckOrigin != nil && !e.cfg.CheckOrigin(origin) {
		e.stats.refused.Add(1)
		e.log.Warn().Str("origin", origin).Str("transport", transport).Msg("origin refused")
		return accepted{}, http.StatusForbidden
	}
	params := queryParams(r.URL.Query())
	ser, err := protocol.Negotiate(params["vsn"])
	if err != nil {
		e.stats.refused.Add(1)
		e.log.Info().Err(err).Str("transport", transport).Msg("serializer version refused")
		return accepted{}, http.StatusForbidden
	}
	res := ConnectResult{}
	if e.cfg.Connect != nil {
		req := &ConnectRequest{Params: params, Header: r.Header, RemoteAddr: r.RemoteAddr, URI: r.URL, AuthToken: authToken, HasAuthToken: hasToken, Transport: transport}
		res, err = e.callConnect(r.Context(), req)
		if err != nil {
			e.stats.refused.Add(1)
			status := http.StatusForbidden
			var ref *Refusal
			if errors.As(err, &ref) {
				status = ref.status()
			}
			e.log.Info().Err(err).Str("transport", transport).Str("remote", r.RemoteAddr).Msg("connection refused by connect hook")
			return accepted{}, status
		}
	}
	return accepted{ser: ser, params: params, result: res}, 0
}

// callConnect runs the connect hook; a panic refuses the connection.
func (e *Endpoint) callConnect(ctx context.Context, req *ConnectRequest) (res ConnectResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error().Interface("panic", p).Msg("connect hook panicked")
			err = &Refusal{Status: http.StatusInternalServerError, Reason: "connect hook panicked"}
		}
	}()
	return e.cfg.Connect(ctx, req)
}
