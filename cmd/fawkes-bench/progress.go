package main

import (
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"time"
)

// logw receives progress lines; stdout is kept for the JSON summary.
var logw io.Writer = os.Stderr

func logf(format string, args ...any) {
	fmt.Fprintf(logw, "fawkes-bench: "+format+"\n", args...)
}

// progress prints "label: done/total (rate/s)" to logw once a second.
type progress struct {
	label string
	total int
	n     atomic.Int64
	stop  chan struct{}
	ended chan struct{}
}

func newProgress(label string, total int) *progress {
	p := &progress{label: label, total: total, stop: make(chan struct{}), ended: make(chan struct{})}
	go func() {
		defer close(p.ended)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		start, last := time.Now(), int64(0)
		for {
			select {
			case <-p.stop:
				n := p.n.Load()
				logf("%s: %d/%d in %.1fs", p.label, n, p.total, time.Since(start).Seconds())
				return
			case <-t.C:
				n := p.n.Load()
				logf("%s: %d/%d (%d/s)", p.label, n, p.total, n-last)
				last = n
			}
		}
	}()
	return p
}

func (p *progress) add() { p.n.Add(1) }

func (p *progress) done() {
	close(p.stop)
	<-p.ended
}
