package server

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server/internal/lograte"
)

// Endpoint is the Phoenix socket endpoint, an http.Handler. Mount it under
// the socket path with the trailing slash, e.g.
//
//	mux.Handle("/socket/", endpoint)
//
// and it serves /socket/websocket and /socket/longpoll. Endpoint is safe for
// concurrent use.
type Endpoint struct {
	cfg   Config
	log   zerolog.Logger
	hooks channels.Hooks
	stats Stats
	// warnings rate-limits the warnings clients can cause (see warn).
	warnings lograte.Limiter

	draining atomic.Bool
	mu       sync.Mutex
	conns    map[liveConn]struct{}
	sessions *lpSessions
	poller   *poller
	writers  *writerPool
	params   paramsCache
	gone     chan struct{} // closed and replaced when conns becomes empty
}

// New returns an Endpoint for cfg. It panics if cfg's Relay (or PubSub
// acting as one) has a NodeID that pubsub.Relay does not allow.
func New(cfg Config) *Endpoint {
	e := &Endpoint{cfg: cfg.withDefaults(), conns: make(map[liveConn]struct{})}
	node := ""
	if e.cfg.Relay != nil {
		node = e.cfg.Relay.NodeID()
		if !validNodeID(node) {
			panic("server: Relay.NodeID() " + strconv.Quote(node) + " is not a node id (non-empty, A-Z a-z 0-9 _ -)")
		}
	}
	e.sessions = newLPSessions(e, node)
	e.poller = newPoller(e)
	// One writer per CPU: a pool writer never waits in the kernel (its
	// writes do not block), and a second one per CPU only split batches and
	// woke more threads (1,000 subscribers x 2,400 msg/s: p99 25.2 vs
	// 32.5 ms, 0.43 vs 0.44 us of CPU per delivery; docs/BENCHMARKS.md).
	e.writers = newWriterPool(runtime.GOMAXPROCS(0))
	e.log = *e.cfg.Logger
	e.hooks = e.stats.hooks(e.cfg.Hooks)
	if e.cfg.Relay != nil {
		if len(e.cfg.LongPollKey) == 0 {
			e.log.Warn().Str("node", node).Msg("LongPoll relay without a LongPollKey: other nodes cannot check this node's tokens, so LongPoll needs sticky sessions")
		}
		e.handleRelay() // last: a handler may run at once
	}
	return e
}

// PubSub returns the PubSub connections subscribe to, to broadcast from
// server code.
func (e *Endpoint) PubSub() pubsub.PubSub { return e.cfg.PubSub }

// Broadcast sends event with a JSON object payload to every subscriber of
// topic: [null, null, topic, event, payload].
func (e *Endpoint) Broadcast(topic, event string, payload []byte) error {
	return e.cfg.PubSub.Publish(pubsub.NewBroadcast(topic, event, payload))
}

// Disconnect closes every connection whose socket id is id (close 1001;
// phoenix.js reconnects), as Phoenix's Endpoint.broadcast(id, "disconnect").
func (e *Endpoint) Disconnect(id string) error {
	return e.Broadcast(id, channels.EventDisconnect, nil)
}

// ServeHTTP serves {mount}/websocket and {mount}/longpoll; other paths get
// 404.
func (e *Endpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasSuffix(r.URL.Path, "/websocket"):
		e.serveWebSocket(w, r)
	case strings.HasSuffix(r.URL.Path, "/longpoll"):
		e.serveLongPoll(w, r)
	default:
		http.NotFound(w, r)
	}
}

// Stats returns the endpoint's counters.
func (e *Endpoint) Stats() *Stats { return &e.stats }

func (e *Endpoint) register(c liveConn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.draining.Load() {
		return false
	}
	e.conns[c] = struct{}{}
	return true
}

func (e *Endpoint) unregister(c liveConn) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.conns, c)
	if len(e.conns) == 0 && e.gone != nil {
		close(e.gone)
		e.gone = nil
	}
}

// Shutdown stops accepting connections and closes every open one with 1012
// (Service Restart; phoenix.js reconnects, elsewhere if a balancer steers
// it), DrainBatch at a time every DrainInterval. It returns when all are
// gone, or with ctx's error when ctx ends first.
func (e *Endpoint) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	e.draining.Store(true)
	conns := make([]liveConn, 0, len(e.conns))
	for c := range e.conns {
		conns = append(conns, c)
	}
	var gone chan struct{}
	if len(e.conns) > 0 {
		if e.gone == nil {
			e.gone = make(chan struct{})
		}
		gone = e.gone
	}
	e.mu.Unlock()
	if gone == nil {
		return nil
	}
	tick := time.NewTicker(e.cfg.DrainInterval)
	defer tick.Stop()
	for len(conns) > 0 {
		n := min(e.cfg.DrainBatch, len(conns))
		for _, c := range conns[:n] {
			c.shutdown()
		}
		conns = conns[n:]
		if len(conns) == 0 {
			break
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	select {
	case <-gone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newMux returns the Mux of a new connection of either transport. The
// channels of both run concurrently, so that a slow one stalls neither the
// others nor the heartbeats that follow it: a WebSocket reads on while a
// channel works, and a LongPoll POST answers once its messages are queued
// (see lpSession.post).
func (e *Endpoint) newMux(t channels.Transport, acc accepted, transport Transport) *channels.Mux {
	return channels.NewMux(channels.MuxConfig{
		Concurrent:  true,
		Router:      e.cfg.Router,
		PubSub:      e.cfg.PubSub,
		Serializer:  acc.ser,
		Transport:   t,
		Conn:        channels.Conn{ID: acc.result.ID, Params: acc.params, Assigns: acc.result.Assigns, Transport: string(transport)},
		MaxChannels: e.cfg.MaxChannels,
		Logger:      &e.log,
		Hooks:       e.hooks,
	})
}

// liveConn is an open connection of either transport, as Shutdown sees it.
type liveConn interface {
	// shutdown ends the connection because the server is draining.
	shutdown()
}

// Connections returns the number of open connections (WebSocket connections
// and LongPoll sessions).
func (e *Endpoint) Connections() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.conns)
}
