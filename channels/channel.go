package channels

import (
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// Channel handles one joined topic on one connection. A Router creates a new
// Channel for every join, so a Channel keeps its per-join state in itself.
//
// Concurrency: the Mux calls Join, AfterJoin, HandleIn and Terminate of one
// channel one at a time, in the order the channel's messages arrived, with
// no lock of the Mux held, so a channel needs no lock for state only these
// methods touch. Each channel of an endpoint's connection, WebSocket or
// LongPoll, runs them on a goroutine of its own while it has messages
// (there is none for an idle channel), so they may block: on a database,
// say. A slow channel then delays its own later messages only, never the
// connection's other channels nor its heartbeats, as a channel process in
// Phoenix. (With a Mux whose MuxConfig.Concurrent is off, the goroutine
// that delivers the message runs them.) A Filter's FilterBroadcast, and
// whatever goroutines the channel starts itself, run concurrently with
// these methods: state they share needs a lock or atomics.
//
// A panic in any of them is recovered: in Join it refuses the join with
// "join crashed"; in AfterJoin or HandleIn it runs Terminate with
// ReasonCrashed and sends phx_error {"reason":"channel_crash"}, while the
// connection and its other channels live on.
type Channel interface {
	// Join decides a phx_join with its payload (raw JSON). A Reply with status
	// "ok" joins; any other status refuses the join with that reply.
	Join(s *Socket, payload []byte) Reply
	// HandleIn handles any other event the client sends on the topic.
	HandleIn(s *Socket, in Inbound) Result
	// Terminate runs once when a joined channel ends, for the reason given.
	// Pushes made here still reach the client when the connection is open.
	Terminate(s *Socket, reason Reason)
}

// Filter is implemented by channels that decide, per subscriber, what a
// broadcast on their topic becomes (Phoenix's intercept/handle_out). The
// route's Intercept option limits it to the events named.
//
// Concurrency: FilterBroadcast runs on the publisher's goroutine (the
// HandleIn of another channel, a server goroutine, a cluster adapter's
// receiver), while the PubSub holds its subscription lock, concurrently
// with this channel's own methods and with the filters of the other
// subscribers. It must be safe for concurrent use, must not block (every
// subscriber after it waits), and must not publish, subscribe or
// unsubscribe (pubsub.Local would deadlock); s.Push is fine.
type Filter interface {
	// FilterBroadcast returns whether b goes to this channel's client as it
	// is. To rewrite it, push something else with s.Push and return false.
	// pubsub.Decode reads b's payload as a Go value, decoded once for all
	// subscribers.
	FilterBroadcast(s *Socket, b *pubsub.Broadcast) bool
}

// AfterJoiner is implemented by channels that act once joined, like
// Phoenix's send(self(), :after_join) idiom: AfterJoin runs after the join
// reply went out and the socket subscribed to its topic, so a state pushed
// here (presence_state, say) cannot miss a broadcast made meanwhile. It runs
// as the Channel's methods do (see Channel), right after Join and before
// the channel's next message; a panic is handled as in HandleIn.
type AfterJoiner interface {
	AfterJoin(s *Socket)
}

// Inbound is a client message delivered to HandleIn.
type Inbound struct {
	Event   string
	Payload []byte // raw JSON, or raw bytes when Binary
	Binary  bool
	Ref     protocol.Ref // for Socket.ReplyTo, to reply later
}

// Reply is a status and a response. Response is a raw JSON object (nil
// means {}), or raw bytes when Binary.
//
// OK and Error take raw JSON; OKJSON, ErrorJSON, JSON, ErrorReason and
// ErrorFrom build one from a Go value or an error.
type Reply struct {
	Status   string
	Response []byte
	Binary   bool

	err error // from JSON: the response could not be encoded
}

// OK returns an "ok" reply with response, a raw JSON object (nil means {}).
func OK(response []byte) Reply { return Reply{Status: StatusOK, Response: response} }

// Error returns an "error" reply with response, a raw JSON object.
func Error(response []byte) Reply { return Reply{Status: StatusError, Response: response} }

// Result is what HandleIn returns: an optional reply, and whether the
// channel stops.
type Result struct {
	Reply *Reply
	// Stop ends the channel after the reply: StopNormal sends phx_close,
	// StopError sends phx_error.
	Stop Stop
}

// Stop says whether and how a channel stops after HandleIn.
type Stop uint8

const (
	// Continue keeps the channel joined.
	Continue Stop = iota
	// StopNormal stops the channel and closes it on the client (phx_close;
	// phoenix.js does not rejoin).
	StopNormal
	// StopError stops the channel as crashed (phx_error; phoenix.js rejoins).
	StopError
)

// Replied returns a Result that replies r and keeps the channel.
func Replied(r Reply) Result { return Result{Reply: &r} }

// NoReply returns a Result without reply; the channel may reply later with
// Socket.ReplyTo.
func NoReply() Result { return Result{} }

// Reason says why a channel terminated.
type Reason uint8

const (
	// ReasonLeft: the client sent phx_leave.
	ReasonLeft Reason = iota + 1
	// ReasonClosed: the connection closed.
	ReasonClosed
	// ReasonDuplicateJoin: the client joined the same topic again.
	ReasonDuplicateJoin
	// ReasonStopped: HandleIn returned StopNormal.
	ReasonStopped
	// ReasonCrashed: HandleIn panicked or returned StopError.
	ReasonCrashed
)

// String returns the reason as Phoenix names it.
func (r Reason) String() string {
	switch r {
	case ReasonLeft:
		return "left"
	case ReasonClosed:
		return "closed"
	case ReasonDuplicateJoin:
		return "duplicate_join"
	case ReasonStopped:
		return "normal"
	case ReasonCrashed:
		return "crashed"
	}
	return "unknown"
}
