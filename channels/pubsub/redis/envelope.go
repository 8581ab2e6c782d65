package redis

import (
	"encoding/base64"
	"encoding/binary"
	"errors"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// An envelope carries one message between nodes:
//
//	version(1) kind(1) node(16) uvarint(seq) body
//
// node is the sender's id: a node skips its own broadcasts, which Redis
// echoes back, and replies go to the sender's node channel. seq numbers
// the sender's broadcasts from 1 in the order it publishes them; a receiver
// drops a broadcast whose seq is not above the last one it took from that
// node, so a publish that Redis executed twice (sent again after a timeout)
// or late is never delivered twice or out of order. Requests and replies
// carry seq 0 and are not checked.
//
// The body of each kind:
//
//	broadcast: flags(1) uvarint(len topic) topic uvarint(len event) event payload
//	request:   uvarint(id) uvarint(ms left) uvarint(len kind) kind payload
//	reply:     uvarint(id) status(1) payload
//
// flags bit 0 marks a binary payload. A request's "ms left" is how long the
// caller still waits for the answer. A reply's status is replyOK, or
// replyNoHandler when the node has no handler for the kind.
const (
	envelopeVersion = 2
	nodeIDLen       = 16
	flagBinary      = 1

	kindBroadcast = 'b'
	kindRequest   = 'q'
	kindReply     = 'r'

	replyOK        = 0
	replyNoHandler = 1
)

var errEnvelope = errors.New("redis pubsub: malformed envelope")

// nodeID is a node's raw id; its String is what NodeID returns.
type nodeID [nodeIDLen]byte

// String returns the id as unpadded base64url (22 characters).
func (n nodeID) String() string { return base64.RawURLEncoding.EncodeToString(n[:]) }

// parseNodeID is String's inverse.
func parseNodeID(s string) (nodeID, bool) {
	var n nodeID
	if base64.RawURLEncoding.DecodedLen(len(s)) != nodeIDLen {
		return n, false
	}
	k, err := base64.RawURLEncoding.Decode(n[:], []byte(s))
	return n, err == nil && k == nodeIDLen
}

// header is the part every envelope starts with.
type header struct {
	kind byte
	node nodeID
	seq  uint64
}

func appendHeader(buf []byte, kind byte, node nodeID, seq uint64) []byte {
	buf = append(buf, envelopeVersion, kind)
	buf = append(buf, node[:]...)
	return binary.AppendUvarint(buf, seq)
}

func decodeHeader(data []byte) (h header, body []byte, err error) {
	if len(data) < 3+nodeIDLen || data[0] != envelopeVersion {
		return h, nil, errEnvelope
	}
	h.kind = data[1]
	copy(h.node[:], data[2:2+nodeIDLen])
	seq, k := binary.Uvarint(data[2+nodeIDLen:])
	if k <= 0 {
		return h, nil, errEnvelope
	}
	h.seq = seq
	return h, data[2+nodeIDLen+k:], nil
}

func encodeBroadcast(node nodeID, seq uint64, b *pubsub.Broadcast) []byte {
	buf := make([]byte, 0, 4+nodeIDLen+3*binary.MaxVarintLen64+len(b.Topic)+len(b.Event)+len(b.Payload))
	buf = appendHeader(buf, kindBroadcast, node, seq)
	var flags byte
	if b.Binary {
		flags |= flagBinary
	}
	buf = append(buf, flags)
	buf = appendField(buf, b.Topic)
	buf = appendField(buf, b.Event)
	return append(buf, b.Payload...)
}

func decodeBroadcast(body []byte) (*pubsub.Broadcast, error) {
	if len(body) < 1 {
		return nil, errEnvelope
	}
	flags := body[0]
	topic, rest, ok := cutField(body[1:])
	if !ok {
		return nil, errEnvelope
	}
	event, payload, ok := cutField(rest)
	if !ok {
		return nil, errEnvelope
	}
	b := pubsub.NewBroadcast(string(topic), string(event), payload)
	b.Binary = flags&flagBinary != 0
	return b, nil
}

// request is a decoded Relay request.
type request struct {
	id     uint64
	msLeft uint64
	kind   string
	body   []byte
}

func encodeRequest(node nodeID, r request) []byte {
	buf := make([]byte, 0, 4+nodeIDLen+4*binary.MaxVarintLen64+len(r.kind)+len(r.body))
	buf = appendHeader(buf, kindRequest, node, 0)
	buf = binary.AppendUvarint(buf, r.id)
	buf = binary.AppendUvarint(buf, r.msLeft)
	buf = appendField(buf, r.kind)
	return append(buf, r.body...)
}

func decodeRequest(body []byte) (request, error) {
	var r request
	var k int
	if r.id, k = binary.Uvarint(body); k <= 0 {
		return r, errEnvelope
	}
	body = body[k:]
	if r.msLeft, k = binary.Uvarint(body); k <= 0 {
		return r, errEnvelope
	}
	kind, rest, ok := cutField(body[k:])
	if !ok {
		return r, errEnvelope
	}
	r.kind, r.body = string(kind), rest
	return r, nil
}

func encodeReply(node nodeID, id uint64, status byte, body []byte) []byte {
	buf := make([]byte, 0, 4+nodeIDLen+2*binary.MaxVarintLen64+1+len(body))
	buf = appendHeader(buf, kindReply, node, 0)
	buf = binary.AppendUvarint(buf, id)
	buf = append(buf, status)
	return append(buf, body...)
}

func decodeReply(body []byte) (id uint64, status byte, payload []byte, err error) {
	id, k := binary.Uvarint(body)
	if k <= 0 || len(body) < k+1 {
		return 0, 0, nil, errEnvelope
	}
	return id, body[k], body[k+1:], nil
}

func appendField(buf []byte, s string) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(s)))
	return append(buf, s...)
}

func cutField(data []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return nil, nil, false
	}
	return data[k : k+int(n)], data[k+int(n):], true
}
