package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// Handler receives what a Conn reads. Calls for one Conn are sequential;
// calls for different Conns may run concurrently. They run on the reading
// goroutine, so they must be quick and must not block.
type Handler interface {
	// Message is a text frame parsed as a V2 message. m aliases a read
	// buffer and is valid only during the call. Heartbeat replies are
	// counted in Stats and not passed on.
	Message(c *Conn, m wire.Message)
	// Closed runs once when the connection ends, unless the caller closed it.
	Closed(c *Conn, err error)
}

// Stats counts what every Conn sharing it did. Safe for concurrent use.
type Stats struct {
	HeartbeatsSent    atomic.Uint64
	HeartbeatReplies  atomic.Uint64
	MessagesReceived  atomic.Uint64
	BytesReceived     atomic.Uint64
	MalformedReceived atomic.Uint64
	Closed            atomic.Uint64 // closed by the peer or by an error
}

// ErrClosed is returned by writes on a closed Conn.
var ErrClosed = errors.New("client: connection closed")

// Conn is one WebSocket connection speaking Phoenix V2 JSON. Send, Push and
// Heartbeat are safe for concurrent use.
type Conn struct {
	// ID is the caller's index for the connection.
	ID      int
	Handler Handler
	Stats   *Stats
	Topic   string // set by Join

	refs    atomic.Uint64
	joinRef string

	wmu    sync.Mutex // serializes writes and close
	closed atomic.Bool
	out    writer // the net.Conn, or the raw descriptor once detached
	nc     net.Conn

	rd      wire.Reader
	frameFn func(wire.Frame) error
	// Owned by the reading goroutine: the time of the read being parsed,
	// and messages parsed since the last flush into Stats.
	readAt int64
	msgs   uint64
	shard  int
}

type writer interface {
	Write(b []byte) (int, error)
	Close() error
}

func newConn(id int, nc net.Conn, h Handler, st *Stats) *Conn {
	c := &Conn{ID: id, Handler: h, Stats: st, nc: nc, out: nc}
	c.frameFn = c.frame
	return c
}

// MaxShards bounds Conn.Shard: the number of reading goroutines whose
// counters a Handler may keep apart.
const MaxShards = 64

// Shard returns which reader reads this Conn, in [0, MaxShards): Conns of
// one shard are read by one goroutine at a time with the epoll Poller, so
// a Handler can keep per-shard counters that no other reader touches.
// With the goroutine Poller several goroutines share a shard.
func (c *Conn) Shard() int { return c.shard }

// ReadAt returns when the bytes holding the message being handled were
// read (unix nanoseconds): one clock read per read call, not per message.
// Valid during Handler.Message.
func (c *Conn) ReadAt() int64 { return c.readAt }

// NextRef returns the next ref of this connection's counter.
func (c *Conn) NextRef() uint64 { return c.refs.Add(1) }

// JoinRef returns the join_ref of the last join, as sent.
func (c *Conn) JoinRef() string { return c.joinRef }

// write sends one whole frame.
func (c *Conn) write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return ErrClosed
	}
	_, err := c.out.Write(frame)
	return err
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Send writes [join_ref, ref, topic, event, payload] as a masked text frame.
// joinRef may be "" for null. payload must be JSON.
func (c *Conn) Send(joinRef string, ref uint64, topic, event string, payload []byte) error {
	bp := framePool.Get().(*[]byte)
	msg := (*bp)[:0]
	msg = append(msg, '[')
	if joinRef == "" {
		msg = append(msg, "null"...)
	} else {
		msg = strconv.AppendQuote(msg, joinRef)
	}
	msg = append(msg, ',', '"')
	msg = strconv.AppendUint(msg, ref, 10)
	msg = append(msg, '"', ',')
	msg = strconv.AppendQuote(msg, topic)
	msg = append(msg, ',')
	msg = strconv.AppendQuote(msg, event)
	msg = append(msg, ',')
	msg = append(msg, payload...)
	msg = append(msg, ']')
	n := len(msg)
	key := [4]byte{}
	k := rand.Uint32()
	key[0], key[1], key[2], key[3] = byte(k), byte(k>>8), byte(k>>16), byte(k>>24)
	msg = wire.AppendFrame(msg, wire.OpText, msg[:n], &key)
	err := c.write(msg[n:])
	*bp = msg[:0]
	framePool.Put(bp)
	return err
}

// Push sends event on the joined topic with a new ref and returns the ref.
func (c *Conn) Push(event string, payload []byte) (uint64, error) {
	ref := c.NextRef()
	return ref, c.Send(c.joinRef, ref, c.Topic, event, payload)
}

// Heartbeat sends [null, ref, "phoenix", "heartbeat", {}].
func (c *Conn) Heartbeat() error {
	c.Stats.HeartbeatsSent.Add(1)
	return c.Send("", c.NextRef(), "phoenix", "heartbeat", []byte("{}"))
}

// JoinError is a join the server refused, with its reply payload.
type JoinError struct{ Reply string }

func (e *JoinError) Error() string { return "join refused: " + e.Reply }

// Join sends phx_join on topic with join_ref == ref and waits for the
// reply, reading the connection itself: call it before the Conn is given to
// a Poller. Other messages that arrive meanwhile go to the Handler.
func (c *Conn) Join(ctx context.Context, topic string, payload []byte) error {
	if c.nc == nil {
		return errors.New("client: Join after the Conn was given to a Poller")
	}
	ref := c.NextRef()
	c.Topic = topic
	c.joinRef = strconv.FormatUint(ref, 10)
	if err := c.Send(c.joinRef, ref, topic, "phx_join", payload); err != nil {
		return err
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = c.nc.SetReadDeadline(dl)
		defer c.nc.SetReadDeadline(time.Time{})
	}
	var result error
	done := false
	fn := func(f wire.Frame) error {
		if f.Op != wire.OpText {
			return c.frame(f)
		}
		m, err := wire.Scan(f.Payload)
		if err == nil && !done && string(m.Event) == "phx_reply" && string(m.Ref) == c.joinRef {
			done = true
			if st := wire.ReplyStatus(m.Payload); string(st) != "ok" {
				result = &JoinError{Reply: string(m.Payload)}
			}
			return nil
		}
		return c.frame(f)
	}
	bp := readPool.Get().(*[]byte)
	defer readPool.Put(bp)
	for !done {
		n, err := c.nc.Read(*bp)
		if n > 0 {
			c.readAt = time.Now().UnixNano()
			ferr := c.rd.Feed((*bp)[:n], fn)
			c.flushCounts(n)
			if ferr != nil {
				return ferr
			}
		}
		if err != nil && !done {
			return fmt.Errorf("waiting for join reply: %w", err)
		}
	}
	return result
}

var readPool = sync.Pool{New: func() any { b := make([]byte, 16<<10); return &b }}

var errPeerClosed = errors.New("client: close frame received")

// frame handles one frame read from the connection.
func (c *Conn) frame(f wire.Frame) error {
	switch f.Op {
	case wire.OpText:
		c.msgs++
		m, err := wire.Scan(f.Payload)
		if err != nil {
			c.Stats.MalformedReceived.Add(1)
			return nil
		}
		if string(m.Topic) == "phoenix" && string(m.Event) == "phx_reply" && m.JoinRef == nil {
			c.Stats.HeartbeatReplies.Add(1)
			return nil
		}
		if c.Handler != nil {
			c.Handler.Message(c, m)
		}
	case wire.OpPing:
		var key [4]byte
		return c.write(wire.AppendFrame(nil, wire.OpPong, f.Payload, &key))
	case wire.OpClose:
		return errPeerClosed
	}
	return nil
}

// feed parses bytes read from the connection at now (unix nanos).
func (c *Conn) feed(b []byte, now int64) error {
	c.readAt = now
	err := c.rd.Feed(b, c.frameFn)
	c.flushCounts(len(b))
	return err
}

// flushCounts adds one read's bytes and messages to the shared Stats: two
// atomic adds per read rather than one per message, so readers on
// different cores do not trade the cache line per message.
func (c *Conn) flushCounts(bytes int) {
	c.Stats.BytesReceived.Add(uint64(bytes))
	if c.msgs > 0 {
		c.Stats.MessagesReceived.Add(c.msgs)
		c.msgs = 0
	}
}

// Close closes the connection without calling Handler.Closed. It is safe
// to call more than once and concurrently with writes; a Poller must be
// stopped first (see Poller.Stop) or the Conn removed from it.
func (c *Conn) Close() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Swap(true) {
		return nil
	}
	return c.out.Close()
}

// closeByPeer closes after a read error and tells the Handler.
func (c *Conn) closeByPeer(err error) {
	c.wmu.Lock()
	already := c.closed.Swap(true)
	if !already {
		_ = c.out.Close()
	}
	c.wmu.Unlock()
	if !already {
		c.Stats.Closed.Add(1)
		if c.Handler != nil {
			c.Handler.Closed(c, err)
		}
	}
}

// Closed reports whether the connection has ended.
func (c *Conn) Closed() bool { return c.closed.Load() }
