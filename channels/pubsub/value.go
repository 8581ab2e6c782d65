package pubsub

import (
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotObject is returned by NewJSONBroadcast for a value that does not
// encode to a JSON object: a broadcast payload is an object on the wire.
var ErrNotObject = errors.New("pubsub: broadcast payload must encode to a JSON object")

// decoded is a broadcast's payload as a Go value: the one it was made from
// (NewJSONBroadcast) or the first one Decode produced.
type decoded struct {
	v   any
	err error
}

// NewJSONBroadcast returns a broadcast of event on topic whose payload is v
// encoded with encoding/json; v must encode to a JSON object. The broadcast
// keeps v, so that Decode on this node returns it without decoding.
func NewJSONBroadcast(topic, event string, v any) (*Broadcast, error) {
	payload, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if len(payload) == 0 || payload[0] != '{' {
		return nil, fmt.Errorf("%w (got %.40q)", ErrNotObject, payload)
	}
	b := NewBroadcast(topic, event, payload)
	b.decoded.Store(&decoded{v: v})
	return b, nil
}

// Decode returns b's JSON payload as a T, for a filter (Phoenix's
// handle_out, which gets the payload as a term).
//
// It is the same code path on every node of a cluster. On the node that
// made b with NewJSONBroadcast from a T (or a *T), it returns that value
// without decoding. Anywhere else, b arrived as bytes, and Decode unmarshals
// them into a T once per broadcast: the first subscriber's filter pays, the
// others share the result (and its error). A filter must not modify what
// Decode returns, which thousands of subscribers share: copy before
// changing maps, slices or pointed-to values.
//
// Decode is safe for concurrent use. A binary broadcast gives an error.
func Decode[T any](b *Broadcast) (T, error) {
	if d := b.decoded.Load(); d != nil {
		switch v := d.v.(type) {
		case T:
			return v, d.err
		case *T:
			if v != nil {
				return *v, d.err
			}
		}
	}
	var v T
	if b.Binary {
		return v, errors.New("pubsub: Decode of a binary broadcast")
	}
	err := json.Unmarshal(b.Payload, &v)
	// The first decoding is kept; a concurrent one of the same T decodes
	// twice at worst, and a filter asking for another type decodes each
	// time.
	b.decoded.CompareAndSwap(nil, &decoded{v: v, err: err})
	return v, err
}
