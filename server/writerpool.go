package server

import (
	"sync"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/internal/gopool"
)

// writerPool writes ready outboxes with a few goroutines, which exist only
// while some outbox is ready. maxWriters bounds them; with fewer writers than
// ready connections, frames gather per connection while it waits, and one
// writev sends them all.
//
// Where the pool cannot write without blocking (no writev on a
// non-blocking socket: Windows and the systems writerpool_portable.go
// covers), blocking is set and each ready outbox is written by a goroutine
// of its own, as a TLS connection's is: a pool writer blocked on one slow
// client would hold up every other.
type writerPool struct {
	maxWriters int
	blocking   bool

	mu      sync.Mutex
	ready   []*outbox // ready[head:] wait, in order; the slice is reused
	head    int
	writers int
}

// writerGoroutines runs the pools' writers on reused goroutines: a writer
// ends when no outbox is ready, which under a broadcast storm is many times
// a second, and a new goroutine would grow its stack again each time.
var writerGoroutines gopool.Pool[*writerPool]

func init() { writerGoroutines.Run = (*writerPool).work } // work reaches schedule: no initializer

// scratches keeps writers' iovec space between their runs.
var scratches = sync.Pool{New: func() any { return new(writerScratch) }}

func newWriterPool(maxWriters int) *writerPool {
	return &writerPool{maxWriters: maxWriters, blocking: !nonBlockingWrites}
}

// schedule hands the pool an outbox with frames queued. o.mu is held on
// entry.
func (p *writerPool) schedule(o *outbox) {
	if p.blocking {
		go o.flushBlocking(nil, false)
		return
	}
	p.mu.Lock()
	p.ready = append(p.ready, o)
	if p.writers < p.maxWriters {
		p.writers++
		writerGoroutines.Go(p)
	}
	p.mu.Unlock()
}

// work writes ready outboxes until none is left.
func (p *writerPool) work() {
	w := scratches.Get().(*writerScratch)
	defer func() {
		w.release()
		scratches.Put(w)
	}()
	for {
		p.mu.Lock()
		if p.head == len(p.ready) {
			p.writers--
			p.ready, p.head = p.ready[:0], 0
			p.mu.Unlock()
			return
		}
		o := p.ready[p.head]
		p.ready[p.head] = nil
		p.head++
		p.mu.Unlock()
		o.flushReady(w)
	}
}

// iovBatch is a writer's reusable space for frame headers and iovecs. A
// writerScratch (one per system: writerpool_writev.go,
// writerpool_portable.go) adds what its writeNow needs.
type iovBatch struct {
	headers []byte
	iovs    [][]byte
	total   int
}

// release drops the references to the last batch's frames.
func (w *iovBatch) release() {
	clear(w.iovs)
	w.iovs = w.iovs[:0]
}

// build lays out batch as iovecs (header, payload, header, ...) and reports
// whether it ends with a close frame.
func (w *iovBatch) build(batch []outFrame) (sawClose bool) {
	w.headers, w.iovs, w.total = w.headers[:0], w.iovs[:0], 0
	for _, f := range batch {
		w.headers = appendFrameHeader(w.headers, f.op, len(f.data))
	}
	off := 0
	for _, f := range batch {
		n := headerLen(len(f.data))
		w.iovs = append(w.iovs, w.headers[off:off+n])
		if len(f.data) > 0 {
			w.iovs = append(w.iovs, f.data)
		}
		off += n
		w.total += n + len(f.data)
		sawClose = sawClose || f.op == ws.OpClose
	}
	return sawClose
}

// rest copies what a partial write of n bytes left unwritten.
func (w *iovBatch) rest(n int) []byte {
	out := make([]byte, 0, w.total-n)
	for _, b := range w.iovs {
		if n >= len(b) {
			n -= len(b)
			continue
		}
		out = append(out, b[n:]...)
		n = 0
	}
	return out
}
