//go:build unix

package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
)

// readFile reads a file of /proc. Other Unix systems have no /proc (or
// not Linux's): there it fails with ErrUnsupported rather than with a
// "no such file" that would read like a process that is gone.
func readFile(name string) ([]byte, error) {
	if runtime.GOOS != "linux" {
		return nil, ErrUnsupported
	}
	return os.ReadFile(name)
}

// RSSKiB returns VmRSS of pid (0 means this process) in KiB.
func RSSKiB(pid int) (int64, error) {
	b, err := readFile(path(pid, "status"))
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(v)
			if len(f) == 0 {
				break
			}
			return strconv.ParseInt(string(f[0]), 10, 64)
		}
	}
	return 0, errors.New("proc: no VmRSS line")
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

// CPU returns the user plus system CPU time pid (0 means this process)
// has used.
func CPU(pid int) (time.Duration, error) {
	if pid == 0 {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			return 0, err
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
	}
	f, err := stat(pid)
	if err != nil {
		return 0, err
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// stat returns the fields of /proc/<pid>/stat after the command name
// (which is in parentheses and may hold spaces): f[0] is field 3 of
// proc(5), the state.
func stat(pid int) ([][]byte, error) {
	b, err := readFile(path(pid, "stat"))
	if err != nil {
		return nil, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("proc: malformed stat")
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 20 { // starttime is field 22, i.e. 19 here
		return nil, errors.New("proc: short stat")
	}
	return f, nil
}

// StartTime returns when pid started, in clock ticks after boot. The
// kernel reuses pids: pid and start time together name one process. A
// process that has exited but is not yet reaped by its parent (a zombie)
// gives ErrExited.
func StartTime(pid int) (uint64, error) {
	f, err := stat(pid)
	if err != nil {
		return 0, err
	}
	if s := string(f[0]); s == "Z" || s == "X" || s == "x" {
		return 0, ErrExited
	}
	return strconv.ParseUint(string(f[19]), 10, 64)
}

// OpenFiles returns this process's soft limit on open files.
func OpenFiles() uint64 {
	var r syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &r) != nil {
		return 0
	}
	return uint64(r.Cur) // int64 on FreeBSD, where RLIM_INFINITY is the int64 maximum
}

func path(pid int, file string) string {
	if pid == 0 {
		return "/proc/self/" + file
	}
	return fmt.Sprintf("/proc/%d/%s", pid, file)
}

// BusyCPU returns the CPU time every process of the machine has used since
// boot (user, nice, system, irq, softirq and steal from /proc/stat), so
// that a run can say how much of the machine others took meanwhile.
func BusyCPU() (time.Duration, error) {
	b, err := readFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, errors.New("proc: malformed /proc/stat")
	}
	var ticks int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		v, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// LoadAvg returns the 1-minute load average.
func LoadAvg() (float64, error) {
	b, err := readFile("/proc/loadavg")
	if err != nil {
		return 0, err
	}
	f := bytes.Fields(b)
	if len(f) == 0 {
		return 0, errors.New("proc: empty /proc/loadavg")
	}
	return strconv.ParseFloat(string(f[0]), 64)
}
