package main

import (
	"context"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"time"

	"github.com/rs/zerolog"
)

// memTrimmer gives memory back to the operating system once the process
// goes quiet. Go's collector lets the heap grow to twice what is live
// (GOGC=100) and its scavenger keeps about that much: a server holding
// 10,000 idle connections of ~2.3 KiB live each would keep ~5 KiB each,
// and a burst of connections (thousands of handshakes at once) leaves its
// peak behind until the next collection, which an idle process may not run
// for two minutes. When little is being allocated (under quietBytes per
// tick, for quietTicks ticks in a row) and the memory held but unused (free
// heap pages not yet returned, plus dead objects not yet collected) is over
// both minUnused and a quarter of the live heap, it calls
// debug.FreeOSMemory: one collection and a full scavenge, at most once per
// minGap. A busy process is left to the collector's own pacing.
//
// Run is its only goroutine; the fields are read-only once it runs.
type memTrimmer struct {
	tick       time.Duration
	quietBytes uint64 // allocated per tick below which a tick is quiet
	quietTicks int
	minUnused  uint64
	minGap     time.Duration
	log        zerolog.Logger

	sample func(*memSample) // readMemSample; tests replace it
	free   func()           // debug.FreeOSMemory; tests replace it
	trims  func()           // counts a trim (metrics), may be nil
}

// memSample is what memTrimmer reads each tick.
type memSample struct {
	allocated uint64 // bytes allocated since the process started
	live      uint64 // live heap at the end of the last collection
	objects   uint64 // heap occupied by objects, live or not yet collected
	free      uint64 // free heap pages not returned to the OS
}

// unused is the memory the process holds without using it.
func (s memSample) unused() uint64 {
	dead := uint64(0)
	if s.objects > s.live {
		dead = s.objects - s.live
	}
	return s.free + dead
}

// newMemTrimmer returns a trimmer with the binary's defaults.
func newMemTrimmer(log zerolog.Logger) *memTrimmer {
	return &memTrimmer{
		tick:       time.Second,
		quietBytes: 1 << 20,
		quietTicks: 2,
		minUnused:  4 << 20,
		minGap:     10 * time.Second,
		log:        log,
		sample:     readMemSample,
		free:       debug.FreeOSMemory,
	}
}

// Run trims until ctx ends.
func (t *memTrimmer) Run(ctx context.Context) {
	tk := time.NewTicker(t.tick)
	defer tk.Stop()
	var s memSample
	t.sample(&s)
	st := trimState{prevAllocated: s.allocated}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tk.C:
			t.sample(&s)
			if !t.due(&st, s, now) {
				continue
			}
			start := time.Now()
			t.free()
			if t.trims != nil {
				t.trims()
			}
			var after memSample
			t.sample(&after)
			st.prevAllocated = after.allocated
			t.log.Debug().Uint64("unused_before", s.unused()).Uint64("unused_after", after.unused()).
				Uint64("live", after.live).Dur("took", time.Since(start)).Msg("memory returned to the OS")
		}
	}
}

// trimState is what due remembers between ticks.
type trimState struct {
	prevAllocated uint64
	quiet         int
	last          time.Time
}

// due reports whether to trim now, given this tick's sample.
func (t *memTrimmer) due(st *trimState, s memSample, now time.Time) bool {
	delta := s.allocated - st.prevAllocated
	st.prevAllocated = s.allocated
	if delta >= t.quietBytes {
		st.quiet = 0
		return false
	}
	st.quiet++
	if st.quiet < t.quietTicks || (!st.last.IsZero() && now.Sub(st.last) < t.minGap) {
		return false
	}
	unused := s.unused()
	if unused < t.minUnused || unused < s.live/4 {
		return false
	}
	st.last = now
	st.quiet = 0
	return true
}

var memMetricNames = [...]string{
	"/gc/heap/allocs:bytes",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
}

// readMemSample reads s from runtime/metrics (no stop-the-world, unlike
// runtime.ReadMemStats).
func readMemSample(s *memSample) {
	var buf [len(memMetricNames)]rtmetrics.Sample
	for i, n := range memMetricNames {
		buf[i].Name = n
	}
	rtmetrics.Read(buf[:])
	v := func(i int) uint64 {
		if buf[i].Value.Kind() != rtmetrics.KindUint64 {
			return 0
		}
		return buf[i].Value.Uint64()
	}
	*s = memSample{allocated: v(0), live: v(1), objects: v(2), free: v(3)}
}
