package main

import (
	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/proc"
)

// serverWatch reads the server's memory and CPU time from /proc when
// --pid is given.
type serverWatch struct {
	pid  int
	rss0 int64
	cpu0 float64
	err  error
}

func newServerWatch(pid int) *serverWatch {
	s := &serverWatch{pid: pid}
	if pid > 0 {
		s.rss0, s.err = proc.RSSKiB(pid)
		s.cpu0 = cpuOf(pid)
	}
	return s
}

// cpu returns the server's CPU seconds so far, or 0 without --pid.
func (s *serverWatch) cpu() float64 {
	if s.pid <= 0 || s.err != nil {
		return 0
	}
	return cpuOf(s.pid)
}

// rss returns the server's VmRSS in KiB now, or 0 without --pid.
func (s *serverWatch) rss() int64 {
	if s.pid <= 0 || s.err != nil {
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
	Error        string  `json:"error,omitempty"`
}

func (s *serverWatch) figures(elapsed float64) *serverFigures {
	if s.pid <= 0 {
		return nil
	}
	f := &serverFigures{PID: s.pid, RSSBeforeKiB: s.rss0}
	if s.err != nil {
		f.Error = s.err.Error()
		return f
	}
	f.RSSAfterKiB = s.rss()
	f.CPUSeconds = cpuOf(s.pid) - s.cpu0
	if elapsed > 0 {
		f.CPUUtil = f.CPUSeconds / elapsed
	}
	return f
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
