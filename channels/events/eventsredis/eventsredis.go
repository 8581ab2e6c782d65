// Package eventsredis keeps the events channel's history (events.History)
// in Redis, for a cluster of nodes on the Redis adapter
// (channels/pubsub/redis): a member that drops off one node resumes on
// any other.
//
// # Data
//
// Each room is a Redis stream, "<prefix>:hs:<room>", of its events, oldest
// first; an entry holds the publishing node's id (n), its Record.Seq (s),
// the event's id (i), type (t) and bytes (e). XADD caps it near the size
// (MAXLEN ~, which trims whole stream nodes and so keeps up to about twice
// as many; reads count exactly), and each write renews the stream's expiry
// to the TTL, so a room idle for that long costs nothing. Next to it,
// "<prefix>:hm:<room>" is a hash of the Seq each node wrote last.
//
// # Order
//
// A node writes an event with PublishWith: the XADD runs in the pipeline
// that carries the broadcast to the other nodes, right before its PUBLISH.
// Redis therefore has the event in the stream before any other node
// receives it. The publishing node delivers to its own members first,
// before Redis has it; a read on that node first waits (polling, up to
// its context) until the hash says Redis has every event the node
// published in the room, so that a member resuming there misses none.
//
// The other nodes get the event after it is in the stream, but a member of
// the publishing node may have it earlier: one that drops and rejoins
// another node at once may ask for an id not in the stream yet (a read
// looks again for 155 ms before answering not found), and may then receive
// there, live, events it already has. So a read also returns the SHA-1 of
// the recent entries of other nodes up to the id (events.Page.Earlier),
// which the resume drops.
//
// A read runs as one Lua script, atomically: it walks the stream from the
// newest entry back to the id asked for, and on over the entries of the
// last 10 seconds, so its cost is that of the events it returns and of the
// recent ones, plus the whole stream when the id is not there.
//
// # Limits
//
// A pipeline sent again after a failure (the adapter retries) may add an
// entry twice; reads skip the second copy (same node and Seq). Entries
// written by two nodes at the same instant may be in the stream in an
// order other than the one in which some node delivered them; with
// publishers on several nodes in one room, a resume at exactly such a
// point may repeat or skip one of them.
package eventsredis

import (
	"context"
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
)

// pendingPoll is how often a read asks again while the node's own events
// are still on their way to Redis, and pendingLimit how long it asks: an
// event that takes longer is stuck in a failing pipeline (or Redis lost
// it), and the read fails rather than miss it.
const (
	pendingPoll  = 2 * time.Millisecond
	pendingLimit = time.Second
)

// earlierWindow and earlierMax bound the events before the id whose sums
// a read returns (Page.Earlier): an event of another node reaches this
// node's subscribers milliseconds after it reached the stream, seconds
// when a node is overloaded.
const (
	earlierWindow = 10 * time.Second
	earlierMax    = 1000
)

// missingRetries are the waits before a read looks again for an id it did
// not find: a member may have received the event from its node before
// that node's write reached Redis, and rejoined on another node at once.
// They cost a join whose id is really gone 155 ms, before it reloads.
var missingRetries = []time.Duration{5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 80 * time.Millisecond}

// Config configures a History. PubSub is required; the zero value of every
// other field means its default.
type Config struct {
	// PubSub is the cluster adapter: the history uses its client, key
	// prefix and node id.
	PubSub *redis.PubSub
	// Size is the most events kept per room. Zero means
	// events.DefaultHistorySize (100).
	Size int
	// TTL is how long an event is kept. Zero means events.DefaultHistoryTTL
	// (5 minutes).
	TTL time.Duration
	// Now returns the current time (the sweep of this node's marks). Zero
	// means time.Now.
	Now func() time.Time
}

// History implements events.History in Redis. It is safe for concurrent
// use.
type History struct {
	client goredis.UniversalClient
	ps     *redis.PubSub
	node   string
	size   int
	ttl    time.Duration
	now    func() time.Time

	mu        sync.Mutex
	published map[string]mark // room -> the last event this node published there
	nextSweep time.Time

	reads reads
}

// mark is the Seq of the last event this node published in a room.
type mark struct {
	seq uint64
	at  time.Time
}

// New returns a History on cfg.PubSub's Redis.
func New(cfg Config) (*History, error) {
	if cfg.PubSub == nil {
		return nil, errors.New("eventsredis: Config.PubSub is required")
	}
	if cfg.Size <= 0 {
		cfg.Size = events.DefaultHistorySize
	}
	if cfg.TTL <= 0 {
		cfg.TTL = events.DefaultHistoryTTL
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &History{
		client:    cfg.PubSub.Client(),
		ps:        cfg.PubSub,
		node:      cfg.PubSub.NodeID(),
		size:      cfg.Size,
		ttl:       cfg.TTL,
		now:       cfg.Now,
		published: make(map[string]mark),
	}, nil
}

func (h *History) streamKey(room string) string { return h.ps.Key("hs:" + room) }
func (h *History) marksKey(room string) string  { return h.ps.Key("hm:" + room) }

// publisherWith is a PubSub that can run commands in the pipeline of a
// broadcast: *redis.PubSub, or one built on it (the Phoenix bridge).
type publisherWith interface {
	PublishWith(b *pubsub.Broadcast, before func(ctx context.Context, pipe goredis.Pipeliner)) error
}

// Publish implements events.History: the event goes into the room's stream
// in the pipeline of b, right before its PUBLISH. ps must be, or be built
// on, the PubSub of Config.
func (h *History) Publish(ps pubsub.PubSub, room string, rec events.Record, b *pubsub.Broadcast) error {
	pw, ok := ps.(publisherWith)
	if !ok {
		return fmt.Errorf("eventsredis: %T cannot write the history with its broadcasts (no PublishWith)", ps)
	}
	prev := h.setMark(room, mark{seq: rec.Seq, at: h.now()})
	seq := strconv.FormatUint(rec.Seq, 10)
	stream, marks := h.streamKey(room), h.marksKey(room)
	err := pw.PublishWith(b, func(ctx context.Context, pipe goredis.Pipeliner) {
		pipe.XAdd(ctx, &goredis.XAddArgs{
			Stream: stream,
			MaxLen: int64(h.size),
			Approx: true,
			Values: []any{"n", h.node, "s", seq, "i", rec.ID, "t", rec.Type, "e", rec.Raw},
		})
		pipe.HSet(ctx, marks, h.node, seq)
		pipe.PExpire(ctx, stream, h.ttl)
		pipe.PExpire(ctx, marks, h.ttl)
	})
	if err != nil {
		// Not on its way to Redis (queue full, closing): reads must not
		// wait for it. Members of this node got it; it is not in the
		// history, so resuming after it is not recovered.
		h.setMark(room, prev)
	}
	return err
}

// setMark records m as room's last published event and returns the one
// before; a zero m forgets the room.
func (h *History) setMark(room string, m mark) mark {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if now.After(h.nextSweep) {
		// Past the TTL the stream has no event of that age left to wait for.
		for r, old := range h.published {
			if now.Sub(old.at) > h.ttl {
				delete(h.published, r)
			}
		}
		h.nextSweep = now.Add(h.ttl / 2)
	}
	prev := h.published[room]
	if m.seq == 0 {
		delete(h.published, room)
	} else {
		h.published[room] = m
	}
	return prev
}

// lastPublished returns the Seq of the last event this node published in
// room within the TTL (0 when none): older ones left Redis with the room's
// keys, so a read must not wait for them.
func (h *History) lastPublished(room string) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.published[room]
	if h.now().Sub(m.at) > h.ttl {
		return 0
	}
	return m.seq
}

//go:embed since.lua
var sinceLua string

var sinceScript = goredis.NewScript(sinceLua)

// Since implements events.History with one script run (EVALSHA), or more
// while this node's last events in the room are still on their way to
// Redis. Concurrent reads of the same page share one run, as long as it
// starts after each of them was asked (see reads): when a node drains,
// its members rejoin elsewhere together, all after the same event. The
// page's slices are shared between them and must not be modified.
func (h *History) Since(ctx context.Context, room, after string, limit int) (events.Page, error) {
	f := h.reads.join(readKey{room, after, limit}, func(f *flight) {
		// The read outlives a caller that gives up: others may wait for it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), readLimit)
		defer cancel()
		f.page, f.err = h.read(ctx, room, after, limit)
	})
	select {
	case <-f.done:
		return f.page, f.err
	case <-ctx.Done():
		return events.Page{}, fmt.Errorf("eventsredis: reading the history of %q: %w", room, ctx.Err())
	}
}

// readLimit bounds one read, shared or not; pendingLimit bounds the part
// of it spent waiting for this node's events.
const readLimit = 5 * time.Second

// read runs the script until it has an answer.
func (h *History) read(ctx context.Context, room, after string, limit int) (events.Page, error) {
	waitFor := h.lastPublished(room)
	keys := []string{h.streamKey(room), h.marksKey(room)}
	retries := missingRetries
	var pendingSince time.Time
	for {
		res, err := sinceScript.Run(ctx, h.client, keys, h.node, waitFor, after, h.size, h.ttl.Milliseconds(), max(limit, 0),
			earlierWindow.Milliseconds(), earlierMax).StringSlice()
		if err != nil {
			return events.Page{}, fmt.Errorf("eventsredis: reading the history of %q: %w", room, err)
		}
		if len(res) == 0 {
			return events.Page{}, errors.New("eventsredis: empty answer from the history script")
		}
		switch res[0] {
		case "pending":
			if pendingSince.IsZero() {
				pendingSince = time.Now()
			}
			if time.Since(pendingSince) > pendingLimit || !sleep(ctx, pendingPoll) {
				return events.Page{}, fmt.Errorf("eventsredis: this node's events of %q are not in Redis after %v", room, time.Since(pendingSince).Round(time.Millisecond))
			}
			continue
		case "missing":
			if len(retries) > 0 && sleep(ctx, retries[0]) {
				retries = retries[1:]
				continue
			}
			return events.Page{Through: waitFor}, nil
		case "found":
			return h.page(res[1:], waitFor)
		}
		return events.Page{}, fmt.Errorf("eventsredis: unexpected answer %q from the history script", res[0])
	}
}

// readKey names what a read returns.
type readKey struct {
	room, after string
	limit       int
}

// flight is one read and the callers that wait for it.
type flight struct {
	key  readKey
	done chan struct{} // closed when page and err are set
	page events.Page
	err  error
}

// reads coalesces concurrent reads of one key. A caller may share a read
// that has not started yet, never one under way: that one may have read
// the stream before the caller subscribed to the room. So for each key
// there is at most the read running and the next one, which its first
// caller starts once the running one is over.
type reads struct {
	mu      sync.Mutex
	running map[readKey]*flight
	next    map[readKey]*flight
}

// join returns the flight of k the caller waits for: the next one if there
// is one, else a new one, run by read on a goroutine of its own once the
// running one (if any) is over.
func (r *reads) join(k readKey, read func(*flight)) *flight {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running == nil {
		r.running, r.next = make(map[readKey]*flight), make(map[readKey]*flight)
	}
	if f := r.next[k]; f != nil {
		return f
	}
	f := &flight{key: k, done: make(chan struct{})}
	running := r.running[k]
	if running == nil {
		r.running[k] = f
	} else {
		r.next[k] = f
	}
	go func() {
		if running != nil {
			<-running.done
			r.mu.Lock()
			delete(r.next, k)
			r.running[k] = f
			r.mu.Unlock()
		}
		read(f)
		r.mu.Lock()
		delete(r.running, k)
		r.mu.Unlock()
		close(f.done)
	}()
	return f
}

// sleep waits d, or reports false when ctx ends first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// page decodes the script's "found" answer: more, count, then n, s, i, t,
// e per event, then the hex SHA-1 of each earlier event.
func (h *History) page(res []string, through uint64) (events.Page, error) {
	malformed := errors.New("eventsredis: malformed answer from the history script")
	if len(res) < 2 {
		return events.Page{}, malformed
	}
	n, err := strconv.Atoi(res[1])
	if err != nil || n < 0 || len(res) < 2+5*n {
		return events.Page{}, malformed
	}
	p := events.Page{Found: true, More: res[0] == "1", Through: through}
	if n > 0 {
		p.Events = make([]events.Record, 0, n)
	}
	for i := 2; i < 2+5*n; i += 5 {
		rec := events.Record{ID: res[i+2], Type: res[i+3], Raw: []byte(res[i+4])}
		if res[i] == h.node {
			seq, err := strconv.ParseUint(res[i+1], 10, 64)
			if err != nil {
				return events.Page{}, fmt.Errorf("eventsredis: malformed seq %q in the history", res[i+1])
			}
			rec.Seq = seq
			p.Through = max(p.Through, seq)
		}
		p.Events = append(p.Events, rec)
	}
	for _, x := range res[2+5*n:] {
		var sum [sha1.Size]byte
		if k, err := hex.Decode(sum[:], []byte(x)); err != nil || k != sha1.Size {
			return events.Page{}, malformed
		}
		p.Earlier = append(p.Earlier, sum)
	}
	return p, nil
}
