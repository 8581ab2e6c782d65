// Package lograte keeps a storm of the same log line from flooding the log:
// per key, Burst lines per Interval go through, and the first line of the
// next interval carries how many were suppressed in between (as
// nats-server's RateLimitWarnf and centrifuge's log handler do).
package lograte

import (
	"sync"
	"time"
)

// Defaults of Limiter.
const (
	DefaultBurst    = 10
	DefaultInterval = 10 * time.Second
)

// Limiter decides which lines of each key are logged. The zero value works
// (DefaultBurst lines per DefaultInterval). It is safe for concurrent use.
//
// Keys should be a small fixed set (the message texts): each key seen is
// remembered.
type Limiter struct {
	// Burst is how many lines of one key go through per Interval. Zero means
	// DefaultBurst.
	Burst int
	// Interval is the length of a window. Zero means DefaultInterval.
	Interval time.Duration
	// Now returns the time. Zero means time.Now.
	Now func() time.Time

	mu   sync.Mutex
	keys map[string]*window
}

type window struct {
	start      time.Time
	logged     int
	suppressed int // in this window and earlier ones, not reported yet
}

// Allow reports whether a line of key may be logged now and, when it may,
// how many lines of key were suppressed since the last one logged (log the
// count with it).
func (l *Limiter) Allow(key string) (ok bool, suppressed int) {
	burst, interval, now := l.Burst, l.Interval, time.Now
	if burst <= 0 {
		burst = DefaultBurst
	}
	if interval <= 0 {
		interval = DefaultInterval
	}
	if l.Now != nil {
		now = l.Now
	}
	t := now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.keys == nil {
		l.keys = make(map[string]*window)
	}
	w := l.keys[key]
	if w == nil {
		w = &window{start: t}
		l.keys[key] = w
	}
	if t.Sub(w.start) >= interval {
		w.start, w.logged = t, 0
	}
	if w.logged >= burst {
		w.suppressed++
		return false, 0
	}
	w.logged++
	suppressed, w.suppressed = w.suppressed, 0
	return true, suppressed
}
