package gopool_test

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fawkes-rt/fawkes/internal/gopool"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitIdle waits until p has n idle goroutines.
func waitIdle[T any](t *testing.T, p *gopool.Pool[T], n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a speed bound
	for p.Idle() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Idle() = %d, want %d", p.Idle(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestPoolReusesAWaitingGoroutine(t *testing.T) {
	release := make(chan struct{}, 1)
	done := make(chan int, 10)
	p := &gopool.Pool[int]{Run: func(v int) { <-release; done <- v }, IdleTimeout: 2 * time.Second}
	release <- struct{}{} // the first task does not block
	p.Go(1)
	if v := <-done; v != 1 {
		t.Fatalf("ran %d, want 1", v)
	}
	waitIdle(t, p, 1)
	p.Go(2) // takes the waiting goroutine: none is idle while 2 runs
	if n := p.Idle(); n != 0 {
		t.Fatalf("Idle() = %d while the only goroutine runs task 2, want 0", n)
	}
	release <- struct{}{}
	if v := <-done; v != 2 {
		t.Fatalf("ran %d, want 2", v)
	}
	waitIdle(t, p, 1) // back, and no second goroutine was started
	waitIdle(t, p, 0) // then it exits after IdleTimeout
}

func TestPoolBlockedTaskHoldsUpNoOther(t *testing.T) {
	release := make(chan struct{})
	ran := make(chan int, 2)
	p := &gopool.Pool[int]{Run: func(v int) {
		if v == 0 {
			<-release
		}
		ran <- v
	}}
	p.Go(0) // blocks
	p.Go(1)
	select {
	case v := <-ran:
		if v != 1 {
			t.Fatalf("ran %d first, want 1", v)
		}
	case <-time.After(10 * time.Second): // a hang guard
		t.Fatal("a task waited for a blocked one")
	}
	close(release)
	if v := <-ran; v != 0 {
		t.Fatalf("ran %d, want 0", v)
	}
	waitIdle(t, p, 0)
}

func TestPoolMaxIdle(t *testing.T) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	p := &gopool.Pool[int]{Run: func(int) { <-start; wg.Done() }, MaxIdle: 3, IdleTimeout: 2 * time.Second}
	wg.Add(10)
	for i := range 10 {
		p.Go(i)
	}
	close(start)
	wg.Wait()
	waitIdle(t, p, 3) // ten ran at once; seven exited at once
	waitIdle(t, p, 0)
}

// Many goroutines calling Go at once while workers time out: every task
// runs exactly once.
func TestPoolConcurrentGoAndTimeouts(t *testing.T) {
	var mu sync.Mutex
	seen := make(map[int]int)
	var wg sync.WaitGroup
	p := &gopool.Pool[int]{Run: func(v int) {
		mu.Lock()
		seen[v]++
		mu.Unlock()
		wg.Done()
	}, IdleTimeout: 50 * time.Microsecond}
	const callers, each = 8, 500
	wg.Add(callers * each)
	for c := range callers {
		go func() {
			for i := range each {
				p.Go(c*each + i)
				if i%50 == 0 {
					time.Sleep(100 * time.Microsecond)
				}
			}
		}()
	}
	wg.Wait()
	if len(seen) != callers*each {
		t.Fatalf("%d distinct tasks ran, want %d", len(seen), callers*each)
	}
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("task %d ran %d times", v, n)
		}
	}
	waitIdle(t, p, 0)
}

func BenchmarkPoolGo(b *testing.B) {
	done := make(chan struct{})
	p := &gopool.Pool[int]{Run: func(int) { deep(32); done <- struct{}{} }}
	for i := 0; i < b.N; i++ {
		p.Go(i)
		<-done
	}
}

func BenchmarkGoStatement(b *testing.B) {
	done := make(chan struct{})
	for i := 0; i < b.N; i++ {
		go func() { deep(32); done <- struct{}{} }()
		<-done
	}
}

// deep uses about n KiB of stack, as a handler's call chain does.
//
//go:noinline
func deep(n int) byte {
	var buf [1024]byte
	buf[n%len(buf)] = byte(n)
	if n == 0 {
		return buf[0]
	}
	return deep(n-1) + buf[n%len(buf)]
}
