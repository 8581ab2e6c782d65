package server

import (
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
)

// Stats counts what an Endpoint did. All fields are safe to read
// concurrently through their Load methods.
type Stats struct {
	connections atomic.Int64
	refused     atomic.Int64
	malformed   atomic.Int64
	tooBig      atomic.Int64
	joins       atomic.Int64
	joinsOK     atomic.Int64
	staleDrops  atomic.Int64
	lpSessions  atomic.Int64
	closes      [closeWriteError + 1]atomic.Int64
}

// Connections returns the number of open WebSocket connections.
func (s *Stats) Connections() int64 { return s.connections.Load() }

// LongPollSessions returns the number of live LongPoll sessions.
func (s *Stats) LongPollSessions() int64 { return s.lpSessions.Load() }

// Refused returns how many connection attempts were refused (bad upgrade,
// origin, vsn or connect hook).
func (s *Stats) Refused() int64 { return s.refused.Load() }

// Malformed returns how many connections were closed for malformed frames
// or messages.
func (s *Stats) Malformed() int64 { return s.malformed.Load() }

// TooBig returns how many connections were closed for an oversized message.
func (s *Stats) TooBig() int64 { return s.tooBig.Load() }

// Joins returns join attempts and successful joins.
func (s *Stats) Joins() (attempts, ok int64) { return s.joins.Load(), s.joinsOK.Load() }

// StaleDrops returns how many messages were dropped for an outdated join_ref.
func (s *Stats) StaleDrops() int64 { return s.staleDrops.Load() }

// Closed returns, per close reason label, how many connections ended so.
func (s *Stats) Closed() map[string]int64 {
	out := make(map[string]int64)
	for r := closeClient; r <= closeWriteError; r++ {
		if n := s.closes[r].Load(); n > 0 {
			out[r.String()] = n
		}
	}
	return out
}

func (s *Stats) closed(r closeReason) {
	if int(r) < len(s.closes) {
		s.closes[r].Add(1)
	}
}

func (s *Stats) hooks() channels.Hooks {
	return channels.Hooks{
		Joined: func(_, status string, _ time.Duration) {
			s.joins.Add(1)
			if status == "ok" {
				s.joinsOK.Add(1)
			}
		},
		Dropped: func(_, _ string) { s.staleDrops.Add(1) },
	}
}
