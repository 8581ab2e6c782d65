package sendq

import (
	"errors"
	"slices"
	"sync"
	"testing"
)

func TestQueueOrderBoundAndClose(t *testing.T) {
	q := New[int](3)
	for i := range 3 {
		if err := q.Push(i); err != nil {
			t.Fatalf("Push(%d): %v", i, err)
		}
	}
	if err := q.Push(3); !errors.Is(err, ErrFull) {
		t.Fatalf("Push to a full queue: %v, want ErrFull", err)
	}
	if q.Len() != 3 {
		t.Fatalf("Len() = %d, want 3", q.Len())
	}
	batch, ok := q.Next(nil, 2)
	if !ok || !slices.Equal(batch, []int{0, 1}) {
		t.Fatalf("Next(limit 2) = %v, %v; want [0 1]", batch, ok)
	}
	if !q.Close() {
		t.Fatal("first Close reported false")
	}
	if q.Close() {
		t.Fatal("second Close reported true")
	}
	if err := q.Push(4); !errors.Is(err, ErrClosed) {
		t.Fatalf("Push after Close: %v, want ErrClosed", err)
	}
	batch, ok = q.Next(batch, 2)
	if !ok || !slices.Equal(batch, []int{2}) {
		t.Fatalf("Next after Close = %v, %v; want what is left, [2]", batch, ok)
	}
	if batch, ok = q.Next(batch, 2); ok || len(batch) != 0 {
		t.Fatalf("Next on a closed, empty queue = %v, %v; want [], false", batch, ok)
	}
	select {
	case <-q.Finished():
		t.Fatal("Finished before Finish")
	default:
	}
	q.Finish()
	<-q.Finished()
}

// TestQueueConcurrent pushes from several goroutines while one sender
// takes batches: each pusher's values arrive in its order, none twice,
// none lost but those refused.
func TestQueueConcurrent(t *testing.T) {
	const pushers, each = 4, 1000
	q := New[[2]int](16)
	var got [][2]int
	done := make(chan struct{})
	go func() {
		defer close(done)
		var batch [][2]int
		for {
			var ok bool
			if batch, ok = q.Next(batch, 5); !ok {
				return
			}
			if len(batch) > 5 {
				t.Errorf("batch of %d, limit 5", len(batch))
			}
			got = append(got, batch...)
		}
	}()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for p := range pushers {
		wg.Go(func() {
			for i := range each {
				for q.Push([2]int{p, i}) != nil {
					mu.Lock()
					refused++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	q.Close()
	<-done
	if len(got) != pushers*each {
		t.Fatalf("got %d values, want %d", len(got), pushers*each)
	}
	next := make([]int, pushers)
	for _, v := range got {
		if v[1] != next[v[0]] {
			t.Fatalf("pusher %d: got %d, want %d", v[0], v[1], next[v[0]])
		}
		next[v[0]]++
	}
	t.Logf("%d pushes refused while full, then retried", refused)
}
