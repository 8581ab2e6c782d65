package presence

import (
	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Wrap returns a factory of f's channels bound to p: a channel that ends
// (leave, duplicate join, crash, connection drop), or whose Join refuses
// or panics, has its presences untracked after its own Terminate, as
// Presence.UntrackAll.
//
// The wrapped channel forwards AfterJoin (channels.AfterJoiner) and
// FilterBroadcast (channels.Filter) to f's channel when it implements
// them; other optional interfaces of f's channel are hidden.
func (p *Presence) Wrap(f channels.Factory) channels.Factory {
	return func(topic string) channels.Channel {
		inner := f(topic)
		w := wrapped{p: p, inner: inner}
		w.afterJoin, _ = inner.(channels.AfterJoiner)
		if filter, ok := inner.(channels.Filter); ok {
			// A separate type, so that a channel without a filter is not
			// given one: the Mux calls a Filter on every broadcast.
			return &filtered{wrapped: w, filter: filter}
		}
		return &w
	}
}

type wrapped struct {
	p         *Presence
	inner     channels.Channel
	afterJoin channels.AfterJoiner
}

func (w *wrapped) Join(s *channels.Socket, payload []byte) channels.Reply {
	joined := false
	defer func() {
		// Also on a panic, which keeps propagating to the Mux.
		if !joined {
			_ = w.p.UntrackAll(s)
		}
	}()
	r := w.inner.Join(s, payload)
	joined = r.Status == "ok"
	return r
}

// AfterJoin runs the wrapped channel's AfterJoin, if it has one. A panic
// there crashes the channel, and Terminate untracks.
func (w *wrapped) AfterJoin(s *channels.Socket) {
	if w.afterJoin != nil {
		w.afterJoin.AfterJoin(s)
	}
}

func (w *wrapped) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	return w.inner.HandleIn(s, in)
}

func (w *wrapped) Terminate(s *channels.Socket, reason channels.Reason) {
	defer func() { _ = w.p.UntrackAll(s) }()
	w.inner.Terminate(s, reason)
}

// filtered is a wrapped channel that has a Filter.
type filtered struct {
	wrapped
	filter channels.Filter
}

func (w *filtered) FilterBroadcast(s *channels.Socket, b *pubsub.Broadcast) bool {
	return w.filter.FilterBroadcast(s, b)
}
