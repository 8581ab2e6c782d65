//go:build linux || darwin || freebsd

package server

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// nonBlockingWrites: pool writers write with writev on the non-blocking
// socket the runtime's netpoller already uses.
const nonBlockingWrites = true

// maxIovecs is the kernel's IOV_MAX (1024 on Linux, macOS and FreeBSD): one
// writev takes at most this many.
const maxIovecs = 1024

// writerScratch is a writer's reusable space: the batch, and the state of
// writeNow.
type writerScratch struct {
	iovBatch

	vecs  iovecs                // the iovecs of one writev
	write func(fd uintptr) bool // the raw write callback, made once
	n     int                   // its result
	err   error
}

// writeNow writes the built batch to raw with non-blocking writev calls
// (IOV_MAX iovecs each) and returns how many bytes went out: fewer than
// total when the socket buffer filled up.
func (w *writerScratch) writeNow(raw syscall.RawConn) (int, error) {
	if w.write == nil {
		w.write = func(fd uintptr) bool {
			w.n, w.err = w.vecs.writev(int(fd))
			return true // never wait here: a full buffer goes to flushBlocking
		}
	}
	written := 0
	for start := 0; start < len(w.iovs); start += maxIovecs {
		want := w.vecs.load(w.iovs[start:min(start+maxIovecs, len(w.iovs))])
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

// release drops every reference to the last batch, so that a scratch
// waiting in its pool keeps no payload alive.
func (w *writerScratch) release() {
	w.iovBatch.release()
	w.vecs.release()
}
