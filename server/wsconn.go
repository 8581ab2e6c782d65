package server

import (
	"bufio"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/protocol"
)

// wsConn is one WebSocket connection: a reader that decodes frames and
// dispatches them to the Mux, and an outbox that writes.
//
// On Linux a plain TCP connection holds no goroutine and no read buffer
// while idle: the endpoint's poller watches its socket and runs readReady
// when bytes arrive (see netpoll_linux.go). Other connections (TLS, other
// systems) get a reader goroutine.
type wsConn struct {
	e       *Endpoint
	conn    net.Conn
	ser     protocol.Serializer
	mux     *channels.Mux
	out     *outbox
	started time.Time
	fd      int // watched by the poller; -1 when read by a goroutine

	// Reader state, owned by whoever holds reading.
	reading atomic.Bool
	source  pollSource
	scratch [14]byte
	msg     []byte // the message being assembled from fragments
	msgOp   ws.OpCode
	turn    channels.Turn // the turn readReady runs once it stops reading

	lastRead atomic.Int64  // unix nanos of the last inbound frame
	reason   atomic.Uint32 // first CloseReason
	// clientCode is the close code the client sent (0: none), echoed back
	// and logged when the client closed first.
	clientCode atomic.Uint32
	msgsIn     atomic.Int64
	msgsOut    atomic.Int64
	doneOnce   sync.Once
}

// readerPool holds read buffers between readiness events, so an idle
// connection holds none.
var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 4096) }}

func (e *Endpoint) startWebSocket(conn net.Conn, br *bufio.Reader, acc accepted) {
	c := &wsConn{e: e, conn: conn, ser: acc.ser, started: time.Now(), fd: -1}
	c.lastRead.Store(c.started.UnixNano())
	c.out = newOutbox(conn, e.writers)
	c.out.limit = e.cfg.OutboxBytes
	c.out.writeTimeout = e.cfg.WriteTimeout
	c.out.onOverflow = func() { c.abort(CloseSlow) }
	c.out.onWriteError = func(err error) { c.abort(reasonOf(err).reason) }
	c.out.onWrote = c.wrote
	c.out.closeConn = c.closeConn
	c.out.deadlines.Store(true)
	c.source.c = c
	c.mux = e.newMux(c, acc, TransportWebSocket)
	if !e.register(c) {
		c.close(CloseShutdown)
		c.mux.Close()
		return
	}
	e.stats.connections.Add(1)
	if br != nil && br.Buffered() > 0 {
		// The client wrote before the upgrade completed: read that first.
		go c.readLoop(br, true)
		return
	}
	if !e.poller.watch(c) {
		go c.readLoop(bufio.NewReaderSize(conn, 4096), false)
	}
}

// Send implements channels.Transport.
func (c *wsConn) Send(f protocol.Frame) {
	op := ws.OpText
	if f.Binary {
		op = ws.OpBinary
	}
	c.out.push(op, f.Data)
}

// Disconnect implements channels.Transport.
func (c *wsConn) Disconnect() { c.close(CloseDisconnect) }

func (c *wsConn) shutdown() { c.close(CloseShutdown) }

// close ends the connection cleanly: a close frame with the reason's code
// follows what is queued, then the connection closes.
func (c *wsConn) close(r CloseReason) {
	c.reason.CompareAndSwap(0, uint32(r))
	c.out.close(r.info().code)
	// Bound the wait for the close frame to go out.
	time.AfterFunc(time.Second, c.closeConn)
}

// abort ends the connection at once, without a close frame (the writer is
// stuck or broken).
func (c *wsConn) abort(r CloseReason) {
	c.reason.CompareAndSwap(0, uint32(r))
	c.closeConn()
}

// closeConn closes the socket, after taking it off the poller (the fd
// number may be reused as soon as it is closed). A reader goroutine sees the
// error and tears the connection down; a polled connection is torn down on a
// new goroutine, because closeConn may run inside a broadcast (an outbox
// overflow) whose pubsub lock teardown's unsubscribe needs.
func (c *wsConn) closeConn() {
	polled := c.unwatch()
	_ = c.conn.Close()
	if polled {
		go c.teardown()
	}
}

// unwatch takes the connection off the poller; it reports whether it was
// on it.
func (c *wsConn) unwatch() bool { return c.e.poller.unwatch(c) }

// readLoop is the reader goroutine of a connection the poller does not
// watch. If handOff, it reads only what br holds, then hands the connection
// to the poller (or goes on reading if it cannot).
func (c *wsConn) readLoop(br *bufio.Reader, handOff bool) {
	c.reading.Store(true)
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(c.e.cfg.IdleTimeout))
		if err := c.readFrame(br, false); err != nil {
			c.readEnded(err)
			c.teardown()
			return
		}
		if handOff && br.Buffered() == 0 {
			c.reading.Store(false)
			if c.e.poller.watch(c) {
				return
			}
			c.reading.Store(true)
			handOff = false
		}
	}
}

// readReady runs when the poller sees bytes on the socket: it reads every
// frame available, then returns the buffer and re-arms the poller. A frame
// that arrives in pieces is waited for (bounded by the idle timeout).
//
// The last message read, if it starts its channel's turn, is handled on
// this goroutine after the re-arm (channels.Mux.DispatchTurn): a request
// then costs one goroutine hand-off (poller to reader), not two, and the
// next frames are read by another reader meanwhile, so a slow channel holds
// up nothing else.
func (c *wsConn) readReady() {
	if !c.reading.CompareAndSwap(false, true) {
		return
	}
	br := readerPool.Get().(*bufio.Reader)
	c.source.reads, c.source.deadline = 0, false
	br.Reset(&c.source)
	var err error
	for err == nil {
		err = c.readFrame(br, true)
		if br.Buffered() == 0 {
			break
		}
	}
	br.Reset(nil)
	readerPool.Put(br)
	if c.source.deadline {
		_ = c.conn.SetReadDeadline(time.Time{})
	}
	turn := c.turn
	c.turn = channels.Turn{}
	c.reading.Store(false)
	switch {
	case err != nil:
		c.readEnded(err)
		c.unwatch()
		c.teardown()
	case !c.e.poller.rearm(c):
		c.teardown()
	}
	turn.Run() // after a teardown, the channel sees the Mux closed once its message is handled
}

// pollSource is what readReady reads the socket through. The first read
// after the poller saw bytes cannot block, so it needs no deadline; a later
// one (the rest of a frame) is bounded by the idle timeout. Setting a
// deadline only then spares idle connections a runtime timer each.
type pollSource struct {
	c        *wsConn
	reads    int
	deadline bool
}

func (p *pollSource) Read(b []byte) (int, error) {
	if p.reads > 0 && !p.deadline {
		_ = p.c.conn.SetReadDeadline(time.Now().Add(p.c.e.cfg.IdleTimeout))
		p.deadline = true
	}
	p.reads++
	return p.c.conn.Read(b)
}

// readFrame reads and handles one frame. A non-nil error means reading
// must stop; readEnded says why (every error it returns is, or classifies
// as, a *closeError). With lend, a message that is the last one br holds
// and starts its channel's turn leaves that turn in c.turn for readReady.
func (c *wsConn) readFrame(br *bufio.Reader, lend bool) error {
	h, err := readFrameHeader(br, c.scratch[:])
	if err != nil {
		return readFailure(err)
	}
	c.lastRead.Store(time.Now().UnixNano())
	if h.op.IsControl() {
		payload := make([]byte, h.length)
		if _, err := io.ReadFull(br, payload); err != nil {
			return readFailure(err)
		}
		ws.Cipher(payload, h.mask, 0)
		switch h.op {
		case ws.OpPing:
			c.out.push(ws.OpPong, payload)
		case ws.OpClose:
			return &closeError{reason: CloseClient, code: echoCloseCode(payload), err: errClientClose}
		}
		return nil
	}
	switch {
	case h.op == ws.OpContinuation && c.msg == nil:
		return &closeError{reason: CloseProtocol, err: errNoMessage}
	case h.op != ws.OpContinuation && c.msg != nil:
		return &closeError{reason: CloseProtocol, err: errUnfinished}
	}
	if int64(len(c.msg))+h.length > c.e.cfg.MaxMessageBytes {
		return &closeError{reason: CloseTooBig, err: errTooBig}
	}
	if h.op != ws.OpContinuation {
		c.msgOp = h.op
		c.msg = make([]byte, 0, h.length)
	}
	start := len(c.msg)
	c.msg = append(c.msg, make([]byte, h.length)...)
	if _, err := io.ReadFull(br, c.msg[start:]); err != nil {
		return readFailure(err)
	}
	ws.Cipher(c.msg[start:], h.mask, 0)
	if !h.fin {
		return nil
	}
	m, err := c.ser.Decode(c.msg, c.msgOp == ws.OpBinary)
	c.msg = nil
	if err != nil {
		return &closeError{reason: CloseMalformed, err: err}
	}
	c.msgsIn.Add(1)
	c.e.stats.webSocket.msgsIn.Add(1)
	if lend && br.Buffered() == 0 {
		c.turn = c.mux.DispatchTurn(m)
	} else {
		c.mux.Dispatch(m)
	}
	return nil
}

// readEnded ends the connection for err, what readFrame returned: it logs
// and counts what the client did wrong, and closes with the reason's code,
// or answers the client's close.
func (c *wsConn) readEnded(err error) {
	ce := reasonOf(err)
	switch ce.reason {
	case CloseClient:
		if c.reason.CompareAndSwap(0, uint32(CloseClient)) {
			c.clientCode.Store(uint32(ce.code))
		}
		c.out.close(ce.code) // a no-op when the server closed first
		return
	case ClosePeerReset:
		c.abort(ClosePeerReset) // no close frame can reach the client
		return
	case CloseTooBig:
		c.with(c.e.warn(&c.e.log, "message too big")).Int64("limit", c.e.cfg.MaxMessageBytes).Msg("message too big")
		c.e.stats.tooBig.Add(1)
	case CloseMalformed:
		c.with(c.e.warn(&c.e.log, "malformed message; closing")).Err(ce.err).Msg("malformed message; closing")
		c.e.stats.malformed.Add(1)
	case CloseProtocol:
		c.with(c.e.warn(&c.e.log, "websocket protocol error; closing")).Str("error", ce.err.Error()).Msg("websocket protocol error; closing")
		c.e.stats.malformed.Add(1)
	}
	c.close(ce.reason) // the first reason stays: an idle timeout after a close counts as that close
}

// echoCloseCode returns the code to answer a client's close frame with
// (payload, unmasked): its own code when that may be sent, none when it
// sent none, and 1002 (protocol error) for a code that may not be sent, a
// 1-byte payload or a reason that is not UTF-8, as gobwas/wsutil and
// coder/websocket answer (RFC 6455 7.1.5, 7.4, 8.1).
func echoCloseCode(payload []byte) uint16 {
	switch {
	case len(payload) == 0:
		return 0
	case len(payload) == 1, !utf8.Valid(payload[2:]):
		return 1002
	}
	code := uint16(payload[0])<<8 | uint16(payload[1])
	if !sendableCloseCode(code) {
		return 1002
	}
	return code
}

// sendableCloseCode reports whether code may travel in a close frame (RFC
// 6455 7.4 and the IANA registry): 1000-1003, 1007-1014 and 3000-4999.
// 1005, 1006 and 1015 are reserved for reporting, 1004 is reserved, and
// codes below 1000, unassigned ones up to 2999 and from 5000 are not
// defined.
func sendableCloseCode(code uint16) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// with adds the connection's fields to a log event (nil when the level is
// off). Connections keep no sub-logger: its context buffer would cost
// every idle connection ~500 bytes.
func (c *wsConn) with(ev *zerolog.Event) *zerolog.Event {
	if ev == nil {
		return nil
	}
	return ev.Str("transport", string(TransportWebSocket)).Str("remote", c.conn.RemoteAddr().String()).Str("socket_id", c.mux.Conn().ID)
}

// idleFor reports whether no frame arrived for longer than d before now.
func (c *wsConn) idleFor(d time.Duration, now int64) bool {
	return now-c.lastRead.Load() > int64(d)
}

// teardown ends the channels, makes sure the socket closes, logs the access
// line and unregisters the connection. It runs once.
func (c *wsConn) teardown() {
	c.doneOnce.Do(func() {
		c.mux.Close()
		if c.reason.Load() == 0 {
			c.out.close(0)
		}
		// The outbox closes the socket after the close frame; bound the wait.
		time.AfterFunc(time.Second, c.closeConn)
		r := CloseReason(c.reason.Load())
		info := r.info()
		c.e.stats.connections.Add(-1)
		c.e.stats.closed(r)
		code := info.code
		if r == CloseClient {
			code = uint16(c.clientCode.Load())
		}
		ev := c.with(c.e.log.WithLevel(info.level)).
			Str("vsn", c.ser.Version().String()).
			Dur("duration_ms", time.Since(c.started)).
			Str("close_reason", info.label)
		if code != 0 { // no close frame (a reset, a write error): no code
			ev = ev.Uint16("close_code", code)
		}
		ev.Int64("messages_in", c.msgsIn.Load()).
			Int64("messages_out", c.msgsOut.Load()).
			Msg("connection closed")
		c.e.unregister(c)
	})
}
