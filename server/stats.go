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
	closes      [closeReasonEnd]atomic.Int64
	webSocket   transportStats
	longPoll    transportStats

	lpForwarded     atomic.Int64
	lpOwnerGone     atomic.Int64
	lpForwardFailed atomic.Int64
}

// transportStats counts the messages of one transport's connections.
type transportStats struct {
	msgsIn  atomic.Int64
	msgsOut atomic.Int64
}

// Transport names a transport as the connect hook (ConnectRequest.Transport),
// channels (channels.Conn.Transport), logs and metric labels spell it.
type Transport string

// The transports.
const (
	TransportWebSocket Transport = "websocket"
	TransportLongPoll  Transport = "longpoll"
)

// Transports returns every transport, for metrics that want each series.
func Transports() []Transport { return []Transport{TransportWebSocket, TransportLongPoll} }

// transport returns the counters of t, or nil for an unknown transport.
func (s *Stats) transport(t Transport) *transportStats {
	switch t {
	case TransportWebSocket:
		return &s.webSocket
	case TransportLongPoll:
		return &s.longPoll
	}
	return nil
}

// Messages returns how many messages connections of transport t received
// from clients (decoded, malformed ones excluded) and sent to them (frames
// written or handed to a poll). An unknown transport has none.
func (s *Stats) Messages(t Transport) (in, out int64) {
	ts := s.transport(t)
	if ts == nil {
		return 0, 0
	}
	return ts.msgsIn.Load(), ts.msgsOut.Load()
}

// JoinStatus is the outcome of a join as a metric label: the status the
// Mux reports to channels.Hooks.Joined, with the statuses a channel may
// invent folded into JoinOther.
type JoinStatus uint8

// The join statuses.
const (
	JoinOK        JoinStatus = iota + 1 // "ok": joined
	JoinError                           // "error": the channel refused the join
	JoinUnmatched                       // "unmatched": no route for the topic
	JoinTooMany                         // "too_many": the connection is at MaxChannels
	JoinCrashed                         // "crashed": the channel's Join panicked
	JoinOther                           // "other": the channel replied with a status of its own

	joinStatusEnd // one past the last status
)

// joinStatusLabels are the labels of the join statuses, as the Mux spells
// the status (channels.StatusOK, channels.StatusError, and its own
// refusals).
var joinStatusLabels = [joinStatusEnd]string{
	JoinOK:        channels.StatusOK,
	JoinError:     channels.StatusError,
	JoinUnmatched: channels.JoinUnmatched,
	JoinTooMany:   channels.JoinTooMany,
	JoinCrashed:   channels.JoinCrashed,
	JoinOther:     "other",
}

// JoinStatuses returns every join status, in order, for metrics that want
// each series from the start.
func JoinStatuses() []JoinStatus {
	out := make([]JoinStatus, 0, joinStatusEnd-1)
	for s := JoinOK; s < joinStatusEnd; s++ {
		out = append(out, s)
	}
	return out
}

// ParseJoinStatus returns the JoinStatus of status, as channels.Hooks.Joined
// reports it: JoinOther for a status of the channel's own.
func ParseJoinStatus(status string) JoinStatus {
	for s := JoinOK; s < JoinOther; s++ {
		if joinStatusLabels[s] == status {
			return s
		}
	}
	return JoinOther
}

// String returns the metric label: "ok", "error", "unmatched", ...
func (s JoinStatus) String() string {
	if s == 0 || s >= joinStatusEnd {
		return "unknown"
	}
	return joinStatusLabels[s]
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

// Closed returns, per close reason label (CloseReason.String), how many
// connections ended so; reasons none ended for are left out.
func (s *Stats) Closed() map[string]int64 {
	out := make(map[string]int64)
	for r := CloseClient; r < closeReasonEnd; r++ {
		if n := s.closes[r].Load(); n > 0 {
			out[r.String()] = n
		}
	}
	return out
}

// ClosedFor returns how many connections ended for reason r.
func (s *Stats) ClosedFor(r CloseReason) int64 {
	if r >= closeReasonEnd {
		return 0
	}
	return s.closes[r].Load()
}

func (s *Stats) closed(r CloseReason) {
	if r < closeReasonEnd {
		s.closes[r].Add(1)
	}
}

// hooks returns the Mux hooks that count joins and drops, then call
// user's.
func (s *Stats) hooks(user channels.Hooks) channels.Hooks {
	return channels.Hooks{
		Joined: func(topic, status string, took time.Duration) {
			s.joins.Add(1)
			if status == channels.StatusOK {
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
