package presence

import (
	"encoding/json"
	"sync"
	"sync/atomic"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// topic is the presence state of one topic. Every field but name and dead
// is guarded by mu.
//
// Keys sit in a doubly linked list in order of first track, and each key's
// metas in a doubly linked list in track order, so track, untrack and
// update are O(1) and the state encodes in one walk with no sorting. Each
// meta is kept encoded (phx_ref included), so encoding the state or a diff
// only copies bytes.
type topic struct {
	name string
	dead atomic.Bool // removed from Presence.topics; acquire again

	mu          sync.Mutex
	keys        map[string]*entry
	first, last *entry
	sockets     map[*channels.Socket]map[string]*tracked // what each socket tracks, by key
	nkeys       int
	nmetas      int
	nbytes      int      // encoded keys and metas
	state       []byte   // encoded state, nil when stale; see encoded
	shared      bool     // state was returned by List: copy before appending
	repl        *replica // the other nodes' presences, with a Cluster; set at creation
}

// entry is one key and its metas.
type entry struct {
	quoted     []byte // the key as a JSON string
	prev, next *entry
	head, tail *tracked
}

// tracked is one presence: a socket under a key.
type tracked struct {
	raw        []byte // the meta object, phx_ref included
	ref        ref
	entry      *entry
	prev, next *tracked
}

func newTopic(name string) *topic {
	return &topic{name: name, keys: make(map[string]*entry), sockets: make(map[*channels.Socket]map[string]*tracked)}
}

// empty reports whether no presence is tracked on this node any more: the
// topic is then forgotten, with the other nodes' presences it replicated.
func (t *topic) empty() bool { return len(t.sockets) == 0 }

// unlock releases t.mu, then applies the diffs other nodes sent meanwhile
// if the lock is still free (see replica).
func (t *topic) unlock() {
	t.mu.Unlock()
	if t.repl != nil {
		t.repl.drain()
	}
}

// add appends m to key's metas.
func (t *topic) add(key string, m *tracked) {
	e := t.keys[key]
	if e == nil {
		q, _ := json.Marshal(key) // a string always marshals
		e = &entry{quoted: q, prev: t.last}
		if t.last == nil {
			t.first = e
		} else {
			t.last.next = e
		}
		t.last = e
		t.keys[key] = e
		t.nkeys++
		t.nbytes += len(q)
	}
	m.entry, m.prev, m.next = e, e.tail, nil
	if e.tail == nil {
		e.head = m
	} else {
		e.tail.next = m
	}
	e.tail = m
	t.nmetas++
	t.nbytes += len(m.raw)
	switch {
	case t.state == nil:
	case e.head == m:
		// A new key goes last in the state too: append it in place of the
		// closing brace instead of encoding the state again. A join to a
		// topic of 10,000 members then costs no state encoding (1 ms, see
		// BenchmarkEncodeState), only the copy into the push.
		if t.shared {
			// List handed these bytes out: copy before writing.
			t.state = append(make([]byte, 0, len(t.state)+len(t.state)/4+len(m.raw)+len(e.quoted)+16), t.state...)
			t.shared = false
		}
		t.state = t.state[:len(t.state)-1]
		if t.nkeys > 1 {
			t.state = append(t.state, ',')
		}
		t.state = append(appendKey(t.state, e, nil, m), '}')
	default:
		t.state = nil
	}
}

// unlink takes m out of the key's list of metas.
func (e *entry) unlink(m *tracked) {
	if m.prev == nil {
		e.head = m.next
	} else {
		m.prev.next = m.next
	}
	if m.next == nil {
		e.tail = m.prev
	} else {
		m.next.prev = m.prev
	}
}

// remove unlinks m, and its key when it was the key's last meta.
func (t *topic) remove(key string, m *tracked) {
	e := m.entry
	e.unlink(m)
	t.nmetas--
	t.nbytes -= len(m.raw)
	t.state = nil
	if e.head != nil {
		return
	}
	if e.prev == nil {
		t.first = e.next
	} else {
		e.prev.next = e.next
	}
	if e.next == nil {
		t.last = e.prev
	} else {
		e.next.prev = e.prev
	}
	delete(t.keys, key)
	t.nkeys--
	t.nbytes -= len(e.quoted)
}

// replace removes old and appends m to the same key. The new meta goes to
// the end, as phoenix.js puts it when it applies the update's diff (joins
// first, then leaves), so that List agrees with what clients already show.
func (t *topic) replace(old, m *tracked) {
	e := old.entry
	e.unlink(old)
	m.entry, m.prev, m.next = e, e.tail, nil
	if e.tail == nil {
		e.head = m
	} else {
		e.tail.next = m
	}
	e.tail = m
	t.nbytes += len(m.raw) - len(old.raw)
	t.state = nil
}

// encoded returns the state {"<key>":{"metas":[...]},...}. It is cached
// until a change other than a new key, which add appends in place (after
// copying it if List shared it).
func (t *topic) encoded() []byte {
	if t.state != nil {
		return t.state
	}
	// Each key adds `"k":{"metas":[` ... `]}` and a comma; each meta but a
	// key's first a comma. A quarter more leaves room for new keys.
	n := 2 + t.nbytes + t.nkeys*(len(`:{"metas":[]},`)) + t.nmetas
	b := make([]byte, 0, n+n/4)
	b = append(b, '{')
	for e := t.first; e != nil; e = e.next {
		if e != t.first {
			b = append(b, ',')
		}
		b = appendKey(b, e, e.head, nil)
	}
	t.state, t.shared = append(b, '}'), false
	return t.state
}

// appendKey appends "<key>":{"metas":[...]} with the metas from m to the
// end of the key's list, or only m when only is set.
func appendKey(b []byte, e *entry, m *tracked, only *tracked) []byte {
	b = append(b, e.quoted...)
	b = append(b, `:{"metas":[`...)
	if only != nil {
		b = append(b, only.raw...)
	} else {
		for ; m != nil; m = m.next {
			if m != e.head {
				b = append(b, ',')
			}
			b = append(b, m.raw...)
		}
	}
	return append(b, ']', '}')
}

// diff encodes {"joins":{...},"leaves":{...}}. A socket has at most one
// meta per key, so each key appears once in joins and once in leaves.
func diff(joins, leaves []*tracked) []byte {
	n := len(`{"joins":{},"leaves":{}}`)
	for _, m := range joins {
		n += len(m.entry.quoted) + len(m.raw) + len(`:{"metas":[]},`)
	}
	for _, m := range leaves {
		n += len(m.entry.quoted) + len(m.raw) + len(`:{"metas":[]},`)
	}
	b := make([]byte, 0, n)
	b = append(b, `{"joins":{`...)
	for i, m := range joins {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, m.entry, nil, m)
	}
	b = append(b, `},"leaves":{`...)
	for i, m := range leaves {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendKey(b, m.entry, nil, m)
	}
	return append(b, '}', '}')
}

// publish broadcasts a presence_diff on the topic; t.mu is held, so diffs
// go out in the order the state changed. With a Cluster, c (Joins and
// Leaves of this node) goes to its store with it.
func (t *topic) publish(p *Presence, payload []byte, c *Change) error {
	b := pubsub.NewBroadcast(t.name, EventDiff, payload)
	if p.cluster == nil {
		return p.pubsub().Publish(b)
	}
	b.Meta = sentHere{}
	c.Topic, c.Empty = t.name, t.empty()
	return p.cluster.Publish(b, *c)
}
