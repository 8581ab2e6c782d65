package redis

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// errNotConnected is Ping's answer before the first subscription.
var errNotConnected = errors.New("redis pubsub: not connected to redis yet")

// health is whether the node's subscription is live, as the receive
// goroutine sees it.
type health struct {
	up atomic.Bool

	mu      sync.Mutex
	lastErr error
	since   time.Time     // of the current state
	ch      chan struct{} // closed and replaced on every change
	wasUp   bool          // up at least once
}

func (h *health) init() {
	h.lastErr = errNotConnected
	h.since = time.Now()
	h.ch = make(chan struct{})
}

// err returns why Redis is unreachable, or nil while it is up.
func (h *health) err() error {
	if h.up.Load() {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.lastErr
}

// changed returns a channel closed at the next change.
func (h *health) changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.ch
}

// setUp marks the subscription live. It returns how long Redis was
// unreachable and whether it had been up before (a recovery rather than
// the first connection); ok is false when it was up already.
func (h *health) setUp(now time.Time) (down time.Duration, recovered, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up.Load() {
		return 0, false, false
	}
	down, recovered = now.Sub(h.since), h.wasUp
	h.up.Store(true)
	h.wasUp, h.lastErr, h.since = true, nil, now
	close(h.ch)
	h.ch = make(chan struct{})
	return down, recovered, true
}

// setDown marks Redis unreachable because of cause. It reports whether it
// was up until now.
func (h *health) setDown(now time.Time, cause error) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.lastErr = fmt.Errorf("redis unreachable: %w", cause)
	if !h.up.Load() {
		return false
	}
	h.up.Store(false)
	h.since = now
	close(h.ch)
	h.ch = make(chan struct{})
	return true
}

// everUp reports whether the subscription has been live at least once.
func (h *health) everUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wasUp
}
