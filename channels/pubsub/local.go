package pubsub

import (
	"hash/maphash"
	"sync"
	"time"
)

// localShards is how many independently locked parts Local's topic table
// has. A lookup locks one shard for reading only as long as a map read.
const localShards = 64

var shardSeed = maphash.MakeSeed()

// Local is the in-process PubSub. The zero value is ready to use.
//
// Locking is per topic: a publish holds its topic's read lock while it
// calls Deliver on the topic's subscribers, and nothing else. Subscribing to
// or unsubscribing from another topic never waits for it, so joins go on at
// full speed while a large fan-out runs elsewhere; a subscribe to the same
// topic waits for the publish in progress (and the publishes after it wait
// for the subscribe), which keeps each topic's deliveries in order. The
// table of topics is split into shards, each locked only for the map
// lookup or insert.
//
// Subscribers of a topic sit in a slice, so a publish walks contiguous
// memory; subscribe and unsubscribe are O(1) (swap-remove through an index).
type Local struct {
	// Observe, if set, is called after every Publish with the number of
	// subscribers Deliver was called on (before the channels' filters) and
	// how long that took, for metrics. It runs on the publisher's goroutine
	// and must not block. Set it before the Local is used.
	Observe func(b *Broadcast, delivered int, took time.Duration)

	shards [localShards]localShard
}

// localShard is one part of Local's topic table.
type localShard struct {
	mu     sync.RWMutex
	topics map[string]*topicSubs // guarded by mu; made on first use
	_      [24]byte              // a cache line per shard
}

// indexFrom is the subscriber count from which a topic keeps an index of
// positions; below it, unsubscribe scans the slice, and a topic of one
// member (a user's own topic, a small room) costs no map.
const indexFrom = 16

// topicSubs is one topic's subscribers.
type topicSubs struct {
	mu   sync.RWMutex // read-held across a publish's deliveries
	subs []Subscriber
	// index holds the positions of each subscriber in subs once the topic
	// has had indexFrom subscribers; nil before.
	index map[Subscriber][]int
	// removed is set, under mu, when the topic lost its last subscriber
	// and is taken out of the shard: a Subscribe that looked it up before
	// that looks again.
	removed bool
}

// NewLocal returns an empty Local.
func NewLocal() *Local { return &Local{} }

func (l *Local) shard(topic string) *localShard {
	return &l.shards[maphash.String(shardSeed, topic)%localShards]
}

// lookup returns topic's subscribers, or nil.
func (sh *localShard) lookup(topic string) *topicSubs {
	sh.mu.RLock()
	t := sh.topics[topic]
	sh.mu.RUnlock()
	return t
}

// Subscribe implements PubSub.
func (l *Local) Subscribe(topic string, s Subscriber) {
	sh := l.shard(topic)
	for {
		t := sh.lookup(topic)
		if t == nil {
			sh.mu.Lock()
			if sh.topics == nil {
				sh.topics = make(map[string]*topicSubs)
			}
			if t = sh.topics[topic]; t == nil {
				t = &topicSubs{}
				sh.topics[topic] = t
			}
			sh.mu.Unlock()
		}
		t.mu.Lock()
		if t.removed {
			t.mu.Unlock()
			continue
		}
		t.add(s)
		t.mu.Unlock()
		return
	}
}

// Unsubscribe implements PubSub.
func (l *Local) Unsubscribe(topic string, s Subscriber) {
	sh := l.shard(topic)
	t := sh.lookup(topic)
	if t == nil {
		return
	}
	t.mu.Lock()
	if !t.remove(s) || len(t.subs) > 0 {
		t.mu.Unlock()
		return
	}
	t.removed = true
	t.mu.Unlock()
	sh.mu.Lock()
	if sh.topics[topic] == t {
		delete(sh.topics, topic)
	}
	sh.mu.Unlock()
}

// add appends a subscription of s. The caller holds t.mu.
func (t *topicSubs) add(s Subscriber) {
	if t.index == nil && len(t.subs)+1 >= indexFrom {
		t.index = make(map[Subscriber][]int, len(t.subs)+1)
		for i, o := range t.subs {
			t.index[o] = append(t.index[o], i)
		}
	}
	if t.index != nil {
		t.index[s] = append(t.index[s], len(t.subs))
	}
	t.subs = append(t.subs, s)
}

// remove takes one subscription of s out of t and reports whether there
// was one. The caller holds t.mu.
func (t *topicSubs) remove(s Subscriber) bool {
	if t.index == nil {
		return t.removeUnindexed(s)
	}
	pos := t.index[s]
	if len(pos) == 0 {
		return false
	}
	i := pos[len(pos)-1]
	if len(pos) == 1 {
		delete(t.index, s)
	} else {
		t.index[s] = pos[:len(pos)-1]
	}
	last := len(t.subs) - 1
	if i != last {
		moved := t.subs[last]
		t.subs[i] = moved
		mp := t.index[moved]
		for k, p := range mp {
			if p == last {
				mp[k] = i
				break
			}
		}
	}
	t.subs[last] = nil
	t.subs = t.subs[:last]
	return true
}

// removeUnindexed is remove for a topic without an index: it takes out
// the last subscription of s, as remove does.
func (t *topicSubs) removeUnindexed(s Subscriber) bool {
	last := len(t.subs) - 1
	for i := last; i >= 0; i-- {
		if t.subs[i] == s {
			t.subs[i] = t.subs[last]
			t.subs[last] = nil
			t.subs = t.subs[:last]
			return true
		}
	}
	return false
}

// Publish implements PubSub. Deliver runs under the topic's read lock,
// which is why it must not block.
func (l *Local) Publish(b *Broadcast) error {
	if l.Observe == nil {
		l.publish(b)
		return nil
	}
	start := time.Now()
	n := l.publish(b)
	l.Observe(b, n, time.Since(start))
	return nil
}

// publish delivers b and returns to how many subscribers.
func (l *Local) publish(b *Broadcast) int {
	t := l.shard(b.Topic).lookup(b.Topic)
	if t == nil {
		return 0
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	n := 0
	for _, s := range t.subs {
		if s != b.Except {
			s.Deliver(b)
			n++
		}
	}
	return n
}

// Count returns the number of subscriptions to topic.
func (l *Local) Count(topic string) int {
	t := l.shard(topic).lookup(topic)
	if t == nil {
		return 0
	}
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.subs)
}

// Topics returns the topics that have at least one subscriber.
func (l *Local) Topics() []string {
	var out []string
	for i := range l.shards {
		sh := &l.shards[i]
		sh.mu.RLock()
		for t := range sh.topics {
			out = append(out, t)
		}
		sh.mu.RUnlock()
	}
	if out == nil {
		out = []string{}
	}
	return out
}
