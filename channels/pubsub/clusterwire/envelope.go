package clusterwire

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// Versions of the envelope (see the package doc).
const (
	// Version2 is the version of every envelope but a broadcast with a
	// header.
	Version2 = 2
	// Version3 is Version2 plus a broadcast's header.
	Version3 = 3
)

// NodeIDLen is the length of a NodeID in bytes.
const NodeIDLen = 16

// ErrMalformed is the error of every decoder for bytes that are not a
// well-formed envelope of a version it knows.
var ErrMalformed = errors.New("clusterwire: malformed envelope")

// NodeID is a node's id: random, new every time a node starts, so that no
// sequence number of a past process is taken for a current one.
type NodeID [NodeIDLen]byte

// NewNodeID returns a random NodeID, never the zero one.
func NewNodeID() NodeID {
	var n NodeID
	for n == (NodeID{}) {
		_, _ = rand.Read(n[:]) // never fails (crypto/rand)
	}
	return n
}

// String returns the id as unpadded base64url (22 characters): the form
// pubsub.Relay.NodeID returns, fit for a broker's channel or key names.
func (n NodeID) String() string { return base64.RawURLEncoding.EncodeToString(n[:]) }

// ParseNodeID is String's inverse. It reports false for anything String
// does not return.
func ParseNodeID(s string) (NodeID, bool) {
	var n NodeID
	if base64.RawURLEncoding.DecodedLen(len(s)) != NodeIDLen {
		return n, false
	}
	k, err := base64.RawURLEncoding.Decode(n[:], []byte(s))
	return n, err == nil && k == NodeIDLen && n.String() == s
}

// Kind is what an envelope carries.
type Kind byte

// Kinds of envelope.
const (
	KindBroadcast Kind = 'b'
	KindRequest   Kind = 'q'
	KindReply     Kind = 'r'
)

// Envelope is a decoded envelope: the part every message starts with, and
// the body of its kind, which Broadcast, Request or Reply decodes.
type Envelope struct {
	// Version is Version2 or Version3 (see the package doc).
	Version byte
	// Kind says which of Broadcast, Request and Reply decodes Body.
	Kind Kind
	// Node is the sender's id.
	Node NodeID
	// Seq is the sender's number of a broadcast; 0 for other kinds.
	Seq uint64
	// Body is the rest of the message; it shares the decoded bytes.
	Body []byte
}

// DecodeEnvelope decodes the part every envelope starts with. The Body of
// the Envelope is a slice of data. It returns ErrMalformed for an unknown
// version; an unknown kind is left to the caller (Broadcast, Request and
// Reply refuse it).
func DecodeEnvelope(data []byte) (Envelope, error) {
	var e Envelope
	if len(data) < 3+NodeIDLen || (data[0] != Version2 && data[0] != Version3) {
		return e, ErrMalformed
	}
	e.Version, e.Kind = data[0], Kind(data[1])
	copy(e.Node[:], data[2:2+NodeIDLen])
	seq, k := binary.Uvarint(data[2+NodeIDLen:])
	if k <= 0 {
		return e, ErrMalformed
	}
	e.Seq, e.Body = seq, data[2+NodeIDLen+k:]
	return e, nil
}

// envelopeSize is the most bytes an envelope takes before its body.
const envelopeSize = 2 + NodeIDLen + binary.MaxVarintLen64

func appendEnvelope(dst []byte, version byte, kind Kind, node NodeID, seq uint64) []byte {
	dst = append(dst, version, byte(kind))
	dst = append(dst, node[:]...)
	return binary.AppendUvarint(dst, seq)
}

func appendField(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func cutField(data []byte) (field, rest []byte, ok bool) {
	n, k := binary.Uvarint(data)
	if k <= 0 || n > uint64(len(data)-k) {
		return nil, nil, false
	}
	return data[k : k+int(n)], data[k+int(n):], true
}
