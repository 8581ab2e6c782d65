package server

import (
	"testing"

	"github.com/gobwas/ws"
)

// A queue keeps its frames in order across every slab class and past the
// largest, and a slab given back holds no frame's data.
func TestFrameSlabGrowsInOrder(t *testing.T) {
	for _, n := range []int{1, 8, 9, 33, 600, 2048, 2049, 5000} {
		var q *frameSlab
		for i := range n {
			appendFrame(&q, outFrame{ws.OpText, []byte{byte(i), byte(i >> 8)}})
		}
		if len(q.frames) != n {
			t.Fatalf("n=%d: %d frames queued", n, len(q.frames))
		}
		for i, f := range q.frames {
			if f.data[0] != byte(i) || f.data[1] != byte(i>>8) {
				t.Fatalf("n=%d: frame %d holds %v", n, i, f.data)
			}
		}
		frames := q.frames[:cap(q.frames)]
		putSlab(q)
		for i, f := range frames {
			if f.data != nil {
				t.Fatalf("n=%d: slot %d still holds data after putSlab", n, i)
			}
		}
	}
}

// BenchmarkOutboxQueue is a busy connection's cycle: 100 frames queued,
// taken and given back. In steady state it allocates nothing (run without
// -race: the race detector makes sync.Pool drop items on purpose).
func BenchmarkOutboxQueue(b *testing.B) {
	data := []byte("frame")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		var q *frameSlab
		for range 100 {
			appendFrame(&q, outFrame{ws.OpText, data})
		}
		putSlab(q)
	}
}
