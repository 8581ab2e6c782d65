package presence

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"

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
type Presence struct {
	ps   pubsub.PubSub
	refs *refSource

	mu     sync.RWMutex
	topics map[string]*topic
}

// New returns a Presence that broadcasts diffs on ps, which must be the
// PubSub of the Muxes whose sockets it tracks.
func New(ps pubsub.PubSub) *Presence {
	return &Presence{ps: ps, refs: newRefSource(), topics: make(map[string]*topic)}
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
	r := p.refs.next()
	raw, err := encodeMeta(meta, r, nil)
	if err != nil {
		return err
	}
	t := p.acquire(s.Topic(), true)
	defer p.release(t)
	mb := t.sockets[s]
	if mb == nil {
		mb = &member{sock: s}
		t.sockets[s] = mb
	}
	if mb.metas[key] != nil {
		return ErrAlreadyTracked
	}
	if mb.metas == nil {
		mb.metas = make(map[string]*tracked, 1)
	}
	m := &tracked{raw: raw, ref: r}
	t.add(key, m)
	mb.metas[key] = m
	return t.publish(p.ps, diff([]*tracked{m}, nil))
}

// Untrack removes s's presence under key and broadcasts the leave. A key
// s does not track is ignored. The error is the PubSub's.
func (p *Presence) Untrack(s *channels.Socket, key string) error {
	t := p.acquire(s.Topic(), false)
	if t == nil {
		return nil
	}
	defer p.release(t)
	mb := t.sockets[s]
	if mb == nil || mb.metas[key] == nil {
		return nil
	}
	m := mb.metas[key]
	t.remove(key, m)
	delete(mb.metas, key)
	if len(mb.metas) == 0 && mb.seen == nil {
		t.drop(mb)
	}
	return t.publish(p.ps, diff(nil, []*tracked{m}))
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
	mb := t.sockets[s]
	if mb == nil || mb.metas[key] == nil {
		return ErrNotTracked
	}
	old := mb.metas[key]
	r := p.refs.next()
	raw, err := encodeMeta(meta, r, &old.ref)
	if err != nil {
		return err
	}
	m := &tracked{raw: raw, ref: r}
	t.replace(old, m)
	mb.metas[key] = m
	return t.publish(p.ps, diff([]*tracked{m}, []*tracked{old}))
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
	mb := t.sockets[s]
	if mb == nil {
		return nil
	}
	t.drop(mb)
	if len(mb.metas) == 0 {
		return nil
	}
	leaves := make([]*tracked, 0, len(mb.metas))
	for key, m := range mb.metas {
		t.remove(key, m)
		leaves = append(leaves, m)
	}
	return t.publish(p.ps, diff(nil, leaves))
}

// List returns the state of topic as phoenix.js reads it:
// {"<key>":{"metas":[{...,"phx_ref":"..."},...]},...}, each key's metas in
// track order. The state is encoded once per change and shared with every
// caller until the next change: the bytes must not be modified.
func (p *Presence) List(topic string) json.RawMessage {
	t := p.acquire(topic, false)
	if t == nil {
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
// the state for the current join_ref arrives. Calling it from Join is
// right: the Mux sends it after the join reply.
func (p *Presence) PushState(s *channels.Socket) error {
	t := p.acquire(s.Topic(), false)
	if t == nil {
		return s.Push(EventState, emptyState)
	}
	defer p.release(t)
	if mb := t.sockets[s]; mb != nil && mb.seen != nil && !mb.watching {
		mb.watching = true
		t.watchers = append(t.watchers, mb)
	}
	// Pushed with the topic locked, so that no diff of a later change can
	// overtake it; Push copies the state into the frame.
	return s.Push(EventState, t.encoded())
}

// observe registers s as reporting its diffs to seen (see Wrap).
func (p *Presence) observe(s *channels.Socket, seen *atomic.Uint64) {
	t := p.acquire(s.Topic(), true)
	defer p.release(t)
	if mb := t.sockets[s]; mb != nil {
		mb.seen = seen
		return
	}
	t.sockets[s] = &member{sock: s, seen: seen}
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
				p.topics[name] = t
			}
			p.mu.Unlock()
		}
		t.mu.Lock()
		if !t.dead.Load() {
			return t
		}
		t.mu.Unlock()
	}
}

// release unlocks t, forgetting it when it became empty.
func (p *Presence) release(t *topic) {
	if !t.empty() {
		t.mu.Unlock()
		return
	}
	t.dead.Store(true)
	t.mu.Unlock()
	p.mu.Lock()
	if p.topics[t.name] == t {
		delete(p.topics, t.name)
	}
	p.mu.Unlock()
}
