package client

import (
	"context"
	"sync"
	"time"
)

// DefaultHeartbeatInterval is how often each connection sends a heartbeat:
// under phoenix.js's 30 s, so a server idle timeout of 30 s or more never
// fires on an idle benchmark connection.
const DefaultHeartbeatInterval = 25 * time.Second

// Heartbeater sends every registered Conn a heartbeat once per interval,
// spread evenly over the interval so that 15,000 connections make 600
// small writes a second rather than a burst of 15,000. Safe for concurrent
// use.
type Heartbeater struct {
	interval time.Duration
	mu       sync.Mutex
	conns    []*Conn
}

// NewHeartbeater returns a Heartbeater; zero interval means
// DefaultHeartbeatInterval.
func NewHeartbeater(interval time.Duration) *Heartbeater {
	if interval <= 0 {
		interval = DefaultHeartbeatInterval
	}
	return &Heartbeater{interval: interval}
}

// Add registers c. Its first heartbeat comes within one interval.
func (h *Heartbeater) Add(c *Conn) {
	h.mu.Lock()
	h.conns = append(h.conns, c)
	h.mu.Unlock()
}

// Run sends heartbeats until ctx ends.
func (h *Heartbeater) Run(ctx context.Context) {
	const slots = 100 // one tick every interval/100
	t := time.NewTicker(h.interval / slots)
	defer t.Stop()
	for slot := 0; ; slot = (slot + 1) % slots {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		h.mu.Lock()
		batch := make([]*Conn, 0, len(h.conns)/slots+1)
		for i := slot; i < len(h.conns); i += slots {
			batch = append(batch, h.conns[i])
		}
		h.mu.Unlock()
		for _, c := range batch {
			if !c.Closed() {
				_ = c.Heartbeat()
			}
		}
	}
}
