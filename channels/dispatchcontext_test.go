package channels_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
)

// TestDispatchContextBoundsTheWaitForRoom: with a channel blocked and the
// connection's queues full, DispatchContext gives up when its context ends,
// and the message it gave up on is never handled; a DispatchContext whose
// context lives on gets through once the channel catches up.
func TestDispatchContextBoundsTheWaitForRoom(t *testing.T) {
	x, rec, log, release := concurrentMux(t)
	x.Dispatch(msg("1", "1", "room:a", channels.EventJoin, "{}"))
	waitFor(t, "the join", func() bool { return x.Len() == 1 })
	x.Dispatch(msg("1", "block", "room:a", "block", "{}"))

	// Fill the queues: an ended context queues while there is room and
	// fails at once when there is none.
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	queued := 0
	for {
		err := x.DispatchContext(ended, msg("1", fmt.Sprint(queued), "room:a", fmt.Sprint("e", queued), "{}"))
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("DispatchContext on full queues: %v, want context.Canceled", err)
			}
			break
		}
		queued++
		if queued > 100000 {
			t.Fatal("the queues never filled up")
		}
	}

	// A wait for room ends with its context.
	waiting, stop := context.WithCancel(context.Background())
	gaveUp := make(chan error, 1)
	go func() { gaveUp <- x.DispatchContext(waiting, msg("1", "dropped", "room:a", "dropped", "{}")) }()
	time.Sleep(20 * time.Millisecond) // let it wait; were it late, it would fail at once all the same
	stop()
	select {
	case err := <-gaveUp:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("DispatchContext after its context ended: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("DispatchContext kept waiting after its context ended")
	}

	// One whose context lives on waits for room and gets it.
	through := make(chan error, 1)
	go func() {
		through <- x.DispatchContext(context.Background(), msg("1", "last", "room:a", "last", "{}"))
	}()
	log.take()
	close(release)
	if err := <-through; err != nil {
		t.Fatalf("DispatchContext with a live context: %v", err)
	}
	waitFor(t, "every queued message", func() bool { return log.len() == queued+2 })
	got := log.take()
	want := []string{"in room:a block"}
	for i := range queued {
		want = append(want, fmt.Sprintf("in room:a e%d", i))
	}
	want = append(want, "in room:a last")
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("handled %q,\nwant %q", got, want)
	}
	if rec.has(`"dropped"`) {
		t.Error("a message DispatchContext gave up on was answered")
	}
}
