package main

import (
	"errors"
	"flag"
	"time"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/eventsredis"
)

// maxHistorySize bounds --history-size: a join replays at most the history
// of its room, and the history is walked on every resume.
const maxHistorySize = 100_000

// historyFlags declares --history-size and --history-ttl (the events
// channel's resume after reconnect).
func historyFlags(fs *flag.FlagSet, cfg *config) {
	fs.IntVar(&cfg.HistorySize, "history-size", events.DefaultHistorySize, `events channel: events kept per room, so that a client rejoining with "last_event_id" gets what it missed (0 = no history)`)
	fs.DurationVar(&cfg.HistoryTTL, "history-ttl", events.DefaultHistoryTTL, "events channel: how long an event stays in the history")
}

// validateHistory checks --history-size and --history-ttl.
func (c *config) validateHistory() error {
	var errs []error
	if c.HistorySize < 0 || c.HistorySize > maxHistorySize {
		errs = append(errs, errors.New("--history-size must be 0 (no history) to 100000"))
	}
	if c.HistoryTTL < time.Second {
		errs = append(errs, errors.New("--history-ttl must be at least 1s"))
	}
	return errors.Join(errs...)
}

// newHistory returns the history of --history-size and --history-ttl: in
// this process with --pubsub memory, in Redis otherwise (so that a client
// resumes on any node); nil when the size is 0.
func newHistory(cfg *config, cl *cluster) (events.History, error) {
	if cfg.HistorySize == 0 {
		return nil, nil
	}
	if cl.redis == nil {
		return events.NewMemoryHistory(events.HistoryConfig{Size: cfg.HistorySize, TTL: cfg.HistoryTTL}), nil
	}
	return eventsredis.New(eventsredis.Config{PubSub: cl.redis, Size: cfg.HistorySize, TTL: cfg.HistoryTTL})
}
