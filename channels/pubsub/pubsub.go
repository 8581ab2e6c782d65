// Package pubsub fans broadcasts out to the subscribers of a topic.
//
// A Broadcast is encoded at most once per serializer, however many
// subscribers receive it, and every subscriber gets the same bytes. Local is
// the in-process implementation; a cluster adapter forwards broadcasts to
// other nodes and fans them out locally with Local.
package pubsub

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/fawkes-rt/fawkes/protocol"
)

// Subscriber receives the broadcasts of the topics it subscribed to.
type Subscriber interface {
	// Deliver hands b to the subscriber. It runs on the publisher's
	// goroutine, concurrently with everything else, while the PubSub holds
	// its subscription lock (in Local, the read lock of b's topic): it must
	// be safe for concurrent use, must not block (the subscribers after it
	// wait), and must not publish, subscribe or unsubscribe on the same
	// PubSub (Local would deadlock on the same topic as soon as a Subscribe
	// to it is waiting). To react with a broadcast, hand the work to another
	// goroutine.
	Deliver(b *Broadcast)
}

// PubSub routes broadcasts to subscribers. Implementations are safe for
// concurrent use.
type PubSub interface {
	// Subscribe adds s to topic. Subscribing twice delivers twice.
	Subscribe(topic string, s Subscriber)
	// Unsubscribe removes one subscription of s to topic; unknown ones are
	// ignored.
	Unsubscribe(topic string, s Subscriber)
	// Publish delivers b to every subscriber of b.Topic but b.Except, and
	// returns once each has had Deliver called (locally). b must not be
	// modified afterwards.
	Publish(b *Broadcast) error
}

// Pinger is implemented by a PubSub that depends on something outside the
// process, such as a cluster adapter's connection to its broker. Readiness
// checks call Ping; a PubSub that does not implement it (Local) is always
// reachable.
type Pinger interface {
	// Ping returns nil when the PubSub can publish now. It returns once ctx
	// ends at the latest.
	Ping(ctx context.Context) error
}

var broadcastSeq atomic.Uint64

// Broadcast is one message for every subscriber of a topic: on the wire it
// is [null, null, topic, event, payload].
type Broadcast struct {
	Topic   string
	Event   string
	Payload []byte // raw JSON object, or raw bytes when Binary
	Binary  bool
	// Except, if set, does not receive the broadcast (Phoenix's
	// broadcast_from).
	Except Subscriber
	// Header is metadata for the subscribers' filters that crosses nodes
	// with the broadcast: a filter reads the same Header on the publishing
	// node and on every other (a cluster adapter carries it; see package
	// clusterwire). It is never sent to clients. Set it before Publish,
	// with channels.WithHeader or directly; nil costs nothing, locally or
	// on the wire. The phoenixredis bridge cannot carry it to Elixir nodes
	// (Phoenix.Socket.Broadcast has no such field): they get the broadcast
	// without it.
	Header Header
	// Meta is optional data the publisher attaches for its subscribers'
	// filters in this process (say, an attribute it already parsed out of
	// Payload, or a Go value a filter can use as is), so that thousands of
	// subscribers need not parse it again. It is never sent to clients and
	// does not cross nodes: a filter must cope with a nil Meta. For what a
	// filter must see on every node, use Header (short strings), or put it
	// in the payload and read it with Decode, which decodes once per node.
	Meta any

	seq     uint64
	frames  [3]encoded              // by protocol.Version
	decoded atomic.Pointer[decoded] // see Decode
}

// Header is a broadcast's metadata that crosses nodes: short string keys
// and values, in the spirit of NATS or Kafka message headers. Keys are
// case-sensitive and may repeat; order is kept. Filters share one Header,
// which must not be modified once the broadcast is published.
type Header []HeaderField

// HeaderField is one key and value of a Header.
type HeaderField struct {
	Key, Value string
}

// Get returns the value of the first field named key, or "" if there is
// none. It allocates nothing: a filter may call it for every subscriber.
func (h Header) Get(key string) string {
	v, _ := h.Lookup(key)
	return v
}

// Lookup returns the value of the first field named key, and whether there
// is one. It allocates nothing.
func (h Header) Lookup(key string) (string, bool) {
	for _, f := range h {
		if f.Key == key {
			return f.Value, true
		}
	}
	return "", false
}

type encoded struct {
	once  sync.Once
	frame protocol.Frame
	err   error
}

// NewBroadcast returns a broadcast of event with payload on topic.
func NewBroadcast(topic, event string, payload []byte) *Broadcast {
	return &Broadcast{Topic: topic, Event: event, Payload: payload, seq: broadcastSeq.Add(1)}
}

// Seq returns a number unique to this broadcast in this process (never 0 for
// broadcasts made with NewBroadcast). Subscribers use it to memoize per
// broadcast work shared by many of them.
func (b *Broadcast) Seq() uint64 { return b.seq }

// Frame returns the broadcast encoded with s. It encodes once per
// serializer version; every caller gets the same bytes, which must not be
// modified.
func (b *Broadcast) Frame(s protocol.Serializer) (protocol.Frame, error) {
	v := s.Version()
	if int(v) >= len(b.frames) {
		return protocol.Encode(s, b.message())
	}
	e := &b.frames[v]
	e.once.Do(func() { e.frame, e.err = protocol.Encode(s, b.message()) })
	return e.frame, e.err
}

func (b *Broadcast) message() *protocol.Message {
	return &protocol.Message{Kind: protocol.Broadcast, Topic: b.Topic, Event: b.Event, Payload: b.Payload, Binary: b.Binary}
}
