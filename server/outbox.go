package server

import (
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"
)

// outbox is a connection's single writer. Every frame, control frames
// included, is queued here; a goroutine exists only while there is
// something to write, and it writes everything queued at that moment with
// one writev. The queue is bounded in bytes: push never blocks, and a client
// that falls further behind is cut off (onOverflow).
type outbox struct {
	conn         net.Conn
	limit        int
	writeTimeout time.Duration
	onOverflow   func()
	onWriteError func(error)
	onWrote      func(frames int)
	// closeConn closes the socket once the close frame is written.
	closeConn func()

	// deadlines sets a write deadline per batch. Without it (connections
	// the poller watches) the poller's sweep aborts a write stuck for longer
	// than writeTimeout, which spares every connection a runtime timer.
	deadlines    atomic.Bool
	writingSince atomic.Int64 // unix nanos when the current write began; 0 when none

	mu      sync.Mutex
	queue   []outFrame
	bytes   int
	writing bool
	closing bool // a close frame is queued: nothing follows it
}

type outFrame struct {
	op   ws.OpCode
	data []byte
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
		o.queue, o.bytes = nil, 0
		o.mu.Unlock()
		o.onOverflow()
		return false
	}
	o.queue = append(o.queue, outFrame{op, data})
	o.bytes += len(data)
	o.startLocked()
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
	o.queue = append(o.queue, outFrame{ws.OpClose, closePayload(code)})
	o.startLocked()
}

func (o *outbox) startLocked() {
	if !o.writing {
		o.writing = true
		go o.flush()
	}
}

// flush writes until the queue is empty.
func (o *outbox) flush() {
	var headers []byte
	var bufs net.Buffers
	for {
		o.mu.Lock()
		batch := o.queue
		o.queue, o.bytes = nil, 0
		if len(batch) == 0 {
			o.writing = false
			o.mu.Unlock()
			return
		}
		o.mu.Unlock()

		headers = headers[:0]
		for _, f := range batch {
			headers = appendFrameHeader(headers, f.op, len(f.data))
		}
		bufs = bufs[:0]
		off := 0
		sawClose := false
		for _, f := range batch {
			n := headerLen(len(f.data))
			bufs = append(bufs, headers[off:off+n])
			if len(f.data) > 0 {
				bufs = append(bufs, f.data)
			}
			off += n
			sawClose = sawClose || f.op == ws.OpClose
		}
		if o.deadlines.Load() {
			_ = o.conn.SetWriteDeadline(time.Now().Add(o.writeTimeout))
		}
		o.writingSince.Store(time.Now().UnixNano())
		_, err := bufs.WriteTo(o.conn)
		o.writingSince.Store(0)
		if err != nil {
			o.mu.Lock()
			o.closing, o.queue, o.bytes, o.writing = true, nil, 0, false
			o.mu.Unlock()
			o.onWriteError(err)
			return
		}
		if o.onWrote != nil {
			o.onWrote(len(batch))
		}
		if sawClose {
			o.mu.Lock()
			o.writing = false
			o.mu.Unlock()
			o.closeConn()
			return
		}
	}
}

// stuck reports whether a write has been blocked for longer than
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
