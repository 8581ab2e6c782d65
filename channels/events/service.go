package events

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Service is the events channel's shared side: its configuration, the
// member count of each topic (for the heartbeat) and the interned pattern
// sets. One Service serves any number of connections; it is safe for
// concurrent use.
type Service struct {
	cfg      Config
	sets     patternSets
	rooms    *roomLocks // with a History: the publish lock of each room
	lastHash atomic.Pointer[hashMemo]

	mu          sync.Mutex
	members     map[string]int              // topic -> joined channels
	pendingSubs map[string][]*subscribeMark // with a History: topic -> subscriptions under way (resume.go)
}

// New returns a Service configured by cfg (zero fields take their
// defaults).
func New(cfg Config) *Service {
	svc := &Service{cfg: cfg.withDefaults(), members: make(map[string]int)}
	if svc.cfg.History != nil {
		svc.rooms = &roomLocks{seed: maphash.MakeSeed()}
		svc.pendingSubs = make(map[string][]*subscribeMark)
	}
	return svc
}

// Factory returns the channel factory to mount on "events:*":
//
//	router.Handle("events:*", svc.Factory())
func (svc *Service) Factory() channels.Factory {
	return func(topic string) channels.Channel { return &channel{svc: svc} }
}

// PubSub returns the PubSub the service publishes on: Config.PubSub, or
// the pubsub.Local it made. Give it to every Mux.
func (svc *Service) PubSub() pubsub.PubSub { return svc.cfg.PubSub }

// HeartbeatInterval returns the period of the heartbeat, or 0 when it is
// off.
func (svc *Service) HeartbeatInterval() time.Duration {
	if svc.cfg.HeartbeatInterval < 0 {
		return 0
	}
	return svc.cfg.HeartbeatInterval
}

// Validate checks a CloudEvent against the service's size limit; see the
// package function Validate.
func (svc *Service) Validate(event []byte) (Event, error) {
	return Validate(event, svc.cfg.MaxEventBytes)
}

// Broadcast validates event and sends it as "cloudevent" to every member of
// room whose patterns match its type. It returns an *InvalidEventError for
// an invalid event, and an error for an invalid room name.
func (svc *Service) Broadcast(room string, event []byte) error {
	topic := TopicPrefix + room
	if _, ok := roomOf(topic); !ok {
		return errInvalidRoom(room)
	}
	ev, err := svc.Validate(event)
	if err != nil {
		return err
	}
	return svc.publish(svc.cfg.PubSub, topic, ev, nil)
}

func errInvalidRoom(room string) error { return fmt.Errorf("events: invalid room %q", room) }

// BroadcastFrom validates event and sends it as "cloudevent" to every
// member of s's topic but s whose patterns match its type.
func (svc *Service) BroadcastFrom(s *channels.Socket, event []byte) error {
	ev, err := svc.Validate(event)
	if err != nil {
		return err
	}
	return svc.publish(s.PubSub(), s.Topic(), ev, s)
}

// SendHeartbeat broadcasts a heartbeat {"timestamp":T} to room now.
func (svc *Service) SendHeartbeat(room string) error {
	return svc.sendHeartbeat(TopicPrefix+room, svc.cfg.Now())
}

func (svc *Service) sendHeartbeat(topic string, now time.Time) error {
	return svc.cfg.PubSub.Publish(pubsub.NewBroadcast(topic, EventHeartbeat, timestampPayload(now)))
}

// eventMeta is the Meta of the service's cloudevent broadcasts: the type
// the filters match, parsed once per broadcast, and with a History the
// event's Record.Seq.
type eventMeta struct {
	typ string
	seq uint64
}

// newEventBroadcast returns the cloudevent broadcast of ev on topic, and its
// Meta. The bytes are copied: the payload of an inbound message aliases the
// transport's read buffer, and a cluster adapter (or a history) may hold a
// broadcast longer than Publish.
func newEventBroadcast(topic string, ev Event, except *channels.Socket) (*pubsub.Broadcast, *eventMeta) {
	b := pubsub.NewBroadcast(topic, EventCloudEvent, bytes.Clone(ev.Raw))
	meta := &eventMeta{typ: ev.Type}
	b.Meta = meta
	if except != nil {
		channels.Except(except)(b)
	}
	return b, meta
}

// joined and left count the members of topic.
func (svc *Service) joined(topic string) {
	svc.mu.Lock()
	svc.members[topic]++
	svc.mu.Unlock()
}

func (svc *Service) left(topic string) {
	svc.mu.Lock()
	if svc.members[topic]--; svc.members[topic] <= 0 {
		delete(svc.members, topic)
	}
	svc.mu.Unlock()
}

// Topics returns the events topics that have members on this node.
func (svc *Service) Topics() []string {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	out := make([]string, 0, len(svc.members))
	for t := range svc.members {
		out = append(out, t)
	}
	return out
}
