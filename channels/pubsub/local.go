package pubsub

import (
	"sync"
	"time"
)

// Local is the in-process PubSub. The zero value is ready to use.
//
// Subscribers of a topic sit in a slice, so a publish walks contiguous
// memory; subscribe and unsubscribe are O(1) (swap-remove through an index).
type Local struct {
	// Observe, if set, is called after every Publish with the number of
	// subscribers Deliver was called on (before the channels' filters) and
	// how long that took, for metrics. It runs on the publisher's goroutine
	// and must not block. Set it before the Local is used.
	Observe func(b *Broadcast, delivered int, took time.Duration)

	mu     sync.RWMutex
	topics map[string]*topicSubs
}

type topicSubs struct {
	subs  []Subscriber
	index map[Subscriber][]int // positions of each subscriber in subs
}

// NewLocal returns an empty Local.
func NewLocal() *Local { return &Local{} }

// Subscribe implements PubSub.
func (l *Local) Subscribe(topic string, s Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.topics == nil {
		l.topics = make(map[string]*topicSubs)
	}
	t := l.topics[topic]
	if t == nil {
		t = &topicSubs{index: make(map[Subscriber][]int)}
		l.topics[topic] = t
	}
	t.index[s] = append(t.index[s], len(t.subs))
	t.subs = append(t.subs, s)
}

// Unsubscribe implements PubSub.
func (l *Local) Unsubscribe(topic string, s Subscriber) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.topics[topic]
	if t == nil {
		return
	}
	pos := t.index[s]
	if len(pos) == 0 {
		return
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
	if len(t.subs) == 0 {
		delete(l.topics, topic)
	}
}

// Publish implements PubSub. Deliver runs under a read lock, which is why
// it must not block.
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
	l.mu.RLock()
	defer l.mu.RUnlock()
	t := l.topics[b.Topic]
	if t == nil {
		return 0
	}
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
	l.mu.RLock()
	defer l.mu.RUnlock()
	if t := l.topics[topic]; t != nil {
		return len(t.subs)
	}
	return 0
}

// Topics returns the topics that have at least one subscriber.
func (l *Local) Topics() []string {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]string, 0, len(l.topics))
	for t := range l.topics {
		out = append(out, t)
	}
	return out
}
