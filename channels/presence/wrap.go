package presence

import (
	"sync/atomic"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Wrap returns a factory of f's channels bound to p: a channel that ends
// (leave, duplicate join, crash, connection drop), or whose Join refuses
// or panics, has its presences untracked after its own Terminate; and
// PushState from Join cannot miss a change made by another connection
// before the Mux subscribes the socket (see the package doc).
//
// The wrapped channel implements channels.Filter, delegating to f's
// channel when it is one; other optional interfaces of f's channel are
// hidden.
func (p *Presence) Wrap(f channels.Factory) channels.Factory {
	return func(topic string) channels.Channel {
		inner := f(topic)
		w := &wrapped{p: p, inner: inner}
		w.filter, _ = inner.(channels.Filter)
		return w
	}
}

type wrapped struct {
	p      *Presence
	inner  channels.Channel
	filter channels.Filter
	seen   atomic.Uint64 // Seq of the last presence_diff delivered by the PubSub
}

func (w *wrapped) Join(s *channels.Socket, payload []byte) channels.Reply {
	w.p.observe(s, &w.seen)
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

func (w *wrapped) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	return w.inner.HandleIn(s, in)
}

func (w *wrapped) Terminate(s *channels.Socket, reason channels.Reason) {
	defer func() { _ = w.p.UntrackAll(s) }()
	w.inner.Terminate(s, reason)
}

// FilterBroadcast records presence diffs as seen, then lets the wrapped
// channel's filter decide. It runs on the publisher's goroutine with the
// topic locked: it must not call into the Presence.
func (w *wrapped) FilterBroadcast(s *channels.Socket, b *pubsub.Broadcast) bool {
	if b.Event == EventDiff {
		w.seen.Store(b.Seq())
	}
	if w.filter != nil {
		return w.filter.FilterBroadcast(s, b)
	}
	return true
}
