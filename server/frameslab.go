package server

import "sync"

// A frameSlab is an outbox's queue of frames. Slabs are pooled by
// capacity, process-wide: a connection under a broadcast storm queues
// hundreds of frames between two writes, and growing a fresh slice for
// each batch cost ~44 B of garbage per delivery (fan-out at 1.6M
// deliveries/s made the collector run several times a second). An idle
// connection holds no slab at all.
type frameSlab struct {
	frames []outFrame
}

// slabCaps are the pooled capacities; a queue that outgrows the largest
// grows as a plain slice and is dropped after its write.
var slabCaps = [...]int{8, 32, 128, 512, 2048}

var slabPools [len(slabCaps)]sync.Pool

// getSlab returns an empty slab of the smallest class holding n frames.
func getSlab(n int) *frameSlab {
	for i, c := range slabCaps {
		if c >= n {
			if s, ok := slabPools[i].Get().(*frameSlab); ok {
				return s
			}
			return &frameSlab{frames: make([]outFrame, 0, c)}
		}
	}
	return &frameSlab{frames: make([]outFrame, 0, n)}
}

// putSlab clears s (its frames' buffers are not kept alive) and pools it
// if its capacity is a class.
func putSlab(s *frameSlab) {
	clear(s.frames)
	s.frames = s.frames[:0]
	for i, c := range slabCaps {
		if cap(s.frames) == c {
			slabPools[i].Put(s)
			return
		}
	}
}

// appendFrame appends f to *q, taking a slab, or a larger one, from the
// pools when needed.
func appendFrame(q **frameSlab, f outFrame) {
	s := *q
	switch {
	case s == nil:
		s = getSlab(1)
		*q = s
	case len(s.frames) == cap(s.frames) && len(s.frames) < slabCaps[len(slabCaps)-1]:
		bigger := getSlab(len(s.frames) + 1)
		bigger.frames = append(bigger.frames, s.frames...)
		putSlab(s)
		s = bigger
		*q = s
	}
	s.frames = append(s.frames, f)
}
