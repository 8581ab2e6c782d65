package events

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// patternSet is an immutable list of event type patterns, shared by every
// channel that has the same list (see patternSets). It remembers whether
// the last broadcast it saw matched, so that a broadcast to thousands of
// members matches once per distinct set, not once per member.
type patternSet struct {
	key      string // setKey(patterns)
	patterns []string
	refs     int // channels using the set; guarded by patternSets.mu

	// memo is seq<<1 | matched for the last broadcast evaluated. Concurrent
	// broadcasts may overwrite each other's memo; they then only recompute.
	memo atomic.Uint64
}

// matches reports whether broadcast b, of event type typ() (called only on
// a memo miss), matches the set.
func (ps *patternSet) matches(b *pubsub.Broadcast, typ func(*pubsub.Broadcast) (string, bool)) bool {
	seq := b.Seq()
	if seq != 0 {
		if m := ps.memo.Load(); m>>1 == seq {
			return m&1 == 1
		}
	}
	t, ok := typ(b)
	matched := ok && ps.match(t)
	if seq != 0 {
		var bit uint64
		if matched {
			bit = 1
		}
		ps.memo.Store(seq<<1 | bit)
	}
	return matched
}

func (ps *patternSet) match(typ string) bool {
	for _, p := range ps.patterns {
		if matchPattern(p, typ) {
			return true
		}
	}
	return false
}

// patternSets interns pattern lists: channels with equal lists share one
// *patternSet, which is released when the last of them lets go.
type patternSets struct {
	mu   sync.Mutex
	sets map[string]*patternSet
}

// acquire returns the shared set for patterns (nil for an empty list).
func (s *patternSets) acquire(patterns []string) *patternSet {
	if len(patterns) == 0 {
		return nil
	}
	key := setKey(patterns)
	s.mu.Lock()
	defer s.mu.Unlock()
	ps := s.sets[key]
	if ps == nil {
		if s.sets == nil {
			s.sets = make(map[string]*patternSet)
		}
		ps = &patternSet{key: key, patterns: patterns}
		s.sets[key] = ps
	}
	ps.refs++
	return ps
}

// setKey encodes a list of patterns unambiguously (each prefixed by its
// length: patterns may contain any character).
func setKey(patterns []string) string {
	var b strings.Builder
	for _, p := range patterns {
		b.WriteString(strconv.Itoa(len(p)))
		b.WriteByte(':')
		b.WriteString(p)
	}
	return b.String()
}

// release gives back a set returned by acquire.
func (s *patternSets) release(ps *patternSet) {
	if ps == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ps.refs--; ps.refs == 0 {
		delete(s.sets, ps.key)
	}
}

// len returns the number of distinct sets in use.
func (s *patternSets) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sets)
}
