package events

import (
	"context"
	"crypto/sha1"
	"errors"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Defaults of the history (the binary's --history-size and --history-ttl).
// 100 events cover a reconnect of a few seconds in a busy room and of
// minutes in a quiet one; past that a client is better off reloading its
// state than receiving a burst. Five minutes outlast phoenix.js's
// reconnect backoff, a laptop lid or a tunnel, and a rolling deploy that
// drains one node at a time.
const (
	DefaultHistorySize = 100
	DefaultHistoryTTL  = 5 * time.Minute
)

// History keeps the recent CloudEvents of each room, so that a member who
// rejoins with the id of the last event it received gets what it missed
// (docs/events-channel.md, "Resume after reconnect"). NewMemoryHistory
// keeps them in this process; package eventsredis keeps them in Redis for
// a cluster.
//
// Implementations are safe for concurrent use.
type History interface {
	// Publish records rec as the newest event of room, then publishes b (a
	// cloudevent broadcast whose Payload is rec.Raw) on ps. Since must see
	// rec before b reaches any subscriber on this node and, in a cluster,
	// on any other node. The Service calls it for every cloudevent
	// broadcast of a room (a member's push, Service.Broadcast, the HTTP
	// ingress) with the room's lock held: calls for one room never
	// overlap, and rec.Seq grows from one to the next. It runs on the
	// publisher's goroutine and returns ps's error.
	Publish(ps pubsub.PubSub, room string, rec Record, b *pubsub.Broadcast) error
	// Since returns the events of room broadcast after the newest event
	// whose id is after, oldest first: at most limit of them (the oldest
	// ones; limit <= 0 means all that are kept), or from the oldest kept
	// when after is "". Page.Found is false when no kept event has that
	// id: it expired, was pushed out, or never was. It returns by the time
	// ctx ends at the latest. It may be called concurrently with anything;
	// the page's slices may be shared with other callers and must not be
	// modified.
	Since(ctx context.Context, room, after string, limit int) (Page, error)
}

// Record is one event as a History keeps it.
type Record struct {
	// ID and Type are the event's id and type attributes.
	ID, Type string
	// Raw is the event exactly as it was broadcast. It is shared and must
	// not be modified.
	Raw []byte
	// Seq numbers the events this process published, increasing in the
	// order of each room's broadcasts; it is 0 for an event another node
	// published. A replay uses it to tell which live broadcasts it already
	// sent.
	Seq uint64
}

// Page is what History.Since returns.
type Page struct {
	// Found reports whether the event after which the page starts is in
	// the history (always true for a page from the oldest event).
	Found bool
	// Events are the events after it, oldest first.
	Events []Record
	// More reports that the limit left newer events out.
	More bool
	// Through is a Seq of this process at or above that of every event
	// this process published in the room before the read: each of those
	// is in Events or came before the event Events follow. A broadcast of
	// this process with a higher Seq is newer than the page.
	Through uint64
	// Earlier are the SHA-1 sums (of Raw) of recent events of other nodes
	// that came before the event Events follow, and that may still reach
	// this node's subscribers after the read: their node delivered them to
	// its own members before they were in the history, so a member that
	// left that node may have them already. A resume drops them.
	Earlier [][sha1.Size]byte
}

// ErrNoHistory is returned by Service.ReadHistory when the service keeps
// no history (Config.History is nil).
var ErrNoHistory = errors.New("events: history is off")

// eventSeq numbers the events of every Service of the process (Record.Seq),
// so that a Seq identifies an event whatever Service published it.
var eventSeq atomic.Uint64

// roomLockStripes is the number of locks that serialize the publishes of
// rooms: rooms share a lock when their names hash alike, which only
// matters when both publish at the same instant.
const roomLockStripes = 256

// roomLocks serialize the publishes of each room while a History is on, so
// that the history of a room and its broadcasts have one order: a member
// resuming after an event gets exactly the events its room's other members
// got after it.
type roomLocks struct {
	seed  maphash.Seed
	locks [roomLockStripes]struct {
		sync.Mutex
		_ [56]byte // one cache line each: publishers of different rooms do not share one
	}
}

func (l *roomLocks) of(room string) *sync.Mutex {
	return &l.locks[maphash.String(l.seed, room)%roomLockStripes].Mutex
}

// publish broadcasts a valid event to topic, recording it in the history
// when there is one; except, if set, does not receive it.
func (svc *Service) publish(ps pubsub.PubSub, topic string, ev Event, except *channels.Socket) error {
	b, meta := newEventBroadcast(topic, ev, except)
	h := svc.cfg.History
	if h == nil {
		return ps.Publish(b)
	}
	room := topic[len(TopicPrefix):]
	mu := svc.rooms.of(room)
	mu.Lock()
	defer mu.Unlock()
	meta.seq = eventSeq.Add(1)
	return h.Publish(ps, room, Record{ID: ev.ID, Type: ev.Type, Raw: b.Payload, Seq: meta.seq}, b)
}

// ReadHistory returns the events of room after the event with id after (from
// the oldest kept when after is ""), at most limit of them; see
// History.Since. It returns ErrNoHistory when the service keeps none, and
// an error for an invalid room name.
func (svc *Service) ReadHistory(ctx context.Context, room, after string, limit int) (Page, error) {
	if svc.cfg.History == nil {
		return Page{}, ErrNoHistory
	}
	if !ValidRoom(room) {
		return Page{}, errInvalidRoom(room)
	}
	return svc.cfg.History.Since(ctx, room, after, limit)
}

// hashMemo is the content sum of one broadcast, so that a broadcast
// checked by many resuming members is summed once.
type hashMemo struct {
	seq uint64
	sum [sha1.Size]byte
}

// contentSum returns the SHA-1 sum of b's payload, memoized for the last
// broadcast asked about. SHA-1 is what a Redis script can compute (see
// Page.Earlier); it identifies, it does not protect.
func (svc *Service) contentSum(b *pubsub.Broadcast) [sha1.Size]byte {
	seq := b.Seq()
	if m := svc.lastHash.Load(); m != nil && seq != 0 && m.seq == seq {
		return m.sum
	}
	sum := sha1.Sum(b.Payload)
	if seq != 0 {
		svc.lastHash.Store(&hashMemo{seq: seq, sum: sum})
	}
	return sum
}
