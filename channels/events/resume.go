package events

import (
	"context"
	"crypto/sha1"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Resume after reconnect (docs/events-channel.md). A join with
// "last_event_id" must get every event of the room broadcast after that
// one, then the live ones, with no gap and no duplicate while events keep
// coming. The Mux sends the join reply, then subscribes the socket, then
// runs AfterJoin; but the reply says how many events are replayed, so the
// history is read in Join, and what the socket misses before the Mux
// subscribes it must be caught by a subscription of the channel's own:
//
//  1. Join subscribes a handoff to the topic, then reads the history after
//     the id. Every event is then in the page read, or reaches the
//     handoff, or both: History.Publish makes an event readable before
//     broadcasting it, and the handoff was subscribed before the read.
//  2. From then on, every cloudevent for the member (whether it reaches
//     the handoff or, once the Mux subscribes it, the socket's filter) is
//     held back in the handoff's stash, once (by Broadcast.Seq).
//  3. AfterJoin pushes the page, then the stash in arrival order, leaving
//     out what the page already had; it repeats until the stash is empty,
//     then opens the socket's filter, in one step under the handoff's
//     lock, and unsubscribes the handoff.
//  4. For a while after (resumeDedupWindow), the filter still drops a
//     broadcast the page had, or that came before it, which can arrive
//     late: a broadcast of this process with a Seq up to Page.Through, or
//     one of another node whose bytes sum like an event of the page or of
//     Page.Earlier (in a cluster, a broadcast from another node carries
//     nothing else to know it by). Stashed broadcasts go through the same
//     test.
//
// Live events are therefore pushed by the channel (a push frame, with the
// join ref) until the filter opens; phoenix.js handles those exactly like
// broadcasts.

// ReasonInvalidLastEventID is the reason of a join refused for its
// "last_event_id".
const ReasonInvalidLastEventID = "invalid_last_event_id"

// resumeDedupWindow is how long after a replay a broadcast of the page can
// still arrive: one of another node reaches Redis's stream and its
// subscribers in one pipeline, which is retried for seconds at most when
// Redis fails in the middle of it.
const resumeDedupWindow = 30 * time.Second

// historyReadTimeout bounds the history read of a join.
const historyReadTimeout = 2 * time.Second

// subscribeWaitLimit bounds how long a resuming join waits for the other
// subscriptions to its topic under way on this node (see subscribeMark).
const subscribeWaitLimit = 2 * time.Second

// lastEventID returns the join payload's "last_event_id" and whether there
// is one (null is none), or the message of an invalid_last_event_id
// refusal.
func lastEventID(payload []byte, maxBytes int) (id string, ok bool, msg string) {
	var buf [8]member
	members, serr := scanObject(payload, buf[:0])
	if serr != scanOK {
		return "", false, ""
	}
	var last *member
	for i := range members {
		if members[i].name == "last_event_id" {
			last = &members[i] // the last one wins, as in JSON.parse
		}
	}
	switch {
	case last == nil || last.kind == kindNull:
		return "", false, ""
	case last.kind != kindString:
		return "", false, "last_event_id must be a string, the id of the last event received"
	}
	id = unquote(last.raw)
	switch {
	case id == "":
		return "", false, "last_event_id must not be empty"
	case len(id) > maxBytes:
		return "", false, fmt.Sprintf("last_event_id is %d bytes, more than the limit of %d", len(id), maxBytes)
	}
	return id, true, ""
}

// joinReply returns the ok reply of a join: {} or {"event_types":[...]},
// plus "recovered" (and "replayed") when the join asked to resume.
func joinReply(patterns []string, subscribed, resumed, recovered bool, replayed int) []byte {
	if !resumed {
		if subscribed {
			return eventTypesPayload(patterns)
		}
		return nil
	}
	var b []byte
	if subscribed {
		b = eventTypesPayload(patterns)
		b = append(b[:len(b)-1], ',')
	} else {
		b = append(b, '{')
	}
	if !recovered {
		return append(b, `"recovered":false}`...)
	}
	b = append(b, `"recovered":true,"replayed":`...)
	b = strconv.AppendInt(b, int64(replayed), 10)
	return append(b, '}')
}

// resume starts the handoff of a join with last_event_id after: it
// subscribes the handoff, reads the history, and keeps what AfterJoin
// pushes. It reports whether the history had the event, and how many
// events follow it for this member.
func (c *channel) resume(s *channels.Socket, room, after string) (recovered bool, replayed int) {
	cfg := &c.svc.cfg
	if cfg.History == nil {
		return false, 0
	}
	ho := &handoff{svc: c.svc, stashed: make(map[uint64]struct{})}
	ps := s.PubSub()
	c.svc.subscribeAfterOthers(c.topic, func() { ps.Subscribe(c.topic, ho) })
	ctx, cancel := context.WithTimeout(context.Background(), historyReadTimeout)
	page, err := cfg.History.Since(ctx, room, after, 0)
	cancel()
	log := cfg.Logger.Debug()
	switch {
	case err != nil:
		log = cfg.Logger.Warn().Err(err)
	case page.Found:
		ho.through = page.Through
		size := 0
		set := c.set.Load()
		for _, sum := range page.Earlier {
			ho.addForeign(sum)
		}
		for _, rec := range page.Events {
			if rec.Seq == 0 {
				ho.addForeign(sha1.Sum(rec.Raw))
			}
			if set == nil || set.match(rec.Type) {
				ho.replay = append(ho.replay, rec)
				size += len(rec.Raw)
			}
		}
		if size <= cfg.MaxReplayBytes {
			ho.ps = ps
			ho.topic = c.topic
			c.handoff.Store(ho)
			log.Str("topic", c.topic).Str("last_event_id", after).Int("replayed", len(ho.replay)).Msg("resuming")
			return true, len(ho.replay)
		}
		log = log.Int("bytes", size).Int("limit", cfg.MaxReplayBytes)
	}
	ps.Unsubscribe(c.topic, ho)
	log.Str("topic", c.topic).Str("last_event_id", after).Bool("found", page.Found).Msg("not resumed: the member reloads")
	return false, 0
}

// AfterJoin implements channels.AfterJoiner: it sends a resuming member
// what it missed, then, with presence on, tracks the member and pushes the
// topic's presence_state.
func (c *channel) AfterJoin(s *channels.Socket) {
	c.svc.subscribed(c.topic, c.mark)
	c.mark = nil
	if ho := c.handoff.Load(); ho != nil && ho.ps != nil {
		ho.flush(c, s)
	}
	c.trackPresence(s)
}

// endResume releases what a resume holds when the channel ends.
func (c *channel) endResume() {
	c.svc.subscribed(c.topic, c.mark)
	c.mark = nil
	if ho := c.handoff.Swap(nil); ho != nil && ho.ps != nil {
		ho.unsubscribe()
	}
}

// handoff carries a resuming member from the replay to the live events: it
// is the channel's own subscription to the topic from before the history
// read until the replay is out, and it holds the live events back
// meanwhile. See the top of this file.
type handoff struct {
	svc     *Service
	ps      pubsub.PubSub // set once resuming: ps and topic, to unsubscribe
	topic   string
	replay  []Record                     // the page, filtered by the member's patterns
	through uint64                       // Page.Through
	foreign map[[sha1.Size]byte]struct{} // content sums of the page's events from other nodes, and of Page.Earlier

	mu      sync.Mutex
	open    bool                // the replay is out: live events go straight to the socket
	stash   []*pubsub.Broadcast // live events held back, in arrival order
	stashed map[uint64]struct{} // Seq of every broadcast stashed; read-only once open
	until   time.Time           // once open: when the filter stops checking the page

	settled atomic.Bool // open, and the fields above are read-only
	gone    bool        // unsubscribed; guarded by the channel's dispatch order
}

// Deliver implements pubsub.Subscriber for the handoff's own subscription:
// until the replay is out, every cloudevent is held back.
func (h *handoff) Deliver(b *pubsub.Broadcast) {
	if b.Event != EventCloudEvent {
		return // heartbeats, presence: the socket's own subscription brings those
	}
	h.mu.Lock()
	if !h.open {
		h.hold(b)
	}
	h.mu.Unlock()
}

// hold stashes b, once; h.mu is held.
func (h *handoff) hold(b *pubsub.Broadcast) {
	if seq := b.Seq(); seq != 0 {
		if _, dup := h.stashed[seq]; dup {
			return
		}
		h.stashed[seq] = struct{}{}
	}
	h.stash = append(h.stash, b)
}

// admit decides a cloudevent delivered to the socket: false while the
// replay is under way (the event is stashed) and for one the replay had.
// It runs on the publisher's goroutine.
func (h *handoff) admit(b *pubsub.Broadcast) bool {
	if !h.settled.Load() {
		h.mu.Lock()
		if !h.open {
			h.hold(b)
			h.mu.Unlock()
			return false
		}
		h.mu.Unlock()
	}
	if _, dup := h.stashed[b.Seq()]; dup && b.Seq() != 0 {
		return false // it reached both subscriptions, and the stash had it
	}
	return !h.replayed(b)
}

// replayed reports whether the page had b.
func (h *handoff) replayed(b *pubsub.Broadcast) bool {
	if m, ok := b.Meta.(*eventMeta); ok && m.seq != 0 {
		return m.seq <= h.through
	}
	if len(h.foreign) == 0 {
		return false
	}
	_, ok := h.foreign[h.svc.contentSum(b)]
	return ok
}

func (h *handoff) addForeign(sum [sha1.Size]byte) {
	if h.foreign == nil {
		h.foreign = make(map[[sha1.Size]byte]struct{})
	}
	h.foreign[sum] = struct{}{}
}

// expired reports whether the dedup window is over.
func (h *handoff) expired(now time.Time) bool { return h.settled.Load() && now.After(h.until) }

// flush pushes the replay, then the stash until it is empty, then opens
// the socket's filter and unsubscribes. It runs in AfterJoin.
func (h *handoff) flush(c *channel, s *channels.Socket) {
	for _, rec := range h.replay {
		if s.Push(EventCloudEvent, rec.Raw) != nil {
			break
		}
	}
	h.replay = nil
	for {
		h.mu.Lock()
		batch := h.stash
		h.stash = nil
		if len(batch) == 0 {
			h.open = true
			h.until = c.svc.cfg.Now().Add(resumeDedupWindow)
			h.mu.Unlock()
			break
		}
		h.mu.Unlock()
		set := c.set.Load()
		for _, b := range batch {
			if h.replayed(b) || set != nil && !set.matches(b, broadcastType) {
				continue
			}
			_ = s.Push(EventCloudEvent, b.Payload)
		}
	}
	h.settled.Store(true)
	h.unsubscribe()
}

func (h *handoff) unsubscribe() {
	if !h.gone {
		h.gone = true
		h.ps.Unsubscribe(h.topic, h)
	}
}

// subscribeMark is a subscription to a topic under way on this node: that
// of a resuming join's handoff, or the Mux's subscription of a joined
// socket (from Join's ok until AfterJoin). A cluster PubSub makes the first
// subscriber of a topic on a node wait until the cluster confirms the
// node's subscription, but not the others: a resuming join waits for the
// subscriptions that started before its own, so that its history read
// comes after the node is subscribed.
type subscribeMark struct{ done chan struct{} }

// subscribing records a subscription to topic about to start. It returns
// nil when the service keeps no history.
func (svc *Service) subscribing(topic string) *subscribeMark {
	if svc.pendingSubs == nil {
		return nil
	}
	m := &subscribeMark{done: make(chan struct{})}
	svc.mu.Lock()
	svc.pendingSubs[topic] = append(svc.pendingSubs[topic], m)
	svc.mu.Unlock()
	return m
}

// subscribed records that the subscription of m is done (m may be nil).
func (svc *Service) subscribed(topic string, m *subscribeMark) {
	if m == nil {
		return
	}
	svc.mu.Lock()
	list := svc.pendingSubs[topic]
	for i, x := range list {
		if x == m {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(svc.pendingSubs, topic)
	} else {
		svc.pendingSubs[topic] = list
	}
	svc.mu.Unlock()
	close(m.done)
}

// subscribeAfterOthers runs subscribe, then waits (up to
// subscribeWaitLimit) for the subscriptions to topic that were under way
// on this node before it.
func (svc *Service) subscribeAfterOthers(topic string, subscribe func()) {
	svc.mu.Lock()
	earlier := append([]*subscribeMark(nil), svc.pendingSubs[topic]...)
	svc.mu.Unlock()
	own := svc.subscribing(topic)
	subscribe()
	svc.subscribed(topic, own)
	if len(earlier) == 0 {
		return
	}
	t := time.NewTimer(subscribeWaitLimit)
	defer t.Stop()
	for _, m := range earlier {
		select {
		case <-m.done:
		case <-t.C:
			svc.cfg.Logger.Warn().Str("topic", topic).Msg("resume: another subscription to the topic is still under way; reading the history anyway")
			return
		}
	}
}
