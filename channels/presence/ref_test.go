package presence

import (
	"encoding/base64"
	"encoding/binary"
	"regexp"
	"sync"
	"testing"
	"time"
)

func TestRefFormatAndUniqueness(t *testing.T) {
	pattern := regexp.MustCompile(`^[A-Za-z0-9_-]{16}$`)
	src := newRefSource()
	start := time.Now().UnixNano()
	const goroutines, each = 4, 25_000 // 100k refs
	got := make([][]ref, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				got[g] = append(got[g], src.next())
			}
		})
	}
	wg.Wait()
	seen := make(map[ref]bool, goroutines*each)
	for _, rs := range got {
		for _, r := range rs {
			if !pattern.Match(r[:]) {
				t.Fatalf("ref %q is not 16 URL-safe base64 characters", r[:])
			}
			if seen[r] {
				t.Fatalf("ref %q repeated", r[:])
			}
			seen[r] = true
			raw, err := base64.RawURLEncoding.DecodeString(string(r[:]))
			if err != nil || len(raw) != 12 {
				t.Fatalf("ref %q decodes to %d bytes, %v", r[:], len(raw), err)
			}
			ts := int64(binary.BigEndian.Uint64(raw[:8]))
			if ts < start || ts > time.Now().UnixNano()+int64(time.Second) {
				t.Fatalf("ref %q holds timestamp %d, not about now", r[:], ts)
			}
			if node := binary.BigEndian.Uint16(raw[8:10]); node != src.node {
				t.Fatalf("ref %q holds node %d, want %d", r[:], node, src.node)
			}
		}
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d refs, want %d", len(seen), goroutines*each)
	}
}

func TestRefsIncreaseWhenTheClockStepsBack(t *testing.T) {
	src := newRefSource()
	ahead := time.Now().Add(time.Hour).UnixNano() // as if the clock went back an hour
	src.last.Store(ahead)
	ts := func(r ref) int64 {
		raw, _ := base64.RawURLEncoding.DecodeString(string(r[:]))
		return int64(binary.BigEndian.Uint64(raw[:8]))
	}
	a, b := ts(src.next()), ts(src.next())
	if a != ahead+1 || b != ahead+2 {
		t.Fatalf("timestamps %d, %d after %d; want strictly increasing from it", a, b, ahead)
	}
}

// Refs made on two nodes in the same nanosecond still differ: each node
// has its own 16-bit hash (host, pid, random seed) and its counter starts
// at a random value, so two refs collide only if both 16-bit parts do too
// (about 1 in 2^32 for two refs made in the same nanosecond), as with
// Phoenix.Tracker's refs.
func TestRefsOfTwoNodesDiffer(t *testing.T) {
	a, b := newRefSource(), newRefSource()
	start := time.Now().Add(time.Minute).UnixNano() // both clocks read the same
	a.last.Store(start)
	b.last.Store(start)
	seen := make(map[ref]bool)
	for range 1000 {
		for _, r := range []ref{a.next(), b.next()} {
			if seen[r] {
				t.Fatalf("ref %q made twice (node hashes %d and %d)", r[:], a.node, b.node)
			}
			seen[r] = true
		}
	}
}
