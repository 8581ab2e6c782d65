package main

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestMemTrimmerDue(t *testing.T) {
	tr := newMemTrimmer(zerolog.Nop())
	base := time.Unix(1000, 0)
	type tick struct {
		allocated, live, objects, free uint64
		at                             time.Duration
		want                           bool
	}
	const mib = 1 << 20
	cases := []struct {
		name  string
		ticks []tick
	}{
		{"quiet with much unused memory trims on the second quiet tick", []tick{
			{allocated: 100 * mib, live: 20 * mib, objects: 20 * mib, free: 30 * mib, at: 1 * time.Second, want: false},
			{allocated: 100 * mib, live: 20 * mib, objects: 20 * mib, free: 30 * mib, at: 2 * time.Second, want: true},
		}},
		{"busy ticks never trim", []tick{
			{allocated: 110 * mib, live: 20 * mib, free: 30 * mib, at: 1 * time.Second},
			{allocated: 120 * mib, live: 20 * mib, free: 30 * mib, at: 2 * time.Second},
			{allocated: 130 * mib, live: 20 * mib, free: 30 * mib, at: 3 * time.Second},
		}},
		{"a busy tick restarts the quiet count", []tick{
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 1 * time.Second},
			{allocated: 110 * mib, live: 20 * mib, free: 30 * mib, at: 2 * time.Second},
			{allocated: 110 * mib, live: 20 * mib, free: 30 * mib, at: 3 * time.Second},
			{allocated: 110 * mib, live: 20 * mib, free: 30 * mib, at: 4 * time.Second, want: true},
		}},
		{"little unused memory is left alone", []tick{
			{allocated: 100 * mib, live: 40 * mib, objects: 41 * mib, free: 5 * mib, at: 1 * time.Second},
			{allocated: 100 * mib, live: 40 * mib, objects: 41 * mib, free: 5 * mib, at: 2 * time.Second},
			{allocated: 100 * mib, live: 40 * mib, objects: 41 * mib, free: 5 * mib, at: 3 * time.Second},
		}},
		{"under minUnused is left alone however small the heap", []tick{
			{allocated: 100 * mib, live: 1 * mib, free: 3 * mib, at: 1 * time.Second},
			{allocated: 100 * mib, live: 1 * mib, free: 3 * mib, at: 2 * time.Second},
		}},
		{"dead objects count as unused", []tick{
			{allocated: 100 * mib, live: 20 * mib, objects: 30 * mib, at: 1 * time.Second},
			{allocated: 100 * mib, live: 20 * mib, objects: 30 * mib, at: 2 * time.Second, want: true},
		}},
		{"at most once per minGap", []tick{
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 1 * time.Second},
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 2 * time.Second, want: true},
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 3 * time.Second},
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 4 * time.Second},
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 11 * time.Second},
			{allocated: 100 * mib, live: 20 * mib, free: 30 * mib, at: 12 * time.Second, want: true},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			st := trimState{prevAllocated: 100 * mib}
			for i, k := range c.ticks {
				s := memSample{allocated: k.allocated, live: k.live, objects: k.objects, free: k.free}
				if got := tr.due(&st, s, base.Add(k.at)); got != k.want {
					t.Errorf("tick %d (%v): due = %v, want %v", i, k.at, got, k.want)
				}
			}
		})
	}
}

var sink [][]byte

// After a burst of allocation the trimmer, running for real, returns the
// memory: the free heap it reads afterwards is under the minimum it acts on.
func TestMemTrimmerReturnsBurst(t *testing.T) {
	tr := newMemTrimmer(zerolog.Nop())
	tr.tick = 20 * time.Millisecond
	tr.minGap = 0
	tr.quietBytes = 64 << 20 // the race detector allocates on its own
	trimmed := make(chan struct{}, 1)
	tr.trims = func() {
		select {
		case trimmed <- struct{}{}:
		default:
		}
	}
	for range 64 << 10 { // a burst: 64 Mi of 1 KiB objects, then dropped
		sink = append(sink, make([]byte, 1024))
	}
	sink = nil
	runtime.GC() // the burst is now free heap the collector keeps
	var before memSample
	readMemSample(&before)
	if before.free < tr.minUnused {
		t.Fatalf("the runtime returned the burst by itself (free heap %d B): this test shows nothing", before.free)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); tr.Run(ctx) }()
	select {
	case <-trimmed:
	case <-time.After(30 * time.Second): // a hang guard, not a speed bound
		t.Fatal("no trim after a burst of 64 MiB of garbage and a quiet process")
	}
	cancel()
	<-done
	var after memSample
	readMemSample(&after)
	if after.free >= before.free {
		t.Errorf("free heap not returned: %d B before the trim, %d B after", before.free, after.free)
	}
}
