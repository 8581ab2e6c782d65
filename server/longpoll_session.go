package server

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/protocol"
)

// lpSessions holds the LongPoll sessions of an Endpoint, by id, and signs
// their tokens.
type lpSessions struct {
	e   *Endpoint
	key []byte
	// node is this node's id, which tokens carry when the Endpoint has a
	// Relay; "" on a single node.
	node string

	mu   sync.Mutex
	byID map[string]*lpSession
}

func newLPSessions(e *Endpoint, node string) *lpSessions {
	key := e.cfg.LongPollKey
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key)
	}
	return &lpSessions{e: e, key: key, node: node, byID: make(map[string]*lpSession)}
}

// token returns "<id>.<mac>" on a single node and "<node>.<id>.<mac>" with
// a Relay: the id is 16 random bytes, the MAC binds it (and the node that
// owns the session) to the key, so every node with the same key can tell
// which node to ask. All parts are base64url or node id characters, so the
// token is safe in a URL and a header.
func (ss *lpSessions) token(id string) string {
	signed := id
	if ss.node != "" {
		signed = ss.node + "." + id
	}
	return signed + "." + ss.mac(signed)
}

func (ss *lpSessions) mac(signed string) string {
	h := hmac.New(sha256.New, ss.key)
	h.Write([]byte(signed))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// parse returns the node and session id a token names; node is "" on a
// single node. ok is false for a malformed or forged token. What is signed
// has exactly one "." with a Relay and none without, so a token of one
// format never passes for the other.
func (ss *lpSessions) parse(token string) (node, id string, ok bool) {
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return "", "", false
	}
	signed, mac := token[:i], token[i+1:]
	if !hmac.Equal([]byte(mac), []byte(ss.mac(signed))) {
		return "", "", false
	}
	if ss.node == "" {
		return "", signed, signed != "" && !strings.Contains(signed, ".")
	}
	node, id, ok = strings.Cut(signed, ".")
	if !ok || node == "" || id == "" || strings.Contains(id, ".") {
		return "", "", false
	}
	return node, id, true
}

// route returns the live session of this node a token names, or the
// other node that owns it (owner != ""), or neither for a missing, forged
// or ended session.
func (ss *lpSessions) route(token string) (s *lpSession, owner string) {
	node, id, ok := ss.parse(token)
	if !ok {
		return nil, ""
	}
	if node != ss.node {
		return nil, node
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.byID[id], ""
}

// lookup returns the live session of this node a token names, or nil.
func (ss *lpSessions) lookup(token string) *lpSession {
	s, _ := ss.route(token)
	return s
}

func (ss *lpSessions) add(s *lpSession) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.byID[s.id] = s
}

func (ss *lpSessions) remove(s *lpSession) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, s.id)
}

func newSessionID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// lpSession is one LongPoll connection: a Mux whose frames queue until a GET
// takes them. It ends 1.5 windows after the last GET, on a "disconnect"
// broadcast, when its queue overflows, or on shutdown.
type lpSession struct {
	e       *Endpoint
	id      string
	token   string
	ser     protocol.Serializer
	mux     *channels.Mux
	log     zerolog.Logger
	started time.Time
	expiry  *time.Timer

	mu       sync.Mutex
	queue    []string // text frames, in order
	bytes    int
	wake     chan struct{} // closed and replaced when the queue grows or the session ends
	polls    int           // GETs in progress
	lastPoll time.Time
	ended    bool
	reason   CloseReason
	msgsIn   int64
	msgsOut  int64

	ready chan struct{} // closed once startSession has set every field
	// opened is false for a session that a draining Endpoint refused to
	// register: it never served a request. Set before ready is closed.
	opened bool
}

func (e *Endpoint) startSession(acc accepted) *lpSession {
	s := &lpSession{e: e, id: newSessionID(), ser: acc.ser, started: time.Now(), lastPoll: time.Now(), wake: make(chan struct{}), ready: make(chan struct{})}
	s.token = e.sessions.token(s.id)
	s.log = e.log.With().Str("transport", string(TransportLongPoll)).Str("socket_id", acc.result.ID).Logger()
	// A "disconnect" broadcast can end the session as soon as the Mux
	// subscribes to the socket id; finish waits for ready, so it sees every
	// field set and the session registered.
	s.expiry = time.AfterFunc(s.idleLimit(), s.checkExpiry)
	e.stats.lpSessions.Add(1)
	s.mux = e.newMux(s, acc, TransportLongPoll)
	ok := e.register(s)
	if ok {
		e.sessions.add(s)
	}
	s.opened = ok
	close(s.ready)
	if !ok {
		// Shutdown began after accept: end undoes the Mux, the timer and
		// the count, and logs and counts no close for a session that never
		// opened.
		s.end(CloseShutdown)
		return nil
	}
	return s
}

// idleLimit is how long a session lives without a GET.
func (s *lpSession) idleLimit() time.Duration { return s.e.cfg.LongPollWindow * 3 / 2 }

func (s *lpSession) checkExpiry() {
	<-s.ready
	s.mu.Lock()
	left := s.idleLimit() - time.Since(s.lastPoll)
	busy := s.polls > 0
	s.mu.Unlock()
	if busy || left > 0 {
		s.expiry.Reset(max(left, s.idleLimit()/4))
		return
	}
	s.end(CloseIdle)
}

// Send implements channels.Transport. Binary frames cannot travel over
// LongPoll (phoenix.js JSON-parses every message); they are dropped.
func (s *lpSession) Send(f protocol.Frame) {
	if f.Binary {
		s.log.Warn().Msg("binary frame dropped: LongPoll carries text frames only")
		return
	}
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	if s.bytes+len(f.Data) > s.e.cfg.OutboxBytes {
		s.mu.Unlock()
		s.endSoon(CloseSlow)
		return
	}
	s.queue = append(s.queue, string(f.Data))
	s.bytes += len(f.Data)
	s.wakeLocked()
	s.mu.Unlock()
}

func (s *lpSession) wakeLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// Disconnect implements channels.Transport.
func (s *lpSession) Disconnect() { s.endSoon(CloseDisconnect) }

func (s *lpSession) shutdown() { s.end(CloseShutdown) }

// poll waits up to the window for queued frames and takes them all. ok is
// false if the session ended.
func (s *lpSession) poll(done <-chan struct{}) (frames []string, ok bool) {
	s.mu.Lock()
	s.polls++
	s.lastPoll = time.Now()
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.polls--
		s.lastPoll = time.Now()
		s.mu.Unlock()
	}()
	timer := time.NewTimer(s.e.cfg.LongPollWindow)
	defer timer.Stop()
	for {
		s.mu.Lock()
		if s.ended {
			s.mu.Unlock()
			return nil, false
		}
		if len(s.queue) > 0 {
			frames = s.queue
			s.msgsOut += int64(len(frames))
			s.e.stats.longPoll.msgsOut.Add(int64(len(frames)))
			s.queue, s.bytes = nil, 0
			s.mu.Unlock()
			return frames, true
		}
		wake := s.wake
		s.mu.Unlock()
		select {
		case <-wake:
		case <-timer.C:
			return nil, true
		case <-done:
			return nil, true
		}
	}
}

// end terminates the session's channels and forgets it; the next request
// with its token gets a new session (GET) or 410 (POST). It closes the Mux,
// so it must not run where the Mux, a channel's Socket or the PubSub holds
// a lock: Send and Disconnect use endSoon.
func (s *lpSession) end(r CloseReason) {
	if s.markEnded(r) {
		s.finish(r)
	}
}

// endSoon ends the session at once for requests and ends its channels on
// another goroutine: it is called with Mux, Socket or PubSub locks held
// (Send from Dispatch or Deliver, Disconnect from Publish), which closing
// the Mux would take again.
func (s *lpSession) endSoon(r CloseReason) {
	if s.markEnded(r) {
		go s.finish(r)
	}
}

// markEnded marks the session ended and wakes its GETs; it reports whether
// this call did it.
func (s *lpSession) markEnded(r CloseReason) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.ended, s.reason = true, r
	s.queue, s.bytes = nil, 0
	s.wakeLocked()
	return true
}

// finish ends the channels, counts and logs the close, and unregisters.
func (s *lpSession) finish(r CloseReason) {
	<-s.ready
	s.expiry.Stop()
	s.e.sessions.remove(s)
	s.mux.Close()
	s.e.stats.lpSessions.Add(-1)
	if !s.opened {
		return
	}
	s.e.stats.closed(r)
	info := r.info()
	s.log.WithLevel(info.level).
		Str("vsn", s.ser.Version().String()).
		Dur("duration_ms", time.Since(s.started)).
		Str("close_reason", info.label).
		Int64("messages_in", s.msgsInLoad()).
		Int64("messages_out", s.msgsOutLoad()).
		Msg("connection closed")
	s.e.unregister(s)
}

func (s *lpSession) msgsInLoad() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgsIn
}

func (s *lpSession) msgsOutLoad() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.msgsOut
}

func (s *lpSession) countIn(n int) {
	s.mu.Lock()
	s.msgsIn += int64(n)
	s.mu.Unlock()
	s.e.stats.longPoll.msgsIn.Add(int64(n))
}
