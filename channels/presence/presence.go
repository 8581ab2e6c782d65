package presence

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Events Presence sends, as phoenix.js's Presence expects them.
const (
	// EventState is the push of a topic's whole state.
	EventState = "presence_state"
	// EventDiff is the broadcast of a change.
	EventDiff = "presence_diff"
)

var (
	// ErrAlreadyTracked is returned by Track when the socket already
	// tracks the key (Phoenix: {:error, {:already_tracked, ...}}).
	ErrAlreadyTracked = errors.New("presence: key already tracked by this socket")
	// ErrNotTracked is returned by Update when the socket does not track
	// the key (Phoenix: {:error, :nopresence}).
	ErrNotTracked = errors.New("presence: key not tracked by this socket")
)

var emptyState = []byte("{}")

// Presence tracks who is on which topic on this node and broadcasts every
// change through a PubSub. One Presence serves every connection of a node;
// it is safe for concurrent use.
//
// Changes to one topic are serialized, and their diffs are published in
// that order while the topic is locked: Publish must not block, as the
// PubSub contract already requires of Deliver.
//
// With a Cluster (SetCluster), the state spans every node of the cluster.
type Presence struct {
	ps   atomic.Pointer[pubsubRef] // see pubsub.go
	refs *refSource

	cluster Cluster       // nil on one node
	loads   chan struct{} // with a Cluster: bounds the loads in flight

	mu     sync.RWMutex
	topics map[string]*topic
}

// New returns a Presence that broadcasts diffs on ps, which must be the
// PubSub of the Muxes whose sockets it tracks (the endpoint's,
// server.Config.PubSub). A nil ps means the PubSub of the sockets it
// tracks: the first Track adopts it, so a Presence made with New(nil)
// works with whatever PubSub the endpoint chose, its default included.
// Either way, Track refuses a socket of another PubSub (ErrOtherPubSub)
// rather than broadcast where nobody listens.
func New(ps pubsub.PubSub) *Presence {
	p := &Presence{refs: newRefSource(), topics: make(map[string]*topic)}
	if ps != nil {
		p.ps.Store(&pubsubRef{ps: ps})
	}
	return p
}

// Track adds s to its topic under key with meta, a JSON object (nil means
// {}), and broadcasts the join. The client sees meta with "phx_ref" added.
// A key tracked from several sockets has one meta per socket, in track
// order; a socket tracks a key once (ErrAlreadyTracked). A meta that is
// not a JSON object is refused (ErrMetaNotObject, or the syntax error).
//
// Do not track from a socket whose channel has ended: nothing would
// untrack it.
func (p *Presence) Track(s *channels.Socket, key string, meta json.RawMessage) error {
	if err := p.adopt(s); err != nil {
		return err
	}
	r := p.refs.next()
	raw, err := encodeMeta(meta, r, nil)
	if err != nil {
		return err
	}
	t := p.acquire(s.Topic(), true)
	mine := t.sockets[s]
	if mine[key] != nil {
		p.release(t)
		return ErrAlreadyTracked
	}
	if mine == nil {
		mine = make(map[string]*tracked, 1)
		t.sockets[s] = mine
	}
	m := &tracked{raw: raw, ref: r}
	t.add(key, m)
	mine[key] = m
	var c Change
	if p.cluster != nil {
		c.Joins = []Member{member(key, m)}
	}
	err = t.publish(p, diff([]*tracked{m}, nil), &c)
	repl := t.repl
	p.release(t)
	if repl != nil {
		// Outside the lock: the replica of a new topic subscribes and
		// loads; PushState waits for it.
		repl.start()
	}
	return err
}

// Untrack removes s's presence under key and broadcasts the leave. A key
// s does not track is ignored. The error is the PubSub's.
func (p *Presence) Untrack(s *channels.Socket, key string) error {
	t := p.acquire(s.Topic(), false)
	if t == nil {
		return nil
	}
	defer p.release(t)
	mine := t.sockets[s]
	m := mine[key]
	if m == nil {
		return nil
	}
	t.remove(key, m)
	delete(mine, key)
	if len(mine) == 0 {
		delete(t.sockets, s)
	}
	var c Change
	if p.cluster != nil {
		c.Leaves = []Member{member(key, m)}
	}
	return t.publish(p, diff(nil, []*tracked{m}), &c)
}

// Update replaces the meta of s's presence under key and broadcasts one
// diff with the new meta in joins and the old one in leaves. The new meta
// carries a new "phx_ref" and the old one as "phx_ref_prev". It moves to
// the end of the key's metas, where phoenix.js's handling of the diff puts
// it on every client.
func (p *Presence) Update(s *channels.Socket, key string, meta json.RawMessage) error {
	t := p.acquire(s.Topic(), false)
	if t == nil {
		return ErrNotTracked
	}
	defer p.release(t)
	mine := t.sockets[s]
	old := mine[key]
	if old == nil {
		return ErrNotTracked
	}
	r := p.refs.next()
	raw, err := encodeMeta(meta, r, &old.ref)
	if err != nil {
		return err
	}
	m := &tracked{raw: raw, ref: r}
	t.replace(old, m)
	mine[key] = m
	var c Change
	if p.cluster != nil {
		c.Joins, c.Leaves = []Member{member(key, m)}, []Member{member(key, old)}
	}
	return t.publish(p, diff([]*tracked{m}, []*tracked{old}), &c)
}

// UntrackAll removes every presence of s and broadcasts them as leaves, in
// one diff. A channel's Terminate must call it, unless the channel is
// mounted through Wrap, which does. It is idempotent.
func (p *Presence) UntrackAll(s *channels.Socket) error {
	t := p.acquire(s.Topic(), false)
	if t == nil {
		return nil
	}
	defer p.release(t)
	mine := t.sockets[s]
	if len(mine) == 0 {
		return nil
	}
	delete(t.sockets, s)
	leaves := make([]*tracked, 0, len(mine))
	var c Change
	for key, m := range mine {
		t.remove(key, m)
		leaves = append(leaves, m)
		if p.cluster != nil {
			c.Leaves = append(c.Leaves, member(key, m))
		}
	}
	return t.publish(p, diff(nil, leaves), &c)
}

// List returns the state of topic as phoenix.js reads it:
// {"<key>":{"metas":[{...,"phx_ref":"..."},...]},...}, each key's metas in
// track order. The state is encoded once per change and shared with every
// caller until the next change: the bytes must not be modified.
//
// With a Cluster, it lists every node's presences: it may wait up to
// LoadWait for a topic's first load, and reads a topic with no member on
// this node from the Cluster.
func (p *Presence) List(topic string) json.RawMessage {
	t := p.acquire(topic, false)
	if t != nil {
		t = p.waitLoaded(t)
	}
	if t == nil {
		if p.cluster != nil {
			return p.loadState(topic)
		}
		return json.RawMessage(`{}`)
	}
	defer p.release(t)
	st := t.encoded()
	t.shared = true
	return st[:len(st):len(st)]
}

// PushState pushes the state of s's topic to its client:
// ["<join_ref>", null, topic, "presence_state", {...}]. A channel must call
// it after every join, rejoin included: phoenix.js holds diffs back until
// the state for the current join_ref arrives.
//
// Call it from the channel's AfterJoin (channels.AfterJoiner), once the
// socket is subscribed to its topic: every change is then either in the
// state or in a diff the socket receives. From Join, a change made by
// another connection before the Mux subscribes the socket would reach the
// client in neither.
//
// With a Cluster, the state holds every node's presences. PushState may
// wait up to LoadWait for a topic's first load (then pushes what this node
// has, and the rest follows as a presence_diff), and reads a topic with no
// member on this node from the Cluster.
func (p *Presence) PushState(s *channels.Socket) error {
	t := p.acquire(s.Topic(), false)
	if t != nil {
		t = p.waitLoaded(t)
	}
	if t == nil {
		if p.cluster != nil {
			return s.Push(EventState, p.loadState(s.Topic()))
		}
		return s.Push(EventState, emptyState)
	}
	defer p.release(t)
	if t.repl != nil && !t.repl.loaded {
		t.repl.exposed = true // the load's presences follow as a diff
	}
	// Pushed with the topic locked, so that no diff of a later change can
	// overtake it; Push copies the state into the frame.
	return s.Push(EventState, t.encoded())
}

// acquire returns the topic named name, locked, creating it if create is
// set; or nil.
func (p *Presence) acquire(name string, create bool) *topic {
	for {
		p.mu.RLock()
		t := p.topics[name]
		p.mu.RUnlock()
		if t == nil || t.dead.Load() {
			if !create {
				return nil
			}
			p.mu.Lock()
			if t = p.topics[name]; t == nil || t.dead.Load() {
				t = newTopic(name)
				if p.cluster != nil {
					t.repl = newReplica(p, t)
				}
				p.topics[name] = t
			}
			p.mu.Unlock()
		}
		t.mu.Lock()
		if !t.dead.Load() {
			if t.repl != nil {
				t.repl.applyInbox()
			}
			return t
		}
		t.mu.Unlock()
	}
}

// release unlocks t, forgetting it when no presence is tracked on this
// node any more.
func (p *Presence) release(t *topic) {
	if !t.empty() {
		t.unlock()
		return
	}
	t.dead.Store(true)
	t.mu.Unlock()
	p.mu.Lock()
	if p.topics[t.name] == t {
		delete(p.topics, t.name)
	}
	p.mu.Unlock()
	if t.repl != nil {
		t.repl.stop()
	}
}

// waitLoaded waits, with t released, until t's replica has been loaded
// once (up to LoadWait), and returns the topic acquired again: nil if it
// has no member on this node any more.
func (p *Presence) waitLoaded(t *topic) *topic {
	r := t.repl
	if r == nil || r.isReady {
		return t
	}
	ready, done, name := r.ready, r.done, t.name
	p.release(t)
	timer := time.NewTimer(LoadWait)
	defer timer.Stop()
	select {
	case <-ready:
	case <-done:
	case <-timer.C:
	}
	return p.acquire(name, false)
}
