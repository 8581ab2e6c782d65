package channels

import (
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Broadcasting a Go value, from a channel or from server code. In Elixir
// and in Go:
//
//	broadcast!(socket, "new_msg", %{body: body})        s.BroadcastJSON("new_msg", msg)
//	broadcast_from!(socket, "new_msg", %{body: body})   s.BroadcastJSON("new_msg", msg, channels.Except(s))
//	MyAppWeb.Endpoint.broadcast("room:1", "new_msg", m) channels.Publish(endpoint.PubSub(), "room:1", "new_msg", m)
//
// A filter (Phoenix's handle_out) reads the value back with
// pubsub.Decode, on every node of a cluster alike: on the publishing node
// it gets the value itself, elsewhere the payload decoded once for all
// local subscribers. What a filter decides on without its being in the
// payload goes in a header (WithHeader), which crosses nodes too; Meta
// (WithMeta) is for this node only.

// BroadcastOption adjusts one broadcast made with Socket.BroadcastJSON or
// Publish.
type BroadcastOption func(*pubsub.Broadcast)

// Except keeps the broadcast from s's client, Phoenix's broadcast_from.
// It excludes that one channel of that one connection (other connections
// of the same user still receive it).
func Except(s *Socket) BroadcastOption {
	return func(b *pubsub.Broadcast) { b.Except = s.subscriber() }
}

// WithHeader adds the field key: value to the broadcast's Header: metadata
// for the subscribers' filters that is not sent to clients and that
// crosses nodes, so a Filter reads it with b.Header.Get(key) on every node
// alike, without allocating. Use it for what a filter decides on (a
// tenant, a visibility, an author to mute) when the payload should not
// carry it or should not be decoded for it. Fields are kept in order; a
// key given twice is kept twice, and Get returns the first. Elixir nodes
// bridged with phoenixredis do not get it.
func WithHeader(key, value string) BroadcastOption {
	return func(b *pubsub.Broadcast) {
		b.Header = append(b.Header, pubsub.HeaderField{Key: key, Value: value})
	}
}

// WithMeta attaches v as the broadcast's Meta: data for the filters of this
// node's subscribers that is not sent to clients. It does not cross nodes
// (a filter sees a nil Meta on the others): use it to save work (any Go
// value, handed over as is), never to carry what a filter needs to decide;
// that belongs in a header (WithHeader) or in the payload, read with
// pubsub.Decode.
func WithMeta(v any) BroadcastOption {
	return func(b *pubsub.Broadcast) { b.Meta = v }
}

// Publish broadcasts event with v encoded as a JSON object (see
// EncodeObject) to every subscriber of topic on ps, the endpoint's PubSub:
// Phoenix's Endpoint.broadcast/3, from anywhere in the program. It may be
// called from any goroutine, but not from within a Filter or a
// pubsub.Subscriber's Deliver (see Filter).
func Publish(ps pubsub.PubSub, topic, event string, v any, opts ...BroadcastOption) error {
	b, err := newJSONBroadcast(topic, event, v)
	if err != nil {
		return err
	}
	for _, o := range opts {
		o(b)
	}
	return ps.Publish(b)
}

// newJSONBroadcast is pubsub.NewJSONBroadcast, with bytes taken as JSON
// text as EncodeObject does.
func newJSONBroadcast(topic, event string, v any) (*pubsub.Broadcast, error) {
	switch v.(type) {
	case nil, []byte:
		b, err := EncodeObject(v)
		if err != nil {
			return nil, err
		}
		return pubsub.NewBroadcast(topic, event, b), nil
	}
	return pubsub.NewJSONBroadcast(topic, event, v)
}

// BroadcastJSON sends event with v encoded as a JSON object to every
// subscriber of the channel's topic, this client included unless
// Except(s) is given: Phoenix's broadcast!/3. Subscribers whose channel
// has a Filter get it through their filter.
func (s *Socket) BroadcastJSON(event string, v any, opts ...BroadcastOption) error {
	return Publish(s.mux.pubsub, s.topic, event, v, opts...)
}

// PushJSON sends event with v encoded as a JSON object to this channel's
// client: Phoenix's push/3.
func (s *Socket) PushJSON(event string, v any) error {
	b, err := EncodeObject(v)
	if err != nil {
		s.mux.encodeFailed(s.topic, event, err)
		return err
	}
	return s.Push(event, b)
}

// subscriber returns what the Mux subscribes to the channel's topic for s.
func (s *Socket) subscriber() pubsub.Subscriber { return subscription{s} }
