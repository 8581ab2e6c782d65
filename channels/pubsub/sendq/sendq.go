// Package sendq is the bounded, ordered queue a cluster adapter keeps
// between Publish, which must not block, and the one goroutine that sends
// what is queued to the broker, a batch at a time. Both Redis adapters
// (packages redis and phoenixredis) use it; so can an adapter for another
// broker written outside this module. One sender numbering broadcasts in
// the order Next returns them, and sending a failed batch again before
// the next one, is what package clusterwire's sequence rule needs.
//
// A full queue refuses at once (ErrFull) instead of waiting: a broadcast
// has reached the local subscribers by then, and a publisher must never
// wait on a slow or unreachable broker.
package sendq

import (
	"errors"
	"sync"
)

// Errors of Push.
var (
	// ErrClosed means the queue was closed: nothing more goes out.
	ErrClosed = errors.New("sendq: closed")
	// ErrFull means the queue holds as many values as it may.
	ErrFull = errors.New("sendq: full")
)

// Queue holds values for one sending goroutine, in the order they were
// pushed. Push, Len, Close and Finished are safe for concurrent use; Next
// and Finish belong to the sender.
type Queue[T any] struct {
	mu       sync.RWMutex // guards closing ch against Push
	ch       chan T
	closed   bool
	finished chan struct{} // closed by Finish
}

// New returns a Queue that holds up to n values.
func New[T any](n int) *Queue[T] {
	return &Queue[T]{ch: make(chan T, n), finished: make(chan struct{})}
}

// Push queues v without blocking. It fails with ErrClosed after Close,
// and with ErrFull when the queue holds n values.
func (q *Queue[T]) Push(v T) error {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return ErrClosed
	}
	select {
	case q.ch <- v:
		return nil
	default:
		return ErrFull
	}
}

// Len returns the number of values waiting.
func (q *Queue[T]) Len() int { return len(q.ch) }

// Close ends the queue: Push fails from now on, and Next returns what is
// left, then false. It reports false when the queue was closed already.
func (q *Queue[T]) Close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	close(q.ch)
	return true
}

// Next waits for a value, then returns batch[:0] with it and those already
// waiting behind it, at most limit in all: what one pipeline carries. It
// returns false, and no values, once the queue is closed and empty.
func (q *Queue[T]) Next(batch []T, limit int) ([]T, bool) {
	v, ok := <-q.ch
	if !ok {
		return batch[:0], false
	}
	batch = append(batch[:0], v)
	for len(batch) < limit {
		select {
		case v, ok := <-q.ch:
			if !ok {
				return batch, true
			}
			batch = append(batch, v)
		default:
			return batch, true
		}
	}
	return batch, true
}

// Finish tells Finished's receivers that the sender has sent all it will.
// The sender calls it once, when Next has returned false or it gives up.
func (q *Queue[T]) Finish() { close(q.finished) }

// Finished returns a channel that is closed when the sender calls Finish:
// what Close waits for, bounded by its context.
func (q *Queue[T]) Finished() <-chan struct{} { return q.finished }
