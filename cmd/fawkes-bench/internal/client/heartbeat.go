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

// Run sends heartbeats until ctx ends. A cursor walks the connections at
// len(conns) per interval, so a late or dropped tick delays heartbeats but
// never skips one.
func (h *Heartbeater) Run(ctx context.Context) {
	t := time.NewTicker(max(h.interval/100, time.Millisecond))
	defer t.Stop()
	last := time.Now()
	cursor, credit := 0, 0.0
	var batch []*Conn
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			h.mu.Lock()
			n := len(h.conns)
			credit += float64(n) * float64(now.Sub(last)) / float64(h.interval)
			last = now
			k := min(int(credit), n)
			credit -= float64(k)
			batch = batch[:0]
			for range k {
				cursor %= n
				batch = append(batch, h.conns[cursor])
				cursor++
			}
			h.mu.Unlock()
			for _, c := range batch {
				if !c.Closed() {
					_ = c.Heartbeat()
				}
			}
		}
	}
}
