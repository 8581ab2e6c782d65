package channels

import (
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// ErrClosed is returned by Socket methods once the channel has ended.
var ErrClosed = errors.New("channels: channel closed")

// Event names of the protocol.
const (
	EventJoin      = "phx_join"
	EventLeave     = "phx_leave"
	EventClose     = "phx_close"
	EventError     = "phx_error"
	EventHeartbeat = "heartbeat"
	// TopicPhoenix is the topic of heartbeats.
	TopicPhoenix = "phoenix"
)

// DefaultMaxChannels is the default limit of channels per connection, as in
// Phoenix (max_channels_per_transport).
const DefaultMaxChannels = 100

// Replies the Mux itself sends (docs/protocol.md §4).
var (
	replyUnmatched   = []byte(`{"reason":"unmatched topic"}`)
	replyTooMany     = []byte(`{"reason":"too many channels joined"}`)
	replyJoinCrashed = []byte(`{"reason":"join crashed"}`)
	payloadCrash     = []byte(`{"reason":"channel_crash"}`)
)

// Hooks observe a Mux, for metrics. Nil fields are skipped. They run on the
// dispatching goroutine and must not block.
type Hooks struct {
	// Joined is called after every join attempt; status is the reply status,
	// or "unmatched", "too_many" or "crashed" for the Mux's own refusals.
	Joined func(topic, status string, took time.Duration)
	// Terminated is called when a channel ends.
	Terminated func(topic string, reason Reason)
	// Dropped is called for a message dropped as stale (outdated join_ref).
	Dropped func(topic, event string)
}

// MuxConfig configures a Mux. Only Transport is required.
type MuxConfig struct {
	// Router maps topics to channels. Nil means every join is "unmatched topic".
	Router *Router
	// PubSub carries broadcasts. Nil means a private pubsub.Local.
	PubSub pubsub.PubSub
	// Serializer encodes frames for this connection. Nil means protocol.V2JSON.
	Serializer protocol.Serializer
	// Transport writes frames to the client.
	Transport Transport
	// Conn describes the connection.
	Conn Conn
	// MaxChannels limits joined channels. Zero means DefaultMaxChannels.
	MaxChannels int
	// Logger receives the Mux's logs. Nil means no logging.
	Logger *zerolog.Logger
	// Hooks observe the Mux.
	Hooks Hooks
}

// Mux is the per-connection channel multiplexer. The transport calls
// Dispatch with each decoded message, in arrival order, from one goroutine
// at a time; Dispatch handles it completely (a join is synchronous) before
// returning. Close ends every channel. Mux is safe for concurrent use.
type Mux struct {
	router      *Router
	pubsub      pubsub.PubSub
	ser         protocol.Serializer
	transport   Transport
	conn        Conn
	maxChannels int
	log         zerolog.Logger
	hooks       Hooks
	idSub       *idSubscriber

	mu       sync.Mutex
	channels []*Socket // joined channels: connections join few, so a slice beats a map in memory and lookups
	closed   bool
}

// NewMux returns a Mux for one connection. If conn.ID is set, the Mux
// subscribes to it so that a "disconnect" broadcast closes the connection.
func NewMux(cfg MuxConfig) *Mux {
	x := &Mux{
		router:      cfg.Router,
		pubsub:      cfg.PubSub,
		ser:         cfg.Serializer,
		transport:   cfg.Transport,
		conn:        cfg.Conn,
		maxChannels: cfg.MaxChannels,
		hooks:       cfg.Hooks,
		log:         zerolog.Nop(),
	}
	if x.pubsub == nil {
		x.pubsub = pubsub.NewLocal()
	}
	if x.ser == nil {
		x.ser = protocol.V2JSON
	}
	if x.maxChannels <= 0 {
		x.maxChannels = DefaultMaxChannels
	}
	if cfg.Logger != nil {
		x.log = *cfg.Logger
	}
	if x.conn.ID != "" {
		x.idSub = &idSubscriber{x}
		x.pubsub.Subscribe(x.conn.ID, x.idSub)
	}
	return x
}

// Conn returns the connection's description.
func (x *Mux) Conn() *Conn { return &x.conn }

// Serializer returns the connection's serializer.
func (x *Mux) Serializer() protocol.Serializer { return x.ser }

// Len returns the number of joined channels.
func (x *Mux) Len() int {
	x.mu.Lock()
	defer x.mu.Unlock()
	return len(x.channels)
}

// Dispatch handles one client message by the rules of docs/protocol.md §4.
func (x *Mux) Dispatch(msg protocol.Message) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	if msg.Topic == TopicPhoenix && msg.Event == EventHeartbeat {
		x.reply(protocol.Ref{}, msg.Ref, msg.Topic, OK(nil))
		return
	}
	s := x.lookup(msg.Topic)
	if msg.Event == EventJoin {
		x.join(msg, s)
		return
	}
	if s == nil {
		if msg.Event == EventLeave {
			x.reply(msg.JoinRef, msg.Ref, msg.Topic, OK(nil))
		} else {
			x.reply(protocol.Ref{}, msg.Ref, msg.Topic, Error(replyUnmatched))
		}
		return
	}
	if !msg.JoinRef.IsNull() && !msg.JoinRef.Equal(s.joinRef) {
		if x.hooks.Dropped != nil {
			x.hooks.Dropped(msg.Topic, msg.Event)
		}
		x.logConn(x.log.Debug()).Str("topic", msg.Topic).Str("event", msg.Event).Msg("dropped message with outdated join_ref")
		return
	}
	if msg.Event == EventLeave {
		x.leave(msg, s)
		return
	}
	x.handleIn(msg, s)
}

func (x *Mux) join(msg protocol.Message, old *Socket) {
	start := time.Now()
	status := ""
	defer func() {
		if x.hooks.Joined != nil {
			x.hooks.Joined(msg.Topic, status, time.Since(start))
		}
	}()
	rt := x.router.match(msg.Topic)
	if rt == nil {
		status = "unmatched"
		x.reply(protocol.Ref{}, msg.Ref, msg.Topic, Error(replyUnmatched))
		return
	}
	if old != nil {
		x.remove(old)
		x.terminate(old, ReasonDuplicateJoin)
	}
	// closeOld sends the old channel's phx_close, which follows the new join's
	// reply and precedes the new channel's output.
	closeOld := func() {
		if old != nil {
			x.sendControl(old.joinRef, msg.Topic, EventClose, nil)
		}
	}
	if len(x.channels) >= x.maxChannels {
		status = "too_many"
		x.reply(msg.JoinRef, msg.Ref, msg.Topic, Error(replyTooMany))
		closeOld()
		return
	}
	s := &Socket{mux: x, topic: msg.Topic, joinRef: msg.JoinRef, stamp: msg.JoinRef}
	if s.stamp.IsNull() {
		s.stamp = msg.Ref
	}
	reply, crashed := x.callJoin(s, rt, msg.Payload)
	if crashed {
		status = "crashed"
		s.setState(stateClosed)
		x.reply(msg.JoinRef, msg.Ref, msg.Topic, Error(replyJoinCrashed))
		closeOld()
		return
	}
	status = reply.Status
	x.reply(msg.JoinRef, msg.Ref, msg.Topic, reply)
	closeOld()
	if reply.Status != "ok" {
		s.setState(stateClosed)
		return
	}
	x.channels = append(x.channels, s)
	x.pubsub.Subscribe(msg.Topic, s)
	s.setState(stateJoined)
	if aj, ok := s.channel.(AfterJoiner); ok {
		x.afterJoin(s, aj)
	}
}

// afterJoin runs the channel's AfterJoin; a panic crashes the channel.
func (x *Mux) afterJoin(s *Socket, aj AfterJoiner) {
	defer func() {
		if r := recover(); r != nil {
			x.panicked("after_join", s.topic, r)
			x.remove(s)
			x.terminate(s, ReasonCrashed)
			x.sendControl(s.joinRef, s.topic, EventError, payloadCrash)
		}
	}()
	aj.AfterJoin(s)
}

// callJoin runs the route's Authorizers, then creates the channel and
// runs its Join, recovering a panic in any of them. A reply that could not
// be encoded counts as a crash.
func (x *Mux) callJoin(s *Socket, rt *route, payload []byte) (reply Reply, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			x.panicked("join", s.topic, r)
			crashed = true
		}
	}()
	if len(rt.authorize) > 0 {
		if err := authorizeJoin(rt.authorize, JoinRequest{Topic: s.topic, Payload: payload, Conn: &x.conn}); err != nil {
			x.logConn(x.log.Debug()).Str("topic", s.topic).Err(err).Msg("join refused")
			return ErrorFrom(err, ReasonUnauthorized), false
		}
	}
	s.channel = rt.factory(s.topic)
	s.filter, _ = s.channel.(Filter)
	s.route = rt
	reply = s.channel.Join(s, payload)
	if reply.err != nil {
		x.encodeFailed(s.topic, EventJoin, reply.err)
		return reply, true
	}
	return reply, false
}

func (x *Mux) leave(msg protocol.Message, s *Socket) {
	x.reply(s.stamp, msg.Ref, msg.Topic, OK(nil))
	x.remove(s)
	x.sendControl(s.joinRef, s.topic, EventClose, nil)
	x.terminate(s, ReasonLeft)
}

func (x *Mux) handleIn(msg protocol.Message, s *Socket) {
	res, crashed := x.callHandleIn(s, Inbound{Event: msg.Event, Payload: msg.Payload, Binary: msg.Binary, Ref: msg.Ref})
	if crashed {
		x.remove(s)
		x.terminate(s, ReasonCrashed)
		x.sendControl(s.joinRef, s.topic, EventError, payloadCrash)
		return
	}
	if res.Reply != nil {
		if res.Reply.err != nil {
			// Phoenix crashes on a reply it cannot encode.
			x.encodeFailed(s.topic, msg.Event, res.Reply.err)
			x.remove(s)
			x.terminate(s, ReasonCrashed)
			x.sendControl(s.joinRef, s.topic, EventError, payloadCrash)
			return
		}
		_ = s.ReplyTo(msg.Ref, *res.Reply)
	}
	switch res.Stop {
	case StopNormal:
		x.remove(s)
		x.terminate(s, ReasonStopped)
		x.sendControl(s.joinRef, s.topic, EventClose, nil)
	case StopError:
		x.remove(s)
		x.terminate(s, ReasonCrashed)
		x.sendControl(s.joinRef, s.topic, EventError, payloadCrash)
	}
}

func (x *Mux) callHandleIn(s *Socket, in Inbound) (res Result, crashed bool) {
	defer func() {
		if r := recover(); r != nil {
			x.panicked("handle_in "+in.Event, s.topic, r)
			crashed = true
		}
	}()
	return s.channel.HandleIn(s, in), false
}

// remove unregisters s from the connection and its topic.
func (x *Mux) remove(s *Socket) {
	for i, c := range x.channels {
		if c == s {
			last := len(x.channels) - 1
			x.channels[i], x.channels[last] = x.channels[last], nil
			x.channels = x.channels[:last]
			break
		}
	}
	x.pubsub.Unsubscribe(s.topic, s)
}

// lookup returns the joined channel of topic, or nil.
func (x *Mux) lookup(topic string) *Socket {
	for _, s := range x.channels {
		if s.topic == topic {
			return s
		}
	}
	return nil
}

// terminate runs the channel's Terminate; its pushes still go out, unless
// the connection closed.
func (x *Mux) terminate(s *Socket, reason Reason) {
	if reason == ReasonClosed {
		// The connection is gone: nothing more is sent, not even what
		// Terminate pushes (Phoenix's {:shutdown, :closed}).
		s.setState(stateClosed)
	} else {
		s.setState(stateClosing)
	}
	defer s.setState(stateClosed)
	defer func() {
		if r := recover(); r != nil {
			x.panicked("terminate", s.topic, r)
		}
	}()
	if x.hooks.Terminated != nil {
		x.hooks.Terminated(s.topic, reason)
	}
	s.channel.Terminate(s, reason)
}

// Close ends every channel with ReasonClosed (nothing more is sent) and
// unsubscribes the socket id. It is idempotent.
func (x *Mux) Close() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		return
	}
	x.closed = true
	if x.idSub != nil {
		x.pubsub.Unsubscribe(x.conn.ID, x.idSub)
	}
	for len(x.channels) > 0 {
		s := x.channels[len(x.channels)-1]
		x.remove(s)
		x.terminate(s, ReasonClosed)
	}
}

// reply sends [joinRef, ref, topic, "phx_reply", {"status","response"}].
func (x *Mux) reply(joinRef, ref protocol.Ref, topic string, r Reply) {
	x.send(&protocol.Message{Kind: protocol.Reply, JoinRef: joinRef, Ref: ref, Topic: topic, Event: protocol.EventReply, Status: r.Status, Payload: r.Response, Binary: r.Binary})
}

// sendControl sends phx_close or phx_error, whose ref is the join_ref.
func (x *Mux) sendControl(joinRef protocol.Ref, topic, event string, payload []byte) {
	x.send(&protocol.Message{Kind: protocol.Push, JoinRef: joinRef, Ref: joinRef, Topic: topic, Event: event, Payload: payload})
}

func (x *Mux) send(m *protocol.Message) {
	f, err := protocol.Encode(x.ser, m)
	if err != nil {
		x.encodeFailed(m.Topic, m.Event, err)
		return
	}
	x.transport.Send(f)
}

func (x *Mux) encodeFailed(topic, event string, err error) {
	x.logConn(x.log.Error()).Err(err).Str("topic", topic).Str("event", event).Msg("cannot encode message for this connection; dropped")
}

func (x *Mux) panicked(where, topic string, r any) {
	x.logConn(x.log.Error()).Str("topic", topic).Str("in", where).Str("panic", fmt.Sprint(r)).Bytes("stack", debug.Stack()).Msg("channel crashed")
}

// logConn adds the connection's fields to a log event; the Mux keeps no
// per-connection sub-logger, which would cost every connection its context
// buffer.
func (x *Mux) logConn(ev *zerolog.Event) *zerolog.Event {
	return ev.Str("transport", x.conn.Transport).Str("socket_id", x.conn.ID)
}

// idSubscriber closes the connection on a "disconnect" broadcast to its
// socket id; other events on the id topic are ignored.
type idSubscriber struct{ x *Mux }

func (d *idSubscriber) Deliver(b *pubsub.Broadcast) {
	if b.Event == EventDisconnect {
		d.x.transport.Disconnect()
	}
}
