package phoenixredis

import (
	"bytes"
	"errors"
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// The wire: Phoenix.PubSub.Redis publishes the External Term Format of
//
//	{3, mode, node_name, topic, message, dispatcher}
//
// mode :except (deliver on every node but node_name) or :only (deliver on
// node_name alone); a channel broadcast's message is
// %Phoenix.Socket.Broadcast{topic, event, payload}, a map with the atom
// keys __struct__, event, payload and topic.

// wireVersion is the adapter's message version; receivers ignore others.
const wireVersion = 3

// The atoms the bridge writes, and the only ones.
const (
	atomExcept        = "except"
	atomOnly          = "only"
	atomStruct        = "__struct__"
	atomBroadcast     = "Elixir.Phoenix.Socket.Broadcast"
	atomEvent         = "event"
	atomPayload       = "payload"
	atomTopic         = "topic"
	atomChannelServer = "Elixir.Phoenix.Channel.Server"
	atomPubSub        = "Elixir.Phoenix.PubSub"
	atomBinary        = "binary"
)

// trackerTopicPrefix starts the topics Phoenix.Tracker (Presence) uses to
// replicate its state between Elixir nodes.
const trackerTopicPrefix = "phx_presence:"

var errBinaryPayload = errors.New("phoenixredis: binary payloads are not sent to Elixir nodes (an Elixir node with a V1 client on the topic would crash encoding one)")

var errPayloadNotMap = errors.New("phoenixredis: broadcast payload is not a map (a channel frame carries a JSON object)")

var errNotUTF8 = errors.New("phoenixredis: topic or event is not UTF-8 (the Elixir node's JSON encoder would crash on it)")

// AppendBroadcast appends to dst the message that
// MyApp.Endpoint.broadcast(b.Topic, b.Event, payload) publishes on the
// Elixir node node, payload being b.Payload as Jason decodes it (see
// etf.AppendFromJSON): version byte, then
//
//	{3, :except, :node, topic, %Phoenix.Socket.Broadcast{topic, event, payload}, Phoenix.Channel.Server}
//
// It fails, leaving dst as it was, for a node name ValidNodeName refuses,
// a topic or event that is not UTF-8, a binary payload, and a payload
// with no Elixir term (see etf.AppendFromJSON). The only atoms it writes
// are node and the fixed ones above: nothing a client sent becomes an atom.
func AppendBroadcast(dst []byte, node string, b *pubsub.Broadcast) ([]byte, error) {
	if err := ValidNodeName(node); err != nil {
		return dst, err
	}
	return appendBroadcast(dst, mustAtom(node), b)
}

// appendBroadcast is AppendBroadcast with the node atom encoded already.
func appendBroadcast(dst, nodeAtom []byte, b *pubsub.Broadcast) ([]byte, error) {
	if b.Binary {
		return dst, errBinaryPayload
	}
	if !utf8.ValidString(b.Topic) || !utf8.ValidString(b.Event) {
		return dst, errNotUTF8
	}
	start := len(dst)
	dst = append(dst, etf.Version)
	dst = etf.AppendTupleHeader(dst, 6)
	dst = etf.AppendInt(dst, wireVersion)
	dst = append(dst, encodedExcept...)
	dst = append(dst, nodeAtom...)
	dst = etf.AppendBinary(dst, b.Topic)
	dst = etf.AppendMapHeader(dst, 4) // keys in term order, as OTP writes them
	dst = append(dst, encodedStruct...)
	dst = append(dst, encodedBroadcast...)
	dst = append(dst, encodedEvent...)
	dst = etf.AppendBinary(dst, b.Event)
	dst = append(dst, encodedPayload...)
	if len(b.Payload) == 0 {
		dst = etf.AppendMapHeader(dst, 0) // no payload is {} on the wire, as in Phoenix's frames
	} else {
		var err error
		if dst, err = etf.AppendFromJSON(dst, b.Payload); err != nil {
			return dst[:start], err
		}
	}
	dst = append(dst, encodedTopic...)
	dst = etf.AppendBinary(dst, b.Topic)
	return append(dst, encodedChannelServer...), nil
}

// mustAtom encodes an atom known to be valid.
func mustAtom(name string) []byte {
	b, err := etf.AppendAtom(nil, etf.Atom(name))
	if err != nil {
		panic(err)
	}
	return b
}

var (
	encodedExcept        = mustAtom(atomExcept)
	encodedStruct        = mustAtom(atomStruct)
	encodedBroadcast     = mustAtom(atomBroadcast)
	encodedEvent         = mustAtom(atomEvent)
	encodedPayload       = mustAtom(atomPayload)
	encodedTopic         = mustAtom(atomTopic)
	encodedChannelServer = mustAtom(atomChannelServer)
)

// SkipReason says why a message on the Phoenix channel reached no
// subscriber of this node.
type SkipReason uint8

// The reasons, in the order a message is examined.
const (
	// Delivered: not skipped.
	Delivered SkipReason = iota
	// SkipMalformed: not ETF, or not the adapter's 6-tuple of version 3
	// (Elixir nodes ignore these too, or crash on them).
	SkipMalformed
	// SkipTracker: Phoenix.Tracker (Presence) replication between Elixir
	// nodes. Elixir presences are not carried to Fawkes.
	SkipTracker
	// SkipOwn: this node's own broadcast, which Redis echoes.
	SkipOwn
	// SkipOtherNode: an :only message for another node.
	SkipOtherNode
	// SkipNoSubscriber: no subscriber of the topic on this node.
	SkipNoSubscriber
	// SkipNotBroadcast: not a %Phoenix.Socket.Broadcast{} for the
	// Phoenix.Channel.Server or Phoenix.PubSub dispatcher: a message for
	// Elixir processes, which Fawkes has none of.
	SkipNotBroadcast
	// SkipFiltered: Config.Skip keeps this event on its side.
	SkipFiltered
	// SkipUnrepresentable: a broadcast whose payload JSON cannot carry
	// (tuples, pids, structs, non-UTF-8 binaries...), or whose topic
	// differs from the one it was published on.
	SkipUnrepresentable
	// SkipFawkes: published by another Fawkes node of this cluster, whose
	// broadcasts arrive through the cluster's own topic channels.
	SkipFawkes
	// SkipUnverified: whether the sender is a Fawkes node could not be
	// asked of Redis; skipped rather than risk a duplicate.
	SkipUnverified

	numSkipReasons
)

var skipNames = [numSkipReasons]string{"delivered", "malformed", "tracker", "own", "other_node", "no_subscriber", "not_broadcast", "filtered", "unrepresentable", "fawkes", "unverified"}

// String returns the reason's label, as in metrics: "tracker", "own"...
func (r SkipReason) String() string {
	if r < numSkipReasons {
		return skipNames[r]
	}
	return "unknown"
}

// header is the part of a message read before deciding to go on.
type header struct {
	only  bool
	node  []byte
	topic []byte
}

// readHeader reads the version byte, the tuple and its first four
// elements, leaving r on the message.
func readHeader(data []byte, maxInflated int) (*etf.Reader, header, error) {
	var h header
	r, err := etf.NewReader(data, maxInflated)
	if err != nil {
		return nil, h, err
	}
	if n, err := r.Tuple(); err != nil || n != 6 {
		return nil, h, errNotPubSub
	}
	if v, err := r.Int(); err != nil || v != wireVersion {
		return nil, h, errNotPubSub
	}
	mode, err := r.AtomBytes()
	if err != nil {
		return nil, h, errNotPubSub
	}
	switch string(mode) {
	case atomExcept:
	case atomOnly:
		h.only = true
	default:
		return nil, h, errNotPubSub
	}
	if h.node, err = r.AtomBytes(); err != nil {
		return nil, h, errNotPubSub
	}
	if h.topic, err = r.Binary(); err != nil {
		return nil, h, errNotPubSub
	}
	return r, h, nil
}

var errNotPubSub = errors.New("phoenixredis: not a Phoenix.PubSub.Redis message of version 3")

// readBroadcast reads the message and the dispatcher after the header:
// a %Phoenix.Socket.Broadcast{} for a channel dispatcher becomes a
// Broadcast with a JSON payload (or a binary one for {:binary, data}).
func readBroadcast(r *etf.Reader, topic []byte, skip func(topic, event string) bool) (*pubsub.Broadcast, SkipReason, error) {
	message := r.Mark()
	if err := r.Skip(); err != nil {
		return nil, SkipMalformed, err
	}
	// The message is well formed; what follows decides whether it is a
	// channel broadcast.
	dispatcher, err := r.AtomBytes()
	if err != nil || !r.Done() {
		return nil, SkipMalformed, errNotPubSub
	}
	if d := string(dispatcher); d != atomChannelServer && d != atomPubSub {
		return nil, SkipNotBroadcast, nil
	}
	r.Rewind(message)
	n, err := r.Map()
	if err != nil || n != 4 {
		return nil, SkipNotBroadcast, nil
	}
	var event, msgTopic []byte
	var isBroadcast bool
	payload := -1
	for range n {
		key, err := r.AtomBytes()
		if err != nil {
			return nil, SkipNotBroadcast, nil
		}
		switch string(key) {
		case atomStruct:
			var module []byte
			module, err = r.AtomBytes()
			isBroadcast = string(module) == atomBroadcast
		case atomEvent:
			event, err = r.Binary()
		case atomTopic:
			msgTopic, err = r.Binary()
		case atomPayload:
			payload = r.Mark()
			err = r.Skip()
		default:
			return nil, SkipNotBroadcast, nil
		}
		if err != nil {
			return nil, SkipNotBroadcast, nil
		}
	}
	if !isBroadcast || event == nil || msgTopic == nil || payload < 0 {
		return nil, SkipNotBroadcast, nil
	}
	if !bytes.Equal(msgTopic, topic) || !utf8.Valid(event) || !utf8.Valid(topic) {
		return nil, SkipUnrepresentable, nil
	}
	if skip(string(topic), string(event)) {
		return nil, SkipFiltered, nil
	}
	r.Rewind(payload)
	if data, ok := binaryPayload(r); ok {
		b := pubsub.NewBroadcast(string(topic), string(event), bytes.Clone(data))
		b.Binary = true
		return b, Delivered, nil
	}
	r.Rewind(payload)
	if r.Peek() != etf.TagMap {
		return nil, SkipUnrepresentable, errPayloadNotMap
	}
	json, err := r.AppendJSON(nil)
	if err != nil {
		var e *etf.Error
		if errors.As(err, &e) && e.Unrepresentable {
			return nil, SkipUnrepresentable, err
		}
		return nil, SkipMalformed, err
	}
	return pubsub.NewBroadcast(string(topic), string(event), json), Delivered, nil
}

// binaryPayload reads {:binary, data}, Phoenix's binary payload.
func binaryPayload(r *etf.Reader) ([]byte, bool) {
	if n, err := r.Tuple(); err != nil || n != 2 {
		return nil, false
	}
	if a, err := r.AtomBytes(); err != nil || string(a) != atomBinary {
		return nil, false
	}
	data, err := r.Binary()
	return data, err == nil
}
