//go:build unix

package presence_test

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time the process has used (all threads, user and
// system): benchmarks report it next to wall time, which other load on the
// machine inflates.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
