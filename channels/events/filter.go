package events

import (
	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// FilterBroadcast implements channels.Filter: a cloudevent goes to this
// channel when it has no patterns or one of them matches the event's type,
// and, for a member resuming, when the replay is out and did not have it
// (resume.go). Heartbeats and other broadcasts always pass. It runs on the
// publisher's goroutine and reads only the atomic set and handoff; the
// match is computed once per distinct pattern set per broadcast (see
// patternSet.matches).
func (c *channel) FilterBroadcast(_ *channels.Socket, b *pubsub.Broadcast) bool {
	if b.Event != EventCloudEvent {
		return true
	}
	if h := c.handoff.Load(); h != nil {
		if !h.admit(b) {
			return false
		}
		if h.expired(c.svc.cfg.Now()) {
			c.handoff.CompareAndSwap(h, nil)
		}
	}
	set := c.set.Load()
	if set == nil {
		return true
	}
	return set.matches(b, broadcastType)
}

// broadcastType returns the type of a cloudevent broadcast: from its Meta
// when the service made it, else (a broadcast from another node or from
// other code) read from the payload.
func broadcastType(b *pubsub.Broadcast) (string, bool) {
	if m, ok := b.Meta.(*eventMeta); ok {
		return m.typ, true
	}
	var buf [16]member
	members, serr := scanObject(b.Payload, buf[:0])
	if serr != scanOK {
		return "", false
	}
	for _, m := range members {
		if m.name == "type" && m.kind == kindString {
			return unquote(m.raw), true
		}
	}
	return "", false
}
