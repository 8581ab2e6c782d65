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
	msgsIn      [numTransports]atomic.Int64
	msgsOut     [numTransports]atomic.Int64

	lpForwarded     atomic.Int64
	lpOwnerGone     atomic.Int64
	lpForwardFailed atomic.Int64
}

// Transport indexes of the per-transport counters.
const (
	transportWebSocket = iota
	transportLongPoll
	numTransports
)

var transportNames = [numTransports]string{"websocket", "longpoll"}

func transportIndex(name string) (int, bool) {
	for i, n := range transportNames {
		if n == name {
			return i, true
		}
	}
	return 0, false
}

// Messages returns how many messages connections of transport ("websocket"
// or "longpoll") received from clients (decoded, malformed ones excluded)
// and sent to them (frames written or handed to a poll).
func (s *Stats) Messages(transport string) (in, out int64) {
	i, ok := transportIndex(transport)
	if !ok {
		return 0, 0
	}
	return s.msgsIn[i].Load(), s.msgsOut[i].Load()
}

// CloseReasons returns every close reason label Closed may report, for
// metrics that want each series from the start.
func CloseReasons() []string {
	out := make([]string, 0, closeWriteError)
	for r := closeClient; r <= closeWriteError; r++ {
		out = append(out, r.String())
	}
	return out
}

// Connections returns the number of open WebSocket connections.
func (s *Stats) Connections() int64 { return s.connections.Load() }

// LongPollSessions returns the number of live LongPoll sessions.
func (s *Stats) LongPollSessions() int64 { return s.lpSessions.Load() }

// LongPollForwards returns how many LongPoll requests this node forwarded
// through the Relay to the node that owns their session, and how many of
// those failed because the owner was gone (ownerGone: its clients open new
// sessions, as after a restart) or did not answer in time or at all
// (failed: the cluster is stalled or broken). A client that leaves while
// its request is forwarded counts as neither.
func (s *Stats) LongPollForwards() (forwarded, ownerGone, failed int64) {
	return s.lpForwarded.Load(), s.lpOwnerGone.Load(), s.lpForwardFailed.Load()
}

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

// hooks returns the Mux hooks that count joins and drops, then call
// user's.
func (s *Stats) hooks(user channels.Hooks) channels.Hooks {
	return channels.Hooks{
		Joined: func(topic, status string, took time.Duration) {
			s.joins.Add(1)
			if status == "ok" {
				s.joinsOK.Add(1)
			}
			if user.Joined != nil {
				user.Joined(topic, status, took)
			}
		},
		Terminated: user.Terminated,
		Dropped: func(topic, event string) {
			s.staleDrops.Add(1)
			if user.Dropped != nil {
				user.Dropped(topic, event)
			}
		},
	}
}
