package presence

import (
	"errors"
	"reflect"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// ErrOtherPubSub is returned by Track for a socket whose connection
// broadcasts on another PubSub than the Presence: the diffs would reach
// nobody on that socket's topic. Give New the endpoint's PubSub, or nil.
var ErrOtherPubSub = errors.New("presence: the socket's PubSub is not the one this Presence broadcasts on")

// pubsubRef holds the PubSub a Presence broadcasts on, once known.
type pubsubRef struct{ ps pubsub.PubSub }

// pubsub returns the PubSub diffs go to: New's, or that of the first
// socket tracked; nil before either.
func (p *Presence) pubsub() pubsub.PubSub {
	if r := p.ps.Load(); r != nil {
		return r.ps
	}
	return nil
}

// adopt makes the PubSub of s the Presence's when it has none yet, and
// checks that it is the Presence's otherwise.
func (p *Presence) adopt(s *channels.Socket) error {
	ps := s.PubSub()
	if p.ps.CompareAndSwap(nil, &pubsubRef{ps: ps}) {
		return nil
	}
	if !samePubSub(p.pubsub(), ps) {
		return ErrOtherPubSub
	}
	return nil
}

// samePubSub reports whether a and b are the same PubSub. Values of a type
// that cannot be compared are taken as the same.
func samePubSub(a, b pubsub.PubSub) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if !reflect.TypeOf(a).Comparable() {
		return true
	}
	return a == b
}
