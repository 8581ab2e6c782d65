// Package gopool runs short tasks on goroutines it reuses.
//
// Starting a goroutine per task is cheap until the task's call depth needs
// more than the new goroutine's stack: then every task pays for growing
// the stack (runtime.newstack and copystack were a fifth of the server's
// CPU under request/response load). A Pool keeps goroutines that finished
// a task waiting a short while for the next one, so a busy process reuses
// warm stacks, and an idle one holds none. A task never waits for a free
// goroutine: when none is idle, Go starts a new one, so a task that blocks
// holds up no other.
package gopool

import (
	"sync"
	"time"
)

// Defaults of a Pool's zero-valued fields.
const (
	// DefaultIdleTimeout is short enough that a process that stopped all
	// work holds no pool goroutine a fraction of a second later (goroutine
	// leak checks in tests retry for about 400 ms), long enough that work
	// arriving a network round trip apart finds a goroutine waiting.
	DefaultIdleTimeout = 100 * time.Millisecond
	// DefaultMaxIdle bounds the goroutines kept waiting.
	DefaultMaxIdle = 1024
)

// Pool runs Run(v) for each Go(v) on a reused or new goroutine. Set Run
// before the first Go; the other fields may stay zero. Go is safe for
// concurrent use.
//
// An idle goroutine waits on a channel of its own, with no timer: a reaper
// goroutine, which runs only while some goroutine is idle, wakes every
// IdleTimeout and ends the goroutines that stayed idle through the whole
// interval. The idle list is a stack (the warmest stack is reused first),
// so those are the ones below the lowest depth the stack reached since the
// reaper's last visit. An idle goroutine thus exits between one and two
// IdleTimeouts after its last task, and a task costs a lock, a channel
// send and no timer operation.
type Pool[T any] struct {
	// Run is the task. It runs on a pool goroutine, concurrently with
	// other Runs.
	Run func(T)
	// IdleTimeout is how long a goroutine waits for another task, at
	// least, before it exits (DefaultIdleTimeout if zero); it exits within
	// twice that.
	IdleTimeout time.Duration
	// MaxIdle bounds the goroutines waiting for a task (DefaultMaxIdle if
	// zero); one that finds the bound reached exits.
	MaxIdle int

	mu      sync.Mutex
	idle    []*worker[T] // a stack: the most recently used, warmest stack on top
	low     int          // the lowest len(idle) since the reaper's last visit
	reaping bool         // a reaper goroutine runs
}

// worker is an idle goroutine's mailbox. The reaper closes it to end the
// goroutine.
type worker[T any] struct {
	task chan T // buffered 1: Go never blocks on it
}

// Go runs p.Run(v) on an idle goroutine, or a new one if none is idle.
func (p *Pool[T]) Go(v T) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.low = min(p.low, n-1)
		p.mu.Unlock()
		w.task <- v
		return
	}
	p.mu.Unlock()
	go p.loop(v)
}

// Idle returns the number of goroutines waiting for a task.
func (p *Pool[T]) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

func (p *Pool[T]) loop(v T) {
	var zero T
	me := &worker[T]{task: make(chan T, 1)}
	maxIdle := p.MaxIdle
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	for {
		p.Run(v)
		v = zero // drop references while waiting
		p.mu.Lock()
		if len(p.idle) >= maxIdle {
			p.mu.Unlock()
			return
		}
		p.idle = append(p.idle, me)
		if !p.reaping {
			p.reaping = true
			p.low = len(p.idle)
			go p.reap()
		}
		p.mu.Unlock()
		var ok bool
		if v, ok = <-me.task; !ok {
			return // reaped
		}
	}
}

// reap ends, every IdleTimeout, the goroutines that stayed idle since its
// previous visit; it exits once none is idle.
func (p *Pool[T]) reap() {
	timeout := p.IdleTimeout
	if timeout <= 0 {
		timeout = DefaultIdleTimeout
	}
	for {
		time.Sleep(timeout)
		p.mu.Lock()
		n := p.low // idle[:n] were never taken during the interval
		for i, w := range p.idle[:n] {
			close(w.task)
			p.idle[i] = nil
		}
		p.idle = append(p.idle[:0], p.idle[n:]...)
		clear(p.idle[len(p.idle):cap(p.idle)])
		p.low = len(p.idle)
		if len(p.idle) == 0 {
			p.reaping = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
}
