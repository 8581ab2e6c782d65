package server

import (
	"sync"
	"syscall"
	"unsafe"

	"github.com/gobwas/ws"
	"golang.org/x/sys/unix"
)

// writerPool writes ready outboxes with a few goroutines, which exist only
// while some outbox is ready. maxWriters bounds them; with fewer writers than
// ready connections, frames gather per connection while it waits, and one
// writev sends them all.
type writerPool struct {
	maxWriters int

	mu      sync.Mutex
	ready   []*outbox
	writers int
}

func newWriterPool(maxWriters int) *writerPool { return &writerPool{maxWriters: maxWriters} }

func (p *writerPool) schedule(o *outbox) {
	p.mu.Lock()
	p.ready = append(p.ready, o)
	if p.writers < p.maxWriters {
		p.writers++
		go p.work()
	}
	p.mu.Unlock()
}

func (p *writerPool) work() {
	var w writerScratch
	for {
		p.mu.Lock()
		if len(p.ready) == 0 {
			p.writers--
			p.ready = nil
			p.mu.Unlock()
			return
		}
		o := p.ready[0]
		p.ready[0] = nil
		p.ready = p.ready[1:]
		p.mu.Unlock()
		o.flushReady(&w)
	}
}

// writerScratch is a writer's reusable space for frame headers and iovecs.
type writerScratch struct {
	headers []byte
	iovs    [][]byte
	total   int

	vecs  []unix.Iovec          // iovs for writev, reused
	write func(fd uintptr) bool // the raw write callback, made once
	n     int                   // its result
	err   error
}

// maxIovecs is the kernel's IOV_MAX: one writev takes at most this many.
const maxIovecs = 1024

// writeNow writes the built batch to raw with non-blocking writev calls
// (IOV_MAX iovecs each) and returns how many bytes went out: fewer than
// total when the socket buffer filled up.
func (w *writerScratch) writeNow(raw syscall.RawConn) (int, error) {
	if w.write == nil {
		w.write = func(fd uintptr) bool {
			w.n, w.err = writev(int(fd), w.vecs)
			return true // never wait here: a full buffer goes to flushBlocking
		}
	}
	written := 0
	for start := 0; start < len(w.iovs); start += maxIovecs {
		w.vecs = w.vecs[:0]
		want := 0
		for _, b := range w.iovs[start:min(start+maxIovecs, len(w.iovs))] {
			v := unix.Iovec{Base: &b[0]}
			v.SetLen(len(b))
			w.vecs = append(w.vecs, v)
			want += len(b)
		}
		if err := raw.Write(w.write); err != nil {
			return written, err
		}
		if w.err == unix.EAGAIN || w.err == unix.EINTR {
			return written, nil // flushBlocking writes the rest
		}
		if w.err != nil {
			return written, w.err
		}
		written += w.n
		if w.n < want {
			return written, nil
		}
	}
	return written, nil
}

// writev is the writev system call on iovecs the caller keeps alive.
func writev(fd int, vecs []unix.Iovec) (int, error) {
	if len(vecs) == 0 {
		return 0, nil
	}
	n, _, errno := unix.Syscall(unix.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&vecs[0])), uintptr(len(vecs)))
	if errno != 0 {
		return 0, errno
	}
	return int(n), nil
}

// build lays out batch as iovecs (header, payload, header, ...) and reports
// whether it ends with a close frame.
func (w *writerScratch) build(batch []outFrame) (sawClose bool) {
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
func (w *writerScratch) rest(n int) []byte {
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
