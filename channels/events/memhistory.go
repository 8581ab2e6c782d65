package events

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// HistoryConfig configures a MemoryHistory (and the bounds of other
// histories). The zero value works.
type HistoryConfig struct {
	// Size is the most events kept per room; the oldest goes when a new
	// one comes. Zero means DefaultHistorySize (100).
	Size int
	// TTL is how long an event is kept; a room whose newest event is older
	// is forgotten. Zero means DefaultHistoryTTL (5 minutes).
	TTL time.Duration
	// Now returns the current time. Zero means time.Now.
	Now func() time.Time
}

func (c HistoryConfig) withDefaults() HistoryConfig {
	if c.Size <= 0 {
		c.Size = DefaultHistorySize
	}
	if c.TTL <= 0 {
		c.TTL = DefaultHistoryTTL
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// MemoryHistory is the History of one node: each room's events in a ring
// in this process, bounded by count and by age. It is safe for concurrent
// use. Besides the event's bytes (shared with the broadcast, not copied),
// an event costs its id and type strings and about 80 bytes.
type MemoryHistory struct {
	cfg HistoryConfig

	mu        sync.RWMutex // guards rooms; held for reading while a ring is written, so a sweep never drops a ring being written
	rooms     map[string]*ring
	nextSweep atomic.Int64 // unix nanoseconds
}

// ring is one room's events, oldest first from start.
type ring struct {
	mu     sync.Mutex
	recs   []stored // grows to Size, then wraps
	start  int      // index of the oldest once full
	newest int64    // unix nanoseconds of the newest event
}

// stored is a Record and when it was published.
type stored struct {
	Record
	at int64 // unix nanoseconds
}

// NewMemoryHistory returns an empty MemoryHistory.
func NewMemoryHistory(cfg HistoryConfig) *MemoryHistory {
	return &MemoryHistory{cfg: cfg.withDefaults(), rooms: make(map[string]*ring)}
}

// Publish implements History: rec is in the ring before b is published.
func (m *MemoryHistory) Publish(ps pubsub.PubSub, room string, rec Record, b *pubsub.Broadcast) error {
	now := m.cfg.Now().UnixNano()
	if now >= m.nextSweep.Load() {
		m.sweep(now)
	}
	m.mu.RLock()
	r := m.rooms[room]
	for r == nil { // a sweep may drop a new ring before it has an event: try again
		m.mu.RUnlock()
		m.mu.Lock()
		if m.rooms[room] == nil {
			m.rooms[room] = &ring{}
		}
		m.mu.Unlock()
		m.mu.RLock()
		r = m.rooms[room]
	}
	r.add(stored{rec, now}, m.cfg.Size)
	m.mu.RUnlock()
	return ps.Publish(b)
}

func (r *ring) add(s stored, size int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.newest = s.at
	if n := len(r.recs); n > 0 {
		// A room's events share a few types: keep one copy of each
		// (the string made for this event is then garbage).
		if prev := &r.recs[(r.start+n-1)%n]; prev.Type == s.Type {
			s.Type = prev.Type
		}
	}
	if len(r.recs) < size {
		if len(r.recs) == cap(r.recs) { // grow by doubling, but never past size
			grown := make([]stored, len(r.recs), min(max(2*cap(r.recs), 4), size))
			copy(grown, r.recs)
			r.recs = grown
		}
		r.recs = append(r.recs, s)
		return
	}
	r.recs[r.start] = s
	r.start = (r.start + 1) % len(r.recs)
}

// sweep forgets the rooms whose newest event expired, at most once per
// half TTL.
func (m *MemoryHistory) sweep(now int64) {
	next := m.nextSweep.Load()
	if now < next || !m.nextSweep.CompareAndSwap(next, now+int64(m.cfg.TTL/2)) {
		return
	}
	oldest := now - int64(m.cfg.TTL)
	m.mu.Lock()
	defer m.mu.Unlock()
	for room, r := range m.rooms {
		r.mu.Lock()
		expired := r.newest < oldest
		r.mu.Unlock()
		if expired {
			delete(m.rooms, room)
		}
	}
}

// Since implements History. It never blocks on I/O; ctx is not used.
func (m *MemoryHistory) Since(_ context.Context, room, after string, limit int) (Page, error) {
	m.mu.RLock()
	r := m.rooms[room]
	m.mu.RUnlock()
	if r == nil {
		return Page{Found: after == ""}, nil
	}
	oldest := m.cfg.Now().UnixNano() - int64(m.cfg.TTL)
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.recs)
	at := func(i int) *stored { return &r.recs[(r.start+i)%n] } // i-th oldest
	var page Page
	if n > 0 {
		page.Through = at(n - 1).Seq
	}
	// from is the index of the first event of the page: after the newest
	// event with the id (with duplicates, the newest wins), or the oldest
	// unexpired one.
	from := -1
	first := n
	for i := n - 1; i >= 0 && at(i).at >= oldest; i-- {
		if after != "" && at(i).ID == after {
			from = i + 1
			break
		}
		first = i
	}
	if after == "" {
		from = first
	} else if from < 0 {
		return page, nil
	}
	page.Found = true
	count := n - from
	if limit > 0 && count > limit {
		count, page.More = limit, true
	}
	page.Events = make([]Record, count)
	for k := range page.Events {
		page.Events[k] = at(from + k).Record
	}
	return page, nil
}
