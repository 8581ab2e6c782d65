package events

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendTimestamp: the hand-written formatter writes what
// AppendFormat(timestampLayout) writes, for any instant and zone.
func TestAppendTimestamp(t *testing.T) {
	zone := time.FixedZone("X", -(5*3600 + 30*60))
	times := []time.Time{
		time.Unix(0, 0),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 0, 30, 0, 1000, zone),
		time.Now(),
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		times = append(times, time.Unix(r.Int64N(1<<36)-1<<35, r.Int64N(1e9)).In(zone))
	}
	for _, ts := range times {
		got := string(appendTimestamp([]byte("x"), ts))
		want := "x" + ts.UTC().Format(timestampLayout)
		if got != want {
			t.Fatalf("%v: got %s, want %s", ts, got, want)
		}
	}
}

func BenchmarkTimestampPayload(b *testing.B) {
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		_ = timestampPayload(now)
	}
}

func BenchmarkTimestampAppendFormat(b *testing.B) {
	now := time.Now()
	buf := make([]byte, 0, 64)
	for b.Loop() {
		_ = now.UTC().AppendFormat(buf[:0], timestampLayout)
	}
}
