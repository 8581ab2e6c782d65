package redis

import (
	"context"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// subscribeTimeout bounds one SUBSCRIBE or UNSUBSCRIBE command.
const subscribeTimeout = 2 * time.Second

// subscriptions is the set of topics this node wants from Redis (those with
// a local subscriber) and the confirmations the first subscribers wait for.
// The manage goroutine brings the Redis subscription in line with it.
type subscriptions struct {
	mu     sync.Mutex
	wanted map[string]*interest
	dirty  map[string]struct{} // topics whose Redis subscription may be out of date
	wake   chan struct{}       // has a value when dirty is not empty
	conn   *goredis.PubSub     // the live subscription, nil while down
}

// interest is one wanted topic.
type interest struct {
	n         int           // local subscriptions
	confirmed chan struct{} // closed when Redis confirms the subscription
	done      bool          // confirmed is closed
}

func newSubscriptions() *subscriptions {
	return &subscriptions{wanted: make(map[string]*interest), dirty: make(map[string]struct{}), wake: make(chan struct{}, 1)}
}

// add counts a local subscription to topic. For the first, it returns the
// channel closed when Redis confirms the node's subscription.
func (s *subscriptions) add(topic string) <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.wanted[topic]
	if in != nil {
		in.n++
		return nil
	}
	in = &interest{n: 1, confirmed: make(chan struct{})}
	s.wanted[topic] = in
	s.markDirty(topic)
	return in.confirmed
}

// remove uncounts a local subscription to topic.
func (s *subscriptions) remove(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.wanted[topic]
	if in == nil {
		return
	}
	if in.n--; in.n == 0 {
		delete(s.wanted, topic)
		s.markDirty(topic)
	}
}

func (s *subscriptions) markDirty(topic string) {
	s.dirty[topic] = struct{}{}
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// confirm closes the confirmation of topic.
func (s *subscriptions) confirm(topic string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if in := s.wanted[topic]; in != nil && !in.done {
		in.done = true
		close(in.confirmed)
	}
}

// attach makes conn the live subscription and returns every wanted topic,
// to subscribe conn to; detach forgets it.
func (s *subscriptions) attach(conn *goredis.PubSub) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = conn
	clear(s.dirty) // conn gets every wanted topic at once
	topics := make([]string, 0, len(s.wanted))
	for t := range s.wanted {
		topics = append(topics, t)
	}
	return topics
}

// closeConn closes the live subscription, if any, to end a read in
// progress.
func (s *subscriptions) closeConn() {
	s.mu.Lock()
	conn := s.conn
	s.mu.Unlock()
	if conn != nil {
		_ = conn.Close()
	}
}

func (s *subscriptions) detach() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conn = nil
}

// takeDirty returns the live subscription and the dirty topics, split into
// those wanted and those not, and clears the dirty set.
func (s *subscriptions) takeDirty() (conn *goredis.PubSub, sub, unsub []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		clear(s.dirty) // attach subscribes to every wanted topic
		return nil, nil, nil
	}
	for t := range s.dirty {
		if s.wanted[t] != nil {
			sub = append(sub, t)
		} else {
			unsub = append(unsub, t)
		}
	}
	clear(s.dirty)
	return s.conn, sub, unsub
}

// manageSubscriptions sends SUBSCRIBE and UNSUBSCRIBE for the topics whose
// local interest changed, on the live subscription.
func (p *PubSub) manageSubscriptions() {
	defer p.wg.Done()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-p.subs.wake:
		}
		conn, sub, unsub := p.subs.takeDirty()
		if conn == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(p.ctx, subscribeTimeout)
		if len(sub) > 0 {
			_ = conn.Subscribe(ctx, p.topicChannels(sub)...) // on failure the receive loop opens a new subscription with every wanted topic
		}
		if len(unsub) > 0 {
			_ = conn.Unsubscribe(ctx, p.topicChannels(unsub)...)
		}
		cancel()
	}
}

func (p *PubSub) topicChannels(topics []string) []string {
	out := make([]string, len(topics))
	for i, t := range topics {
		out[i] = p.topicChannel(t)
	}
	return out
}
