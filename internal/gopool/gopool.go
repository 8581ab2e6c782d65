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
type Pool[T any] struct {
	// Run is the task. It runs on a pool goroutine, concurrently with
	// other Runs.
	Run func(T)
	// IdleTimeout is how long a goroutine waits for another task before
	// it exits (DefaultIdleTimeout if zero).
	IdleTimeout time.Duration
	// MaxIdle bounds the goroutines waiting for a task (DefaultMaxIdle if
	// zero); one that finds the bound reached exits.
	MaxIdle int

	mu   sync.Mutex
	idle []*worker[T] // LIFO: the most recently used, warmest stack first
}

// worker is an idle goroutine's mailbox.
type worker[T any] struct {
	task  chan T // buffered 1: Go never blocks on it
	timer *time.Timer
}

// Go runs p.Run(v) on an idle goroutine, or a new one if none is idle.
func (p *Pool[T]) Go(v T) {
	p.mu.Lock()
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.task <- v
		return
	}
	p.mu.Unlock()
	go p.loop(v)
}

// Idle returns how many goroutines wait for a task.
func (p *Pool[T]) Idle() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// loop runs v, then the tasks Go hands it, until it has waited IdleTimeout
// for one or MaxIdle goroutines already wait.
func (p *Pool[T]) loop(v T) {
	var zero T
	var me *worker[T]
	timeout := p.IdleTimeout
	if timeout <= 0 {
		timeout = DefaultIdleTimeout
	}
	maxIdle := p.MaxIdle
	if maxIdle <= 0 {
		maxIdle = DefaultMaxIdle
	}
	for {
		p.Run(v)
		v = zero // drop references while waiting
		if me == nil {
			me = &worker[T]{task: make(chan T, 1), timer: time.NewTimer(timeout)}
		} else {
			me.timer.Reset(timeout)
		}
		p.mu.Lock()
		if len(p.idle) >= maxIdle {
			p.mu.Unlock()
			me.timer.Stop()
			return
		}
		p.idle = append(p.idle, me)
		p.mu.Unlock()
		select {
		case v = <-me.task:
			me.timer.Stop()
		case <-me.timer.C:
			if p.remove(me) {
				return
			}
			v = <-me.task // Go took me off the list as the timer fired
		}
	}
}

// remove takes w off the idle list and reports whether it was there.
func (p *Pool[T]) remove(w *worker[T]) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, iw := range p.idle {
		if iw == w {
			copy(p.idle[i:], p.idle[i+1:])
			p.idle[len(p.idle)-1] = nil
			p.idle = p.idle[:len(p.idle)-1]
			return true
		}
	}
	return false
}
