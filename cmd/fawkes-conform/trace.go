package main

import (
	"fmt"
	"sync"
	"time"
)

// tracer records what crossed the wire during one case, for --trace and
// for the JSON report. It is safe for concurrent use: connection readers
// add to it.
type tracer struct {
	start time.Time
	mu    sync.Mutex
	lines []string
}

func newTracer() *tracer { return &tracer{start: time.Now()} }

// add records one line: who (the connection), dir ("→" sent, "←" received,
// "·" a note) and what.
func (t *tracer) add(who, dir, what string) {
	if who == "" {
		who = "main" // the default connection
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, fmt.Sprintf("%9.3fms %-8s %s %s", float64(time.Since(t.start).Microseconds())/1000, who, dir, shorten(what, 500)))
}

func (t *tracer) snapshot() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string{}, t.lines...)
}
