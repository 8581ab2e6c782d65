//go:build !linux && !darwin && !freebsd

package server

import "syscall"

// nonBlockingWrites: no writev on a non-blocking socket here (Windows
// sockets are written through IOCP). The pool is set to blocking: each
// ready outbox is written by a goroutine of its own (flushBlocking), with
// net.Buffers, which sends a batch in one WSASend on Windows and one writev
// where the system has it.
const nonBlockingWrites = false

// writerScratch is a writer's reusable space: the batch only, as writeNow
// writes nothing.
type writerScratch struct {
	iovBatch
}

// writeNow writes nothing without blocking here, so a batch it is handed
// is finished by flushBlocking. A pool with blocking set never calls it.
func (w *writerScratch) writeNow(syscall.RawConn) (int, error) { return 0, nil }

// release drops every reference to the last batch.
func (w *writerScratch) release() { w.iovBatch.release() }
