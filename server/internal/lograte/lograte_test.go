package lograte

import (
	"sync"
	"testing"
	"time"
)

func TestBurstThenSuppressedCountOnNextWindow(t *testing.T) {
	now := time.Unix(1000, 0)
	l := &Limiter{Burst: 3, Interval: time.Second, Now: func() time.Time { return now }}
	var got []bool
	for range 10 {
		ok, k := l.Allow("malformed message")
		if k != 0 {
			t.Fatalf("suppressed %d inside the first window", k)
		}
		got = append(got, ok)
	}
	for i, ok := range got {
		if ok != (i < 3) {
			t.Fatalf("line %d allowed=%v; want the first 3 only", i, ok)
		}
	}
	if ok, _ := l.Allow("other key"); !ok {
		t.Fatal("keys must be limited independently")
	}
	now = now.Add(999 * time.Millisecond)
	if ok, _ := l.Allow("malformed message"); ok {
		t.Fatal("allowed before the interval ended")
	}
	now = now.Add(time.Millisecond)
	ok, k := l.Allow("malformed message")
	if !ok || k != 8 {
		t.Fatalf("first line of the next window: ok=%v suppressed=%d, want true 8", ok, k)
	}
	if ok, k := l.Allow("malformed message"); !ok || k != 0 {
		t.Fatalf("second line: ok=%v suppressed=%d, want true 0", ok, k)
	}
}

func TestZeroValueAndConcurrency(t *testing.T) {
	var l Limiter
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if ok, _ := l.Allow("k"); ok {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if allowed != DefaultBurst {
		t.Fatalf("allowed %d lines, want DefaultBurst (%d)", allowed, DefaultBurst)
	}
}
