package server

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gobwas/ws"
)

// outbox is a connection's single writer. Every frame, control frames
// included, is queued here, and the queue is bounded in bytes: push never
// blocks, and a client that falls further behind is cut off (onOverflow).
//
// A connection with something to write is handed to the endpoint's
// writerPool, whose few goroutines write each ready connection's whole queue
// with one non-blocking writev (Linux, FreeBSD, macOS; elsewhere, as for TLS,
// each ready connection's queue goes to a blocking writer of its own, see
// writerpool.go). Under load, frames pile up while a
// connection waits its turn, so a broadcast storm costs far fewer syscalls
// than frames. A connection whose socket buffer is full (the write would
// block) leaves the pool for a goroutine of its own, which finishes the
// write blocking, so one slow client never holds up the others.
type outbox struct {
	conn         net.Conn
	raw          syscall.RawConn // nil: the conn cannot be written without blocking (TLS...)
	pool         *writerPool
	limit        int
	writeTimeout time.Duration
	onOverflow   func()
	onWriteError func(error) // with a *closeError saying why (writeFailure)
	onWrote      func(frames int)
	// closeConn closes the socket once the close frame is written.
	closeConn func()

	// deadlines sets a write deadline on blocking writes. Without it
	// (connections the poller watches) the poller's sweep aborts a write
	// stuck for longer than writeTimeout, which spares every connection a
	// runtime timer.
	deadlines    atomic.Bool
	writingSince atomic.Int64 // unix nanos when the current blocking write began; 0 when none

	mu        sync.Mutex
	queue     *frameSlab // nil while nothing is queued (frameslab.go)
	bytes     int
	scheduled bool // in the pool's ready list, or being written
	closing   bool // a close frame is queued: nothing follows it
}

type outFrame struct {
	op   ws.OpCode
	data []byte
}

// newOutbox returns the outbox of conn, written by pool.
func newOutbox(conn net.Conn, pool *writerPool) *outbox {
	o := &outbox{conn: conn, pool: pool}
	if tc, ok := conn.(*net.TCPConn); ok {
		o.raw, _ = tc.SyscallConn()
	}
	return o
}

// push queues a frame. It returns false if the frame was dropped because the
// outbox is closing or overflowed.
func (o *outbox) push(op ws.OpCode, data []byte) bool {
	o.mu.Lock()
	if o.closing {
		o.mu.Unlock()
		return false
	}
	if o.bytes+len(data) > o.limit && op.IsData() {
		o.closing = true
		o.dropQueueLocked()
		o.mu.Unlock()
		o.onOverflow()
		return false
	}
	appendFrame(&o.queue, outFrame{op, data})
	o.bytes += len(data)
	o.scheduleLocked()
	o.mu.Unlock()
	return true
}

// close queues a close frame with code (none if 0) after everything queued,
// and closes the connection once it is written.
func (o *outbox) close(code uint16) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return
	}
	o.closing = true
	appendFrame(&o.queue, outFrame{ws.OpClose, closePayload(code)})
	o.scheduleLocked()
}

func (o *outbox) scheduleLocked() {
	if o.scheduled {
		return
	}
	o.scheduled = true
	if o.raw == nil {
		go o.flushBlocking(nil, false)
		return
	}
	o.pool.schedule(o)
}

// take removes the queued frames. When there are none it unschedules the
// outbox and returns nil. The caller gives the slab back with putSlab once
// written.
func (o *outbox) take() *frameSlab {
	o.mu.Lock()
	defer o.mu.Unlock()
	batch := o.queue
	if batch == nil {
		o.scheduled = false
		return nil
	}
	o.queue, o.bytes = nil, 0
	return batch
}

// dropQueueLocked discards the queued frames; o.mu is held.
func (o *outbox) dropQueueLocked() {
	if o.queue != nil {
		putSlab(o.queue)
		o.queue = nil
	}
	o.bytes = 0
}

// flushReady runs on a pool writer: it writes the queued frames without
// blocking, then gives the outbox back to the pool if more came meanwhile.
func (o *outbox) flushReady(w *writerScratch) {
	batch := o.take()
	if batch == nil {
		return
	}
	frames := len(batch.frames)
	sawClose := w.build(batch.frames)
	n, err := w.writeNow(o.raw)
	switch {
	case err != nil:
		putSlab(batch)
		o.failed(err)
		return
	case n < w.total:
		// The socket buffer is full: finish on a goroutine of our own.
		go o.flushBlocking(w.rest(n), sawClose)
		putSlab(batch) // rest copied what remains
		o.wrote(frames, false)
		return
	}
	putSlab(batch)
	if o.wrote(frames, sawClose) {
		return
	}
	o.mu.Lock()
	if o.queue == nil {
		o.scheduled = false
	} else {
		o.pool.schedule(o)
	}
	o.mu.Unlock()
}

// flushBlocking writes pending (the rest of a partial write), then every
// frame queued, blocking, until the queue is empty.
func (o *outbox) flushBlocking(pending []byte, closeAfter bool) {
	var w writerScratch
	for {
		if len(pending) > 0 {
			if err := o.writeBlocking(net.Buffers{pending}); err != nil {
				o.failed(err)
				return
			}
		}
		if closeAfter {
			o.closeConn()
			return
		}
		batch := o.take()
		if batch == nil {
			return
		}
		frames := len(batch.frames)
		closeAfter = w.build(batch.frames)
		putSlab(batch) // the iovecs point at the frames' data, not at the slab
		err := o.writeBlocking(net.Buffers(w.iovs))
		if err != nil {
			o.failed(err)
			return
		}
		pending = nil
		if o.wrote(frames, closeAfter) {
			return
		}
	}
}

func (o *outbox) writeBlocking(bufs net.Buffers) error {
	if o.deadlines.Load() {
		_ = o.conn.SetWriteDeadline(time.Now().Add(o.writeTimeout))
	}
	o.writingSince.Store(time.Now().UnixNano())
	_, err := bufs.WriteTo(o.conn)
	o.writingSince.Store(0)
	return err
}

// wrote counts a written batch and closes the connection after a close
// frame; it reports whether it did.
func (o *outbox) wrote(frames int, sawClose bool) bool {
	if o.onWrote != nil {
		o.onWrote(frames)
	}
	if sawClose {
		o.closeConn()
	}
	return sawClose
}

func (o *outbox) failed(err error) {
	o.mu.Lock()
	o.closing = true
	o.dropQueueLocked()
	o.mu.Unlock()
	o.onWriteError(writeFailure(err))
}

// stuck reports whether a blocking write has been stuck for longer than
// writeTimeout at now (unix nanos).
func (o *outbox) stuck(now int64) bool {
	since := o.writingSince.Load()
	return since != 0 && now-since > int64(o.writeTimeout)
}

func headerLen(length int) int {
	switch {
	case length < 126:
		return 2
	case length <= 0xffff:
		return 4
	}
	return 10
}
