package pubsub_test

import (
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// blocker is a Subscriber whose Deliver waits until release is closed.
type blocker struct {
	entered chan struct{}
	release chan struct{}
}

func (b *blocker) Deliver(*pubsub.Broadcast) {
	b.entered <- struct{}{}
	<-b.release
}

// A publish in progress on one topic holds up neither subscribing to,
// unsubscribing from nor publishing on another topic: the lock a delivery
// holds is its topic's.
func TestLocalPublishDoesNotBlockOtherTopics(t *testing.T) {
	var l pubsub.Local
	slow := &blocker{entered: make(chan struct{}, 1), release: make(chan struct{})}
	l.Subscribe("busy", slow)
	published := make(chan struct{})
	go func() {
		defer close(published)
		_ = l.Publish(pubsub.NewBroadcast("busy", "e", nil))
	}()
	<-slow.entered // the publish is now inside Deliver, holding busy's lock

	done := make(chan struct{})
	other := &counter{name: "other"}
	go func() {
		defer close(done)
		for i := 0; i < 100; i++ {
			l.Subscribe("quiet", other)
			_ = l.Publish(pubsub.NewBroadcast("quiet", "e", nil))
			l.Unsubscribe("quiet", other)
		}
		l.Subscribe("quiet", other)
		if n := l.Count("quiet"); n != 1 {
			t.Errorf("Count(quiet) = %d, want 1", n)
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second): // a deadlock guard, not a speed bound
		t.Fatal("subscribing to another topic waited for a delivery in progress")
	}
	if got := other.n.Load(); got != 100 {
		t.Errorf("other topic got %d deliveries, want 100", got)
	}
	close(slow.release)
	<-published
}

// A subscribe to the topic being published waits for the publish, so a
// topic's deliveries and membership changes stay in one order; it then
// takes effect for the next publish.
func TestLocalSubscribeSameTopicWaitsForPublish(t *testing.T) {
	var l pubsub.Local
	slow := &blocker{entered: make(chan struct{}, 2), release: make(chan struct{})}
	l.Subscribe("t", slow)
	go func() { _ = l.Publish(pubsub.NewBroadcast("t", "e", nil)) }()
	<-slow.entered

	late := &counter{name: "late"}
	subscribed := make(chan struct{})
	go func() {
		l.Subscribe("t", late)
		close(subscribed)
	}()
	select {
	case <-subscribed:
		t.Fatal("Subscribe to the topic being delivered returned before the delivery ended")
	case <-time.After(50 * time.Millisecond):
	}
	close(slow.release)
	<-subscribed
	if got := late.n.Load(); got != 0 {
		t.Fatalf("late subscriber got %d deliveries of a publish that started before it", got)
	}
	_ = l.Publish(pubsub.NewBroadcast("t", "e", nil))
	<-slow.entered
	if got := late.n.Load(); got != 1 {
		t.Fatalf("late subscriber got %d deliveries, want 1", got)
	}
}

// A topic emptied and filled again by concurrent callers never loses a
// subscription (the emptied topic is replaced, not reused).
func TestLocalTopicRecreatedConcurrently(t *testing.T) {
	var l pubsub.Local
	const workers, rounds = 8, 2000
	subs := make([]*counter, workers)
	done := make(chan struct{})
	for w := range workers {
		subs[w] = &counter{}
		go func() {
			defer func() { done <- struct{}{} }()
			for range rounds {
				l.Subscribe("churn", subs[w])
				l.Unsubscribe("churn", subs[w])
			}
			l.Subscribe("churn", subs[w])
		}()
	}
	for range workers {
		<-done
	}
	if n := l.Count("churn"); n != workers {
		t.Fatalf("Count = %d after every worker subscribed once more, want %d", n, workers)
	}
	_ = l.Publish(pubsub.NewBroadcast("churn", "e", nil))
	for w, s := range subs {
		if s.n.Load() != 1 {
			t.Errorf("worker %d's subscriber got %d deliveries, want 1", w, s.n.Load())
		}
	}
}

// BenchmarkSubscribeDuringFanout measures a subscribe plus unsubscribe on
// one topic while another goroutine publishes, back to back, to 5,000
// subscribers of another topic: a join while a saturating fan-out runs.
func BenchmarkSubscribeDuringFanout(b *testing.B) {
	var l pubsub.Local
	fan := make([]*counter, 5000)
	for i := range fan {
		fan[i] = &counter{}
		l.Subscribe("fanout", fan[i])
	}
	stop := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-stop:
				return
			default:
				_ = l.Publish(pubsub.NewBroadcast("fanout", "e", nil))
			}
		}
	}()
	joiner := &counter{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l.Subscribe("room", joiner)
		l.Unsubscribe("room", joiner)
	}
	b.StopTimer()
	close(stop)
	<-stopped
}
