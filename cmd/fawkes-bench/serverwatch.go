package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/proc"
)

// serverWatch reads the server's memory and CPU time from /proc when
// --pid is given, and checks that the --pid and --watch-pids processes
// stay the ones found at the start: a run whose server exits fails instead
// of reporting no figures, or another process's.
type serverWatch struct {
	pid   int
	rss0  int64
	cpu0  float64
	procs []watchedProc // --pid first, then --watch-pids
}

// watchedProc is a process named by a flag, identified by pid and start
// time: the kernel hands the pid of a process that exited to a later one.
type watchedProc struct {
	flag  string
	pid   int
	start uint64
}

// newServerWatch finds the --pid process (0: none) and the --watch-pids
// ones; it fails if any cannot be read.
func newServerWatch(pid int, watched []int) (*serverWatch, error) {
	s := &serverWatch{pid: pid}
	if pid > 0 {
		if err := s.add("--pid", pid); err != nil {
			return nil, err
		}
		var err error
		if s.rss0, err = proc.RSSKiB(pid); err != nil {
			return nil, procError("--pid", pid, err)
		}
		s.cpu0 = cpuOf(pid)
	}
	for _, p := range watched {
		if err := s.add("--watch-pids", p); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *serverWatch) add(flag string, pid int) error {
	start, err := proc.StartTime(pid)
	if err != nil {
		return procError(flag, pid, err)
	}
	s.procs = append(s.procs, watchedProc{flag: flag, pid: pid, start: start})
	return nil
}

// procError says why pid, named by flag, cannot be measured.
func procError(flag string, pid int, err error) error {
	switch {
	case errors.Is(err, proc.ErrUnsupported):
		return fmt.Errorf("%s %d: %w", flag, pid, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s %d: no such process (no /proc/%d): is the server running?", flag, pid, pid)
	case errors.Is(err, proc.ErrExited):
		return fmt.Errorf("%s %d: the process has exited (a zombie)", flag, pid)
	}
	return fmt.Errorf("%s %d: reading /proc/%d: %w", flag, pid, pid, err)
}

// check returns an error unless every watched process is still running
// and is the one found at the start.
func (s *serverWatch) check() error {
	for _, p := range s.procs {
		start, err := proc.StartTime(p.pid)
		switch {
		case err != nil:
			return fmt.Errorf("the server exited during the run: %w", procError(p.flag, p.pid, err))
		case start != p.start:
			return fmt.Errorf("the server exited during the run: %s %d: the pid now names another process (started at tick %d after boot, not %d)", p.flag, p.pid, start, p.start)
		}
	}
	return nil
}

// watch checks the processes every interval until the returned function
// is called; the first failure cancels the run with it as the cause.
func (s *serverWatch) watch(ctx context.Context, cancel context.CancelCauseFunc, interval time.Duration) (stop func()) {
	if len(s.procs) == 0 {
		return func() {}
	}
	done, ended := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(ended)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if err := s.check(); err != nil {
					logf("%v", err)
					cancel(err)
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-ended
	}
}

// cpu returns the server's CPU seconds so far, or 0 without --pid.
func (s *serverWatch) cpu() float64 {
	if s.pid <= 0 {
		return 0
	}
	return cpuOf(s.pid)
}

// rss returns the server's VmRSS in KiB now, or 0 without --pid.
func (s *serverWatch) rss() int64 {
	if s.pid <= 0 {
		return 0
	}
	return rssOf(s.pid)
}

// serverFigures are the server's costs over the run.
type serverFigures struct {
	PID          int     `json:"pid"`
	RSSBeforeKiB int64   `json:"rss_before_kib"`
	RSSAfterKiB  int64   `json:"rss_after_kib"`
	CPUSeconds   float64 `json:"cpu_s"`
	CPUUtil      float64 `json:"cpu_util"` // cpu_s / elapsed_s
	// Error is why the figures are missing; the run then failed.
	Error string `json:"error,omitempty"`
}

// figures returns the server's figures over elapsed seconds (nil without
// --pid), then checks the processes: if that fails, the figures are only
// the error, which figures returns too.
func (s *serverWatch) figures(elapsed float64) (*serverFigures, error) {
	var f *serverFigures
	if s.pid > 0 {
		f = &serverFigures{PID: s.pid, RSSBeforeKiB: s.rss0, RSSAfterKiB: s.rss(), CPUSeconds: cpuOf(s.pid) - s.cpu0}
		if elapsed > 0 {
			f.CPUUtil = f.CPUSeconds / elapsed
		}
	}
	if err := s.check(); err != nil {
		if f != nil {
			*f = serverFigures{PID: s.pid, RSSBeforeKiB: s.rss0, Error: err.Error()}
		}
		return f, err
	}
	return f, nil
}

func cpuOf(pid int) float64 {
	d, err := proc.CPU(pid)
	if err != nil {
		return 0
	}
	return d.Seconds()
}

// cpuOfAll returns the CPU seconds of every pid together.
func cpuOfAll(pids []int) float64 {
	var t float64
	for _, pid := range pids {
		t += cpuOf(pid)
	}
	return t
}

func rssOf(pid int) int64 {
	v, _ := proc.RSSKiB(pid)
	return v
}

func openFiles() uint64 { return proc.OpenFiles() }
