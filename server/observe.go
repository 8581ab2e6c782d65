package server

import (
	"github.com/rs/zerolog"
)

// Draining reports whether Shutdown has begun: the endpoint refuses new
// connections (503) and is closing the open ones.
func (e *Endpoint) Draining() bool { return e.draining.Load() }

// OutboxBytes returns the bytes queued for clients over all WebSocket
// connections: what the outboxes hold, not yet written. It visits every
// connection, so it costs O(connections); call it at scrape time, not on a
// hot path.
func (e *Endpoint) OutboxBytes() int64 {
	e.mu.Lock()
	conns := make([]liveConn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	e.mu.Unlock()
	var n int64
	for _, c := range conns {
		if ws, ok := c.(*wsConn); ok {
			n += int64(ws.out.queued())
		}
	}
	return n
}

// queued returns the bytes waiting in the outbox.
func (o *outbox) queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.bytes
}

// warn returns a warning event on log for msg, or nil (on which zerolog's
// methods do nothing) when lines of msg are being suppressed; the first
// line after a suppression carries "suppressed": K. Use it for warnings a
// misbehaving client (or many) can repeat at will:
//
//	e.warn(&e.log, "origin refused").Str("origin", origin).Msg("origin refused")
func (e *Endpoint) warn(log *zerolog.Logger, msg string) *zerolog.Event {
	ok, suppressed := e.warnings.Allow(msg)
	if !ok {
		return nil
	}
	ev := log.Warn()
	if suppressed > 0 {
		ev = ev.Int("suppressed", suppressed)
	}
	return ev
}

// wrote counts frames written to the client.
func (c *wsConn) wrote(frames int) {
	c.msgsOut.Add(int64(frames))
	c.e.stats.webSocket.msgsOut.Add(int64(frames))
}
