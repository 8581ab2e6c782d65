package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

func TestHistorySettings(t *testing.T) {
	cfg, err := parseConfig(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.HistorySize != events.DefaultHistorySize || cfg.HistoryTTL != events.DefaultHistoryTTL {
		t.Errorf("defaults: size %d, ttl %v", cfg.HistorySize, cfg.HistoryTTL)
	}
	h, err := newHistory(cfg, &cluster{ps: pubsub.NewLocal()})
	if _, ok := h.(*events.MemoryHistory); !ok || err != nil {
		t.Errorf("--pubsub memory: history %T, %v; want a MemoryHistory", h, err)
	}
	cfg, err = parseConfig(nil, env(map[string]string{"FAWKES_HISTORY_SIZE": "0", "FAWKES_HISTORY_TTL": "90s"}), io.Discard)
	if err != nil || cfg.HistorySize != 0 || cfg.HistoryTTL != 90*time.Second {
		t.Fatalf("from the environment: %+v %v", cfg, err)
	}
	if h, err := newHistory(cfg, &cluster{ps: pubsub.NewLocal()}); h != nil || err != nil {
		t.Errorf("--history-size 0: history %v, %v; want none", h, err)
	}
	svc := events.New(events.Config{})
	if _, err := svc.ReadHistory(context.Background(), "r", "", 0); err != events.ErrNoHistory {
		t.Errorf("no history: %v", err)
	}
	for args, want := range map[string]string{
		"--history-size -1":     "--history-size must be 0 (no history) to 100000",
		"--history-size 100001": "--history-size must be 0 (no history) to 100000",
		"--history-ttl 500ms":   "--history-ttl must be at least 1s",
	} {
		_, err := parseConfig(strings.Fields(args), env(nil), io.Discard)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", args, err, want)
		}
	}
}
