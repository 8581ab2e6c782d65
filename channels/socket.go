package channels

import (
	"sync"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// Socket is a channel's handle on its topic and connection. Its methods are
// safe for concurrent use: a channel may push from its own goroutines.
type Socket struct {
	mux     *Mux
	topic   string
	joinRef protocol.Ref // the raw join_ref of the phx_join (may be null)
	stamp   protocol.Ref // join_ref || ref: what pushes and replies carry
	channel Channel
	filter  Filter // channel as a Filter, or nil
	route   *route // the route joined through

	mu    sync.Mutex
	state socketState
	// The channel's lane (see Mux.run), guarded by mux.mu. The two flags
	// sit in the padding after state, and the queue exists only while
	// messages wait: an idle channel pays one nil pointer for its lane.
	running bool                // a goroutine handles the channel's messages
	status  laneStatus          // joining, joined, ended
	queue   *[]protocol.Message // messages waiting for the running goroutine

	pending []protocol.Frame // output made while joining, sent after the join reply
}

type socketState uint8

const (
	stateJoining socketState = iota
	stateJoined
	stateClosing // terminating: pushes still go out
	stateClosed
)

// Topic returns the channel's topic.
func (s *Socket) Topic() string { return s.topic }

// JoinRef returns the ref every push and reply of this channel carries.
func (s *Socket) JoinRef() protocol.Ref { return s.stamp }

// Conn returns the connection's description.
func (s *Socket) Conn() *Conn { return &s.mux.conn }

// Push sends event with a JSON object payload to this channel's client:
// [join_ref, null, topic, event, payload].
func (s *Socket) Push(event string, payload []byte) error {
	return s.send(&protocol.Message{Kind: protocol.Push, JoinRef: s.stamp, Topic: s.topic, Event: event, Payload: payload})
}

// PushBinary sends event with raw bytes as a V2 binary push frame.
func (s *Socket) PushBinary(event string, payload []byte) error {
	return s.send(&protocol.Message{Kind: protocol.Push, JoinRef: s.stamp, Topic: s.topic, Event: event, Payload: payload, Binary: true})
}

// ReplyTo replies to the client message with ref, possibly long after
// HandleIn returned (and possibly more than once, as Phoenix allows).
func (s *Socket) ReplyTo(ref protocol.Ref, r Reply) error {
	if r.err != nil {
		s.mux.encodeFailed(s.topic, protocol.EventReply, r.err)
		return r.err
	}
	m := s.replyMessage(ref, r)
	return s.send(&m)
}

// Broadcast sends event to every subscriber of the topic, this client
// included.
func (s *Socket) Broadcast(event string, payload []byte) error {
	return s.mux.pubsub.Publish(pubsub.NewBroadcast(s.topic, event, payload))
}

// BroadcastFrom sends event to every subscriber of the topic but this
// client.
func (s *Socket) BroadcastFrom(event string, payload []byte) error {
	b := pubsub.NewBroadcast(s.topic, event, payload)
	b.Except = s.subscriber()
	return s.mux.pubsub.Publish(b)
}

// PubSub returns the PubSub the channel's topic lives on.
func (s *Socket) PubSub() pubsub.PubSub { return s.mux.pubsub }

// subscription is what the Mux subscribes to the channel's topic for a
// Socket: a value holding one pointer, so that making the
// pubsub.Subscriber allocates nothing, and equal for the same Socket, so
// that Unsubscribe and Broadcast.Except find it.
type subscription struct{ s *Socket }

// Deliver implements pubsub.Subscriber.
func (sub subscription) Deliver(b *pubsub.Broadcast) { sub.s.deliver(b) }

// deliver forwards a broadcast on the channel's topic to the client,
// through the channel's Filter if it has one.
func (s *Socket) deliver(b *pubsub.Broadcast) {
	if s.filter != nil && s.route.intercepts(b.Event) && !s.filterSafely(b) {
		return
	}
	f, err := b.Frame(s.mux.ser)
	if err != nil {
		s.mux.encodeFailed(s.topic, b.Event, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateJoined, stateClosing:
		s.mux.transport.Send(f)
	case stateJoining:
		s.pending = append(s.pending, f)
	}
}

func (s *Socket) filterSafely(b *pubsub.Broadcast) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			s.mux.panicked("filter", s.topic, r)
			ok = false
		}
	}()
	return s.filter.FilterBroadcast(s, b)
}

func (s *Socket) replyMessage(ref protocol.Ref, r Reply) protocol.Message {
	return protocol.Message{Kind: protocol.Reply, JoinRef: s.stamp, Ref: ref, Topic: s.topic, Event: protocol.EventReply, Status: r.Status, Payload: r.Response, Binary: r.Binary}
}

// send encodes m and queues it, holding output back while the join reply
// has not gone out yet.
func (s *Socket) send(m *protocol.Message) error {
	f, err := protocol.Encode(s.mux.ser, m)
	if err != nil {
		s.mux.encodeFailed(s.topic, m.Event, err)
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateJoining:
		s.pending = append(s.pending, f)
	case stateJoined, stateClosing:
		s.mux.transport.Send(f)
	default:
		return ErrClosed
	}
	return nil
}

// setState moves the socket to st. Moving to stateJoined sends what was held
// back while joining.
func (s *Socket) setState(st socketState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if st == stateJoined {
		for _, f := range s.pending {
			s.mux.transport.Send(f)
		}
		s.pending = nil
	}
	s.state = st
}
