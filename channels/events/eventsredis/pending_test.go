package eventsredis

import (
	"context"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

// A read on the node that published waits until Redis has every event the
// node published in the room: its own members got them before Redis did.
func TestReadWaitsForThisNodesEvents(t *testing.T) {
	client := goredis.NewClient(&goredis.Options{Addr: redistest.Start(t).Addr, ContextTimeoutEnabled: true})
	defer client.Close()
	ps, err := redis.New(redis.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	defer ps.Close(context.Background())
	h, _ := New(Config{PubSub: ps})
	const seq = 1 << 40
	h.setMark("r", mark{seq: seq, at: time.Now()}) // published here, not in Redis yet
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = h.Since(ctx, "r", "", 0)
	cancel()
	if err == nil || !strings.Contains(err.Error(), "deadline exceeded") {
		t.Fatalf("read while this node's event is on its way: %v", err)
	}
	time.Sleep(pendingLimit + 100*time.Millisecond) // that read gives up
	if _, err := h.read(context.Background(), "r", "", 0); err == nil || !strings.Contains(err.Error(), "not in Redis after") {
		t.Fatalf("read after the pending limit: %v", err)
	}
	read := make(chan events.Page, 1)
	go func() {
		p, err := h.Since(context.Background(), "r", "", 0)
		if err != nil {
			t.Error(err)
		}
		read <- p
	}()
	time.Sleep(20 * time.Millisecond)
	ev := []byte(`{"specversion":"1.0","id":"x","source":"/s","type":"t"}`)
	if err := h.Publish(ps, "r", events.Record{ID: "x", Type: "t", Raw: ev, Seq: seq}, pubsub.NewBroadcast("events:r", events.EventCloudEvent, ev)); err != nil {
		t.Fatal(err)
	}
	p := <-read
	if !p.Found || len(p.Events) != 1 || p.Events[0].Seq != seq || p.Through != seq {
		t.Errorf("page %+v", p)
	}
	if err := h.Publish(pubsub.NewLocal(), "r", events.Record{ID: "y", Seq: seq + 1}, pubsub.NewBroadcast("events:r", events.EventCloudEvent, ev)); err == nil {
		t.Error("a PubSub without PublishWith wrote the history")
	}
	if got := h.lastPublished("r"); got != seq {
		t.Errorf("last published %d after a refused publish, want %d", got, seq)
	}
}

// Reads of one page share a run that has not started, never one under way.
func TestReadsShareOnlyRunsNotStarted(t *testing.T) {
	var r reads
	k := readKey{room: "r", after: "x"}
	started := make(chan int, 10)
	release := make(chan struct{})
	runs := 0
	read := func(f *flight) {
		runs++
		started <- runs
		<-release
		f.page.Through = uint64(runs)
	}
	first := r.join(k, read)
	<-started // the first run is under way
	second := r.join(k, read)
	third := r.join(k, read)
	if second == first || third != second {
		t.Fatal("a caller that came during a run shares it, or two callers after it do not share the next one")
	}
	release <- struct{}{}
	<-first.done
	<-started // the second run starts once the first is over
	fourth := r.join(k, read)
	if fourth == second {
		t.Fatal("a caller shares a run under way")
	}
	close(release)
	<-second.done
	<-fourth.done
	if first.page.Through != 1 || third.page.Through != 2 || fourth.page.Through != 3 {
		t.Errorf("runs: %d %d %d", first.page.Through, third.page.Through, fourth.page.Through)
	}
	if other := r.join(readKey{room: "r", after: "y"}, func(*flight) {}); other == fourth {
		t.Error("another key shares a run")
	}
}
