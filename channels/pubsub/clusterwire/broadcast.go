package clusterwire

import (
	"encoding/binary"
	"slices"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Flags of a broadcast's body.
const (
	flagBinary = 1 << 0
	flagHeader = 1 << 1 // Version3 on
)

// AppendBroadcast appends to dst the envelope of b, the seq-th broadcast
// of node, and returns the extended slice. b.Header goes with it (and
// makes it a Version3 envelope); b.Meta and b.Except do not.
func AppendBroadcast(dst []byte, node NodeID, seq uint64, b *pubsub.Broadcast) []byte {
	n := envelopeSize + 1 + 2*binary.MaxVarintLen64 + len(b.Topic) + len(b.Event) + len(b.Payload)
	version, flags := byte(Version2), byte(0)
	if b.Binary {
		flags |= flagBinary
	}
	if len(b.Header) > 0 {
		version, flags = Version3, flags|flagHeader
		n += binary.MaxVarintLen64
		for _, f := range b.Header {
			n += 2*binary.MaxVarintLen64 + len(f.Key) + len(f.Value)
		}
	}
	dst = slices.Grow(dst, n)
	dst = appendEnvelope(dst, version, KindBroadcast, node, seq)
	dst = append(dst, flags)
	dst = appendField(dst, b.Topic)
	dst = appendField(dst, b.Event)
	if flags&flagHeader != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(b.Header)))
		for _, f := range b.Header {
			dst = appendField(dst, f.Key)
			dst = appendField(dst, f.Value)
		}
	}
	return append(dst, b.Payload...)
}

// Broadcast decodes the body of a broadcast envelope into a new
// pubsub.Broadcast (with a Seq of this process). Its Payload shares e.Body;
// its Header, if any, takes one string and one slice for all its fields.
func (e Envelope) Broadcast() (*pubsub.Broadcast, error) {
	body := e.Body
	if e.Kind != KindBroadcast || len(body) < 1 {
		return nil, ErrMalformed
	}
	flags := body[0]
	known := byte(flagBinary)
	if e.Version >= Version3 {
		known |= flagHeader
	}
	if flags&^known != 0 {
		return nil, ErrMalformed
	}
	topic, rest, ok := cutField(body[1:])
	if !ok {
		return nil, ErrMalformed
	}
	event, rest, ok := cutField(rest)
	if !ok {
		return nil, ErrMalformed
	}
	var header pubsub.Header
	if flags&flagHeader != 0 {
		if header, rest, ok = cutHeader(rest); !ok {
			return nil, ErrMalformed
		}
	}
	b := pubsub.NewBroadcast(string(topic), string(event), rest)
	b.Binary = flags&flagBinary != 0
	b.Header = header
	return b, nil
}

// cutHeader decodes a header: uvarint(n), then n keys and values.
func cutHeader(data []byte) (pubsub.Header, []byte, bool) {
	n, k := binary.Uvarint(data)
	// Each field takes at least two bytes (two empty strings): a count
	// beyond that is malformed, and never makes a large allocation.
	if k <= 0 || n > uint64(len(data)-k)/2 {
		return nil, nil, false
	}
	start := data[k:]
	rest := start
	for range n {
		var ok bool
		if _, rest, ok = cutField(rest); !ok {
			return nil, nil, false
		}
		if _, rest, ok = cutField(rest); !ok {
			return nil, nil, false
		}
	}
	if n == 0 {
		return nil, rest, true
	}
	// One string holds every key and value; the fields are slices of it.
	s := string(start[:len(start)-len(rest)])
	h := make(pubsub.Header, n)
	p := start
	for i := range h {
		h[i].Key, p = cutFieldOf(s, start, p)
		h[i].Value, p = cutFieldOf(s, start, p)
	}
	return h, rest, true
}

// cutFieldOf is cutField of data, a tail of whole (already checked by
// cutField), returning the field as a slice of s, a copy of whole.
func cutFieldOf(s string, whole, data []byte) (string, []byte) {
	f, rest, _ := cutField(data)
	at := len(whole) - len(rest) - len(f)
	return s[at : at+len(f)], rest
}
