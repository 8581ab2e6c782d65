// Package limit is the reference server of `fawkes-bench limit-server`: the
// least work a server can do for the fanout shape, so that a fanout run
// against it measures what this machine's loopback, kernel and the
// load generator itself allow.
//
// It upgrades every connection, answers every text message with an ok
// reply echoing the join_ref, ref and topic (so the same client joins,
// heartbeats and pings it), and for a publish message builds one broadcast
// frame and writes those same bytes to every connection that has sent
// anything, without per-subscriber encoding, filtering, queues or
// protocol state. A writer that falls behind writes the broadcasts queued
// meanwhile as one buffer, the same bytes to every connection.
package limit

import (
	"errors"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/wire"
)

// Config configures a Server. The zero value works.
type Config struct {
	// PublishEvent is the event whose payload is broadcast. Zero means
	// "cloudevent".
	PublishEvent string
	// BroadcastEvent is the event name of the broadcast frames. Zero means
	// PublishEvent.
	BroadcastEvent string
	// IncludeSender sends the broadcast to the publisher too. Zero means it
	// does not, as the events channel.
	IncludeSender bool
	// Writers is the number of goroutines that write broadcasts, each to
	// its share of the members. Zero means GOMAXPROCS.
	Writers int
}

// Stats are the Server's counters. Safe for concurrent use.
type Stats struct {
	Accepted   atomic.Uint64
	Members    atomic.Uint64
	Published  atomic.Uint64
	Deliveries atomic.Uint64
	WriteFails atomic.Uint64
}

// Server is the reference server. Serve and Close are safe for concurrent
// use.
type Server struct {
	cfg    Config
	Stats  Stats
	shards []*shard
	next   atomic.Uint64

	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	ln      net.Listener
	closed  bool
	wg      sync.WaitGroup // connection goroutines
	writers sync.WaitGroup
}

type member struct {
	nc   net.Conn
	dead atomic.Bool
}

// shard writes broadcasts to its members on one goroutine.
type shard struct {
	mu      sync.Mutex
	members []*member // append-only: a snapshot of the header stays valid
	frames  chan broadcast
}

type broadcast struct {
	frame []byte
	from  *member // skipped unless Config.IncludeSender
}

// New returns a Server whose writer goroutines run until Close.
func New(cfg Config) *Server {
	if cfg.PublishEvent == "" {
		cfg.PublishEvent = "cloudevent"
	}
	if cfg.BroadcastEvent == "" {
		cfg.BroadcastEvent = cfg.PublishEvent
	}
	if cfg.Writers <= 0 {
		cfg.Writers = runtime.GOMAXPROCS(0)
	}
	s := &Server{cfg: cfg, conns: map[net.Conn]struct{}{}}
	for range cfg.Writers {
		sh := &shard{frames: make(chan broadcast, 1024)}
		s.shards = append(s.shards, sh)
		s.writers.Add(1)
		go func() {
			defer s.writers.Done()
			sh.write(&s.Stats)
		}()
	}
	return s
}

// write sends each broadcast to every member of the shard. When more
// broadcasts are queued, it joins them (up to 64 KiB) into one buffer and
// writes that to every member: the same bytes still go to everyone, with
// one write per member per batch instead of per message, which is what a
// server that is behind can do at best.
func (sh *shard) write(st *Stats) {
	var batch []byte
	for b := range sh.frames {
		frame, n := b.frame, uint64(1)
	more:
		for len(frame) < 64<<10 {
			select {
			case nb, ok := <-sh.frames:
				if !ok {
					break more
				}
				if nb.from != b.from { // a different publisher: send what we have first
					sh.send(frame, b.from, n, st)
					frame, n, b = nb.frame, 1, nb
					continue
				}
				if n == 1 {
					batch = append(batch[:0], frame...)
				}
				batch = append(batch, nb.frame...)
				frame, n = batch, n+1
			default:
				break more
			}
		}
		sh.send(frame, b.from, n, st)
	}
}

// send writes buf, which holds n broadcast frames, to every live member
// but from.
func (sh *shard) send(buf []byte, from *member, n uint64, st *Stats) {
	sh.mu.Lock()
	members := sh.members
	sh.mu.Unlock()
	var sent uint64
	for _, m := range members {
		if m == from || m.dead.Load() {
			continue
		}
		if _, err := m.nc.Write(buf); err != nil {
			m.dead.Store(true)
			st.WriteFails.Add(1)
			continue
		}
		sent++
	}
	st.Deliveries.Add(sent * n)
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.ln = ln
	s.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			_ = nc.Close()
			return nil
		}
		s.conns[nc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		s.Stats.Accepted.Add(1)
		go s.serveConn(nc)
	}
}

func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.conns, nc)
		s.mu.Unlock()
		_ = nc.Close()
	}()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := ws.Upgrade(nc); err != nil {
		return
	}
	_ = nc.SetDeadline(time.Time{})
	var (
		rd     wire.Reader
		m      *member
		reply  []byte
		buf    = make([]byte, 4<<10)
		closed = errors.New("closed")
	)
	handle := func(f wire.Frame) error {
		switch f.Op {
		case wire.OpClose:
			return closed
		case wire.OpPing:
			_, err := nc.Write(wire.AppendFrame(nil, wire.OpPong, f.Payload, nil))
			return err
		case wire.OpText:
		default:
			return nil
		}
		msg, err := wire.Scan(f.Payload)
		if err != nil {
			return err
		}
		if m == nil {
			m = &member{nc: nc}
			sh := s.shards[s.next.Add(1)%uint64(len(s.shards))]
			sh.mu.Lock()
			sh.members = append(sh.members, m)
			sh.mu.Unlock()
			s.Stats.Members.Add(1)
		}
		if string(msg.Event) == s.cfg.PublishEvent {
			s.publish(msg, m)
		}
		reply = appendOK(reply[:0], msg)
		_, err = nc.Write(reply)
		return err
	}
	for {
		n, err := nc.Read(buf)
		if n > 0 {
			if ferr := rd.Feed(buf[:n], handle); ferr != nil {
				err = ferr
			}
		}
		if err != nil {
			if m != nil {
				m.dead.Store(true)
			}
			return
		}
	}
}

// publish builds the broadcast frame once and hands the same bytes to
// every writer.
func (s *Server) publish(msg wire.Message, from *member) {
	s.Stats.Published.Add(1)
	body := make([]byte, 0, len(msg.Payload)+len(msg.Topic)+len(s.cfg.BroadcastEvent)+32)
	body = append(body, `[null,null,"`...)
	body = append(body, msg.Topic...)
	body = append(body, `","`...)
	body = append(body, s.cfg.BroadcastEvent...)
	body = append(body, `",`...)
	body = append(body, msg.Payload...)
	body = append(body, ']')
	frame := wire.AppendFrame(make([]byte, 0, len(body)+10), wire.OpText, body, nil)
	b := broadcast{frame: frame, from: from}
	if s.cfg.IncludeSender {
		b.from = nil
	}
	for _, sh := range s.shards {
		sh.frames <- b
	}
}

const okSuffix = `"phx_reply",{"status":"ok","response":{}}]`

// appendOK appends the frame [join_ref, ref, topic, "phx_reply", ok].
func appendOK(dst []byte, m wire.Message) []byte {
	n := 1 + nullOrStringLen(m.JoinRef) + 1 + nullOrStringLen(m.Ref) + 2 + len(m.Topic) + 2 + len(okSuffix)
	dst = wire.AppendHeader(dst, wire.OpText, n, nil)
	start := len(dst)
	dst = append(dst, '[')
	dst = appendNullOrString(dst, m.JoinRef)
	dst = append(dst, ',')
	dst = appendNullOrString(dst, m.Ref)
	dst = append(dst, ',', '"')
	dst = append(dst, m.Topic...)
	dst = append(dst, '"', ',')
	dst = append(dst, okSuffix...)
	if len(dst)-start != n {
		panic("limit: reply length miscounted")
	}
	return dst
}

func nullOrStringLen(s []byte) int {
	if s == nil {
		return 4
	}
	return len(s) + 2
}

func appendNullOrString(dst, s []byte) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// Addr returns the listening address, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Close stops accepting, closes every connection and waits for the
// Server's goroutines.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.ln != nil {
		_ = s.ln.Close()
	}
	for nc := range s.conns {
		_ = nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait() // no publish can run after this
	for _, sh := range s.shards {
		close(sh.frames)
	}
	s.writers.Wait()
	return nil
}
