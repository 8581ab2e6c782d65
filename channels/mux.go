package channels

import (
	"context"
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

// Hooks observe a Mux, for metrics. Nil fields are skipped. They run on
// the goroutine that handles the message concerned (see MuxConfig.Concurrent)
// and must not block.
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
	// Concurrent runs the callbacks of each channel on a goroutine of their
	// own while the channel has messages to handle, so that a slow Join or
	// HandleIn delays only its own channel, never the connection's other
	// channels nor its heartbeats: Dispatch returns once the message is
	// queued. An idle channel holds no goroutine. The endpoint sets it for
	// every connection, WebSocket and LongPoll.
	//
	// Zero means the goroutine that calls Dispatch runs the callbacks, and
	// Dispatch returns once the message has been handled (unless its channel
	// is busy on another goroutine, which then handles it in turn): the
	// behaviour a test or a transport that waits for each message wants.
	Concurrent bool
	// Logger receives the Mux's logs; nil means no logging. The Mux keeps
	// the pointer (connections share one logger): do not change it later.
	Logger *zerolog.Logger
	// Hooks observe the Mux.
	Hooks Hooks
}

// Bounds of the messages queued on a connection's channels (Concurrent):
// past them Dispatch waits for the channels to catch up, which stops the
// transport reading from a client that floods a slow channel (a WebSocket
// stops reading; a LongPoll POST waits, up to its window, see
// DispatchContext). A message larger than maxQueuedBytes is taken when
// nothing else is queued.
const (
	maxQueued      = 128
	maxQueuedBytes = 1 << 20
)

// Mux is the per-connection channel multiplexer. The transport calls
// Dispatch with each decoded message, in arrival order, and Close when the
// connection ends. Messages of one topic are handled in the order they
// arrived, one at a time; messages of different topics may be handled
// concurrently (see MuxConfig.Concurrent). Mux is safe for concurrent use.
type Mux struct {
	router      *Router
	pubsub      pubsub.PubSub
	ser         protocol.Serializer
	transport   Transport
	conn        Conn
	maxChannels int
	concurrent  bool
	log         *zerolog.Logger // shared with the endpoint: a Logger is 112 B
	hooks       Hooks
	idSub       *idSubscriber

	// mu guards channels, closed, the queue counters and every Socket's
	// lane. It is held briefly, never while a channel callback runs.
	mu          sync.Mutex
	channels    []*Socket // one per topic: connections join few, so a slice beats a map in memory and lookups
	closed      bool
	queued      int32      // messages in the channels' queues
	queuedBytes int32      // their payload bytes
	space       *sync.Cond // signalled when the queues shrink; made on first wait
}

// nopLogger is the logger of a Mux configured without one.
var nopLogger = zerolog.Nop()

// laneStatus is where a registered Socket's channel stands.
type laneStatus uint8

const (
	laneJoining laneStatus = iota // registered by Dispatch, join not handled yet
	laneJoined                    // the channel is live
	laneEnded                     // the channel ended (or was refused); the Socket stays registered until its inbox is handled
)

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
		concurrent:  cfg.Concurrent,
		hooks:       cfg.Hooks,
		log:         cfg.Logger,
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
	if x.log == nil {
		x.log = &nopLogger
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
	n := 0
	for _, s := range x.channels {
		if s.status == laneJoined {
			n++
		}
	}
	return n
}

// Dispatch handles one client message by the rules of docs/protocol.md §4.
// A heartbeat is answered at once, whatever the channels are doing; a
// message for a channel is handled on the channel's turn (see
// MuxConfig.Concurrent). The message's payload must stay unchanged until
// it has been handled: give each message its own buffer. Dispatch must not
// be called from a channel's callbacks.
func (x *Mux) Dispatch(msg protocol.Message) {
	t, _ := x.dispatch(context.Background(), msg)
	t.Go()
}

// DispatchTurn is Dispatch for a transport that can lend the goroutine
// that read msg: where a concurrent Mux would start msg's channel on a pool
// goroutine, it returns that channel's Turn for the caller to Run once it
// no longer needs the goroutine for reading. A transport that reads on
// demand (a WebSocket watched by the endpoint's poller) hands the socket
// back to its poller first, so that the next messages are read, and other
// channels' turns started, while this one runs: a slow channel still holds
// up no other. It saves a goroutine hand-off per request. Otherwise (a
// heartbeat, a message queued behind a running turn, a refusal, a Mux that
// is not concurrent) msg has been handled or queued, and the Turn is zero.
func (x *Mux) DispatchTurn(msg protocol.Message) Turn {
	t, _ := x.dispatch(context.Background(), msg)
	return t
}

// DispatchContext is Dispatch with a bound on the wait for room in the
// connection's queues: if ctx ends while they are full, msg is dropped
// unhandled and ctx's error returned. Once msg is queued, or its handling
// has begun, ctx no longer matters. A LongPoll POST uses it to answer
// within its window however slow the session's channels are.
func (x *Mux) DispatchContext(ctx context.Context, msg protocol.Message) error {
	t, err := x.dispatch(ctx, msg)
	t.Go()
	return err
}

// dispatch is DispatchContext, and returns the turn a concurrent Mux must
// start (or nothing); a ctx that never ends (Dispatch's) waits for room as
// long as it takes.
func (x *Mux) dispatch(ctx context.Context, msg protocol.Message) (Turn, error) {
	if msg.Topic == TopicPhoenix && msg.Event == EventHeartbeat {
		x.mu.Lock()
		closed := x.closed
		x.mu.Unlock()
		if !closed {
			x.reply(protocol.Ref{}, msg.Ref, msg.Topic, OK(nil))
		}
		return Turn{}, nil
	}
	x.mu.Lock()
	var s *Socket
	for {
		if x.closed {
			x.mu.Unlock()
			return Turn{}, nil
		}
		s = x.lookup(msg.Topic)
		if s == nil || !s.running {
			break
		}
		if x.full(len(msg.Payload)) {
			// Wait for room, then decide again: meanwhile the lane may have
			// emptied, or the topic changed hands.
			if ctx.Done() == nil {
				x.wait()
				continue
			}
			if err := ctx.Err(); err != nil {
				x.mu.Unlock()
				return Turn{}, err
			}
			// ctx's end wakes this wait like a shrinking queue does. The
			// wake-up takes x.mu, so it cannot slip in before Wait.
			stop := context.AfterFunc(ctx, x.wakeWaiters)
			x.wait()
			stop()
			continue
		}
		if s.queue == nil {
			s.queue = new([]protocol.Message)
		}
		*s.queue = append(*s.queue, msg)
		x.queued++
		x.queuedBytes += int32(len(msg.Payload))
		x.mu.Unlock()
		return Turn{}, nil
	}
	if s == nil {
		// No channel and nothing queued on the topic: the Mux answers
		// alone, or registers the channel of a join.
		var rt *route
		status := ""
		switch {
		case msg.Event != EventJoin:
		case x.router.match(msg.Topic) == nil:
			status = "unmatched"
		case len(x.channels) >= x.maxChannels:
			status = "too_many"
		default:
			rt = x.router.match(msg.Topic)
		}
		if rt == nil {
			x.mu.Unlock()
			x.refuse(msg, status)
			return Turn{}, nil
		}
		s = &Socket{mux: x, topic: msg.Topic, route: rt}
		x.channels = append(x.channels, s)
	}
	s.running = true
	x.mu.Unlock()
	if x.concurrent {
		return Turn{x, s, msg}, nil // lanes.go
	}
	x.run(s, msg)
	return Turn{}, nil
}

// refuse answers a message for a topic without a channel: a join the Mux
// refuses (status "unmatched" or "too_many"), a leave, or any other event.
func (x *Mux) refuse(msg protocol.Message, status string) {
	switch {
	case status == "too_many":
		x.reply(msg.JoinRef, msg.Ref, msg.Topic, Error(replyTooMany))
	case msg.Event == EventLeave:
		x.reply(msg.JoinRef, msg.Ref, msg.Topic, OK(nil))
	default:
		x.reply(protocol.Ref{}, msg.Ref, msg.Topic, Error(replyUnmatched))
	}
	if status != "" && x.hooks.Joined != nil {
		x.hooks.Joined(msg.Topic, status, 0)
	}
}

// full reports whether the connection's queue has no room for a message
// of n payload bytes; x.mu is held.
func (x *Mux) full(n int) bool {
	return x.queued > 0 && (x.queued >= maxQueued || int(x.queuedBytes)+n > maxQueuedBytes)
}

// wait waits until the queue shrinks or the Mux closes; x.mu is held.
func (x *Mux) wait() {
	if x.space == nil {
		x.space = sync.NewCond(&x.mu)
	}
	x.space.Wait()
}

// wakeWaiters wakes the waits for room, to look at their contexts.
func (x *Mux) wakeWaiters() {
	x.mu.Lock()
	if x.space != nil {
		x.space.Broadcast()
	}
	x.mu.Unlock()
}

// run handles msg, then the messages queued on s's lane meanwhile, until
// the lane is empty. A join on a topic already registered replaces the
// topic's Socket; the lane moves to the new one.
func (x *Mux) run(s *Socket, msg protocol.Message) {
	for {
		s = x.handle(s, msg)
		x.mu.Lock()
		if x.closed {
			s.running = false
			x.mu.Unlock()
			x.end(s, ReasonClosed)
			return
		}
		if s.queue == nil {
			s.running = false
			if s.status == laneEnded {
				x.unregister(s)
			}
			x.mu.Unlock()
			return
		}
		q := *s.queue
		msg = q[0]
		q[0] = protocol.Message{}
		if len(q) == 1 {
			s.queue = nil
		} else {
			*s.queue = q[1:]
		}
		x.queued--
		x.queuedBytes -= int32(len(msg.Payload))
		if x.space != nil {
			x.space.Broadcast()
		}
		x.mu.Unlock()
	}
}

// handle handles one message of s's topic on s's lane, and returns the
// topic's Socket afterwards.
func (x *Mux) handle(s *Socket, msg protocol.Message) *Socket {
	x.mu.Lock()
	status := s.status
	x.mu.Unlock()
	switch {
	case msg.Event == EventJoin:
		return x.join(msg, s, status)
	case status != laneJoined:
		// The channel ended, or its join was refused, before this message.
		x.refuse(msg, "")
	case !msg.JoinRef.IsNull() && !msg.JoinRef.Equal(s.joinRef):
		if x.hooks.Dropped != nil {
			x.hooks.Dropped(msg.Topic, msg.Event)
		}
		x.logConn(x.log.Debug()).Str("topic", msg.Topic).Str("event", msg.Event).Msg("dropped message with outdated join_ref")
	case msg.Event == EventLeave:
		x.leave(msg, s)
	default:
		x.handleIn(msg, s)
	}
	return s
}

// join handles a phx_join on s's lane: the join that registered s (status
// laneJoining), a join after s's channel ended, or a duplicate join of a
// live channel, which ends it. The last two go to a new Socket, which takes
// over the lane.
func (x *Mux) join(msg protocol.Message, s *Socket, status laneStatus) *Socket {
	start := time.Now()
	var old *Socket
	if status != laneJoining {
		ns := &Socket{mux: x, topic: msg.Topic, route: s.route}
		x.mu.Lock()
		for i, c := range x.channels {
			if c == s {
				x.channels[i] = ns
			}
		}
		ns.queue, ns.running = s.queue, true
		s.queue, s.running = nil, false
		x.mu.Unlock()
		if status == laneJoined {
			old = s
			x.end(old, ReasonDuplicateJoin)
		}
		s = ns
	}
	s.joinRef, s.stamp = msg.JoinRef, msg.JoinRef
	if s.stamp.IsNull() {
		s.stamp = msg.Ref
	}
	reply, crashed := x.callJoin(s, s.route, msg.Payload)
	result := reply.Status
	if crashed {
		result, reply = "crashed", Error(replyJoinCrashed)
	}
	joined := !crashed && reply.Status == StatusOK
	closed := false
	if joined {
		x.mu.Lock()
		s.status = laneJoined
		closed = x.closed
		x.mu.Unlock()
		if !closed {
			// Subscribed before the reply, as Phoenix's channel subscribes
			// before it answers the join: a client that has the reply gets
			// every later broadcast (a transport that acknowledges a
			// message once queued, as LongPoll does, makes this visible).
			// The Socket holds broadcasts back until the reply is out.
			x.pubsub.Subscribe(msg.Topic, s.subscriber())
		}
	}
	x.reply(msg.JoinRef, msg.Ref, msg.Topic, reply)
	if old != nil {
		// The old channel's phx_close follows the new join's reply and
		// precedes the new channel's output.
		x.sendControl(old.joinRef, msg.Topic, EventClose, nil)
	}
	if x.hooks.Joined != nil {
		x.hooks.Joined(msg.Topic, result, time.Since(start))
	}
	if !joined {
		s.setState(stateClosed)
		x.mu.Lock()
		s.status = laneEnded
		x.mu.Unlock()
		return s
	}
	if closed {
		return s // run ends it: Terminate, nothing sent
	}
	s.setState(stateJoined)
	if aj, ok := s.channel.(AfterJoiner); ok {
		x.afterJoin(s, aj)
	}
	return s
}

// afterJoin runs the channel's AfterJoin; a panic crashes the channel.
func (x *Mux) afterJoin(s *Socket, aj AfterJoiner) {
	defer func() {
		if r := recover(); r != nil {
			x.panicked("after_join", s.topic, r)
			x.crash(s)
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
	reply = s.channel.Join(s, payload)
	if reply.err != nil {
		x.encodeFailed(s.topic, EventJoin, reply.err)
		return reply, true
	}
	return reply, false
}

func (x *Mux) leave(msg protocol.Message, s *Socket) {
	x.reply(s.stamp, msg.Ref, msg.Topic, OK(nil))
	if x.stop(s) {
		x.sendControl(s.joinRef, s.topic, EventClose, nil)
		x.terminate(s, ReasonLeft)
	}
}

func (x *Mux) handleIn(msg protocol.Message, s *Socket) {
	res, crashed := x.callHandleIn(s, Inbound{Event: msg.Event, Payload: msg.Payload, Binary: msg.Binary, Ref: msg.Ref})
	if !crashed && res.Reply != nil && res.Reply.err != nil {
		// Phoenix crashes on a reply it cannot encode.
		x.encodeFailed(s.topic, msg.Event, res.Reply.err)
		crashed = true
	}
	if crashed {
		x.crash(s)
		return
	}
	if res.Reply != nil {
		_ = s.ReplyTo(msg.Ref, *res.Reply)
	}
	switch res.Stop {
	case StopNormal:
		if x.stop(s) {
			x.terminate(s, ReasonStopped)
			x.sendControl(s.joinRef, s.topic, EventClose, nil)
		}
	case StopError:
		x.crash(s)
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

// crash ends s's channel as crashed: Terminate, then phx_error.
func (x *Mux) crash(s *Socket) {
	if x.stop(s) {
		x.terminate(s, ReasonCrashed)
		x.sendControl(s.joinRef, s.topic, EventError, payloadCrash)
	}
}

// end ends s's channel for reason, if it is live: Terminate, and nothing
// sent for the Mux.
func (x *Mux) end(s *Socket, reason Reason) {
	if x.stop(s) {
		x.terminate(s, reason)
	}
}

// stop marks s's channel ended and unsubscribes it, and reports whether it
// was live: the caller then terminates it. The Socket stays registered
// until its lane is empty, so that the topic's later messages are answered
// in order.
func (x *Mux) stop(s *Socket) bool {
	x.mu.Lock()
	live := s.status == laneJoined
	s.status = laneEnded
	x.mu.Unlock()
	if live {
		x.pubsub.Unsubscribe(s.topic, s.subscriber())
	}
	return live
}

// unregister removes s from the connection's channels; x.mu is held.
func (x *Mux) unregister(s *Socket) {
	for i, c := range x.channels {
		if c == s {
			last := len(x.channels) - 1
			x.channels[i], x.channels[last] = x.channels[last], nil
			x.channels = x.channels[:last]
			return
		}
	}
}

// lookup returns the registered Socket of topic, or nil; x.mu is held.
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
// unsubscribes the socket id. A channel that is idle ends before Close
// returns; one busy on another goroutine (MuxConfig.Concurrent) ends as
// soon as its current callback returns, and its queued messages are
// dropped. Close is idempotent.
func (x *Mux) Close() {
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return
	}
	x.closed = true
	var idle, busy []*Socket
	for _, s := range x.channels {
		s.queue = nil
		if s.running {
			busy = append(busy, s)
		} else {
			idle = append(idle, s)
		}
	}
	x.channels = nil
	x.queued, x.queuedBytes = 0, 0
	if x.space != nil {
		x.space.Broadcast()
	}
	x.mu.Unlock()
	if x.idSub != nil {
		x.pubsub.Unsubscribe(x.conn.ID, x.idSub)
	}
	for _, s := range busy {
		s.setState(stateClosed) // what the callback under way sends is dropped
	}
	for i := len(idle) - 1; i >= 0; i-- {
		x.end(idle[i], ReasonClosed)
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
