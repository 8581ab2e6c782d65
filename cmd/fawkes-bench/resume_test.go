package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

// startEvents serves the events channel with history (nil: none) and
// returns its host:port.
func startEvents(t *testing.T, history events.History) string {
	t.Helper()
	ps := pubsub.NewLocal()
	router := channels.NewRouter()
	svc := events.New(events.Config{PubSub: ps, HeartbeatInterval: events.HeartbeatOff, History: history})
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	ep := server.New(server.Config{Router: router, PubSub: ps})
	mux := http.NewServeMux()
	mux.Handle("/socket/", ep)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ep.Shutdown(ctx)
		ts.Close()
	})
	return strings.TrimPrefix(ts.URL, "http://")
}

var resumeArgs = []string{"resume", "--clients", "40", "--rate", "200", "--missed", "30", "--warmup", "300ms", "--tail", "300ms", "--catch-up-timeout", "10s"}

func TestResumeCatchesUpWithoutLoss(t *testing.T) {
	// A history far larger than the gap: on a loaded machine the rejoins
	// can take seconds, at 200 events/s.
	addr := startEvents(t, events.NewMemoryHistory(events.HistoryConfig{Size: 10000}))
	var res resumeResult
	bench(t, true, &res, append(resumeArgs, "--target", addr)...)
	if !res.Pass || res.Lost != 0 || res.Duplicates != 0 || res.NotCaughtUp != 0 || res.Incomplete != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.MissedMin < 30 || res.Replayed < 40*30 || res.Rejoin.Joined != 40 || res.CatchUp.Count != 40 || res.Published <= res.PublishedAtRejoin {
		t.Errorf("figures %+v", res)
	}
	checkOrdered(t, "catch_up", res.CatchUp)
}

// Without a history the rejoin cannot replay: the scenario must see the
// gap in every client's sequence.
func TestResumeSeesTheGapWithoutHistory(t *testing.T) {
	addr := startEvents(t, nil)
	var res resumeResult
	bench(t, true, &res, append(resumeArgs, "--target", addr)...)
	if res.Pass || res.Lost < 40*30 {
		t.Fatalf("without history: pass %v, lost %d; want at least %d lost", res.Pass, res.Lost, 40*30)
	}
}
