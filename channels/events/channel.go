package events

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

// channel is one join of an events topic. The Mux calls Join, HandleIn,
// AfterJoin and Terminate one at a time; FilterBroadcast runs concurrently
// with them and reads only set and handoff.
type channel struct {
	svc   *Service
	topic string

	joinedAt     time.Time
	lastActivity time.Time      // of the last inbound message
	errors       int            // rejected inbound messages
	patterns     []string       // the subscriptions; empty means every event
	presenceKey  string         // with Config.Presence: the key tracked (see presence.go)
	presenceMeta []byte         // the meta to track in AfterJoin
	mark         *subscribeMark // with a History: the Mux's subscription of the socket, until AfterJoin

	set     atomic.Pointer[patternSet] // the interned patterns, nil when none
	handoff atomic.Pointer[handoff]    // a resume under way, or its dedup window (resume.go)
}

// Join implements channels.Channel.
func (c *channel) Join(s *channels.Socket, payload []byte) channels.Reply {
	cfg := &c.svc.cfg
	room, ok := roomOf(s.Topic())
	if !ok {
		return channels.Error(reasonPayload(ReasonInvalidTopic, ""))
	}
	if !isObject(payload) {
		payload = []byte("{}")
	}
	if cfg.Authorize != nil {
		if err := cfg.Authorize(JoinRequest{Topic: s.Topic(), Room: room, Payload: payload, Conn: s.Conn()}); err != nil {
			reason := ReasonUnauthorized
			var refused *RefusedError
			if errors.As(err, &refused) && refused.Reason != "" {
				reason = refused.Reason
			}
			cfg.Logger.Debug().Str("topic", s.Topic()).Err(err).Msg("join refused")
			return channels.Error(reasonPayload(reason, ""))
		}
	}
	list, subscribed, msg := parseEventTypes(payload)
	if subscribed && msg == "" {
		list, msg = subscribe(nil, list, cfg.MaxPatterns)
	}
	if msg != "" {
		return channels.Error(reasonPayload(ReasonInvalidSubscription, msg))
	}
	after, resuming, msg := lastEventID(payload, cfg.MaxLastEventIDBytes)
	if msg != "" {
		return channels.Error(reasonPayload(ReasonInvalidLastEventID, msg))
	}
	now := cfg.Now()
	if cfg.Presence != nil {
		if c.presenceMeta, msg = presenceMeta(payload, now, cfg.MaxMetaBytes); msg != "" {
			return channels.Error(reasonPayload(ReasonInvalidMeta, msg))
		}
		c.presenceKey = presenceKey(s.Conn())
	}
	c.topic = s.Topic()
	c.joinedAt = now
	c.lastActivity = c.joinedAt
	c.setPatterns(list)
	var recovered bool
	var replayed int
	if resuming {
		recovered, replayed = c.resume(s, room, after)
	}
	c.mark = c.svc.subscribing(c.topic) // the Mux subscribes the socket next
	c.svc.joined(c.topic)
	return channels.OK(joinReply(c.patterns, subscribed, resuming, recovered, replayed))
}

// isObject reports whether a valid JSON text is an object.
func isObject(payload []byte) bool {
	i := jsontext.SkipSpace(payload, 0)
	return i < len(payload) && payload[i] == '{'
}

// HandleIn implements channels.Channel.
func (c *channel) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	c.lastActivity = c.svc.cfg.Now()
	if in.Binary {
		return c.reject(s, ReasonBinaryNotSupported, reasonPayload(ReasonBinaryNotSupported, "binary frames are not supported on events topics: send JSON"))
	}
	switch in.Event {
	case EventCloudEvent:
		return c.cloudEvent(s, in.Payload)
	case EventPing:
		ts := timestampPayload(c.lastActivity)
		_ = s.Push(EventPong, ts)
		return channels.Replied(channels.OK(ts))
	case EventSubscribe, EventUnsubscribe:
		return c.subscription(s, in.Event, in.Payload)
	}
	return c.reject(s, ReasonUnknownEvent, reasonPayload(ReasonUnknownEvent, "unknown event: "+in.Event))
}

// cloudEvent forwards a valid event to the other members, or rejects it.
func (c *channel) cloudEvent(s *channels.Socket, payload []byte) channels.Result {
	ev, err := c.svc.Validate(payload)
	var invalid *InvalidEventError
	if errors.As(err, &invalid) {
		return c.reject(s, ReasonInvalidCloudEvent, invalidEventPayload(invalid))
	}
	if err := c.svc.publish(s.PubSub(), c.topic, ev, s); err != nil {
		c.svc.cfg.Logger.Warn().Err(err).Str("topic", c.topic).Msg("cloudevent not published")
	}
	return channels.Replied(channels.OK(idPayload(ev.idToken)))
}

// subscription handles subscribe and unsubscribe.
func (c *channel) subscription(s *channels.Socket, event string, payload []byte) channels.Result {
	list, msg := eventTypesList(payload)
	var next []string
	if msg == "" {
		if event == EventSubscribe {
			next, msg = subscribe(c.patterns, list, c.svc.cfg.MaxPatterns)
		} else {
			next = unsubscribe(c.patterns, list)
		}
	}
	if msg != "" {
		return c.reject(s, ReasonInvalidSubscription, reasonPayload(ReasonInvalidSubscription, msg))
	}
	c.setPatterns(next)
	return channels.Replied(channels.OK(eventTypesPayload(c.patterns)))
}

// setPatterns replaces the subscriptions and the shared set the filter
// reads.
func (c *channel) setPatterns(patterns []string) {
	old := c.set.Load()
	c.patterns = patterns
	c.set.Store(c.svc.sets.acquire(patterns))
	c.svc.sets.release(old)
}

// reject answers a bad client message: an error push, then the error
// reply, both with payload (whose reason is reason); the error count goes
// up.
func (c *channel) reject(s *channels.Socket, reason string, payload []byte) channels.Result {
	c.errors++
	if c.svc.cfg.Rejected != nil {
		c.svc.cfg.Rejected(reason)
	}
	_ = s.Push(EventError, payload)
	return channels.Replied(channels.Error(payload))
}

// Terminate implements channels.Channel: it releases what the channel held
// and logs one line.
func (c *channel) Terminate(s *channels.Socket, reason channels.Reason) {
	c.endResume()
	if p := c.svc.cfg.Presence; p != nil {
		if err := p.UntrackAll(s); err != nil {
			c.svc.cfg.Logger.Warn().Err(err).Str("topic", c.topic).Msg("presence leave not broadcast")
		}
	}
	c.svc.left(c.topic)
	old := c.set.Swap(nil)
	c.svc.sets.release(old)
	// A channel that ends with its connection is logged at debug: the
	// connection's own line says why it closed, and a drain of thousands
	// of clients should not write thousands of info lines.
	level := zerolog.InfoLevel
	if reason == channels.ReasonClosed {
		level = zerolog.DebugLevel
	}
	c.svc.cfg.Logger.WithLevel(level).
		Str("topic", c.topic).
		Str("reason", reason.String()).
		Strs("subscriptions", c.patterns).
		Int("errors", c.errors).
		Dur("duration_ms", c.svc.cfg.Now().Sub(c.joinedAt)).
		Time("last_activity", c.lastActivity).
		Msg("events channel closed")
}
