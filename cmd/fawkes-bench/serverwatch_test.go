package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// runBench runs the command line and returns its exit code, its stdout
// lines decoded (each must be JSON) and its stderr.
func runBench(t *testing.T, args ...string) (int, []map[string]any, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimRight(stdout.String(), "\n"), "\n") {
		if l == "" {
			break // no output
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("stdout line is not JSON: %v\n%s", err, l)
		}
		lines = append(lines, m)
	}
	return code, lines, stderr.String()
}

// wantPIDFailure checks that a run failed loudly, naming flag and pid.
func wantPIDFailure(t *testing.T, code int, lines []map[string]any, stderr, flag string, pid int, why string) {
	t.Helper()
	name := flag + " " + strconv.Itoa(pid)
	if len(lines) != 1 {
		t.Fatalf("%d summary lines, want 1", len(lines))
	}
	sum := lines[0]
	msg, _ := sum["error"].(string)
	if code == 0 || sum["ok"] != false || !strings.Contains(msg, name) || !strings.Contains(msg, why) {
		t.Errorf("exit %d, ok %v, error %q; want a failure naming %q: %q", code, sum["ok"], msg, name, why)
	}
	if !strings.Contains(stderr, name) {
		t.Errorf("stderr does not name %q:\n%s", name, stderr)
	}
}

// exitedPID returns the pid of a process that has run and been reaped.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func skipOffLinux(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc is Linux's")
	}
}

func TestPIDExitedBeforeTheRunFails(t *testing.T) {
	skipOffLinux(t)
	target := startFawkes(t)
	pid := exitedPID(t)
	code, lines, stderr := runBench(t, "conns", "--target", target, "--conns", "2", "--hold", "0s", "--pid", strconv.Itoa(pid))
	wantPIDFailure(t, code, lines, stderr, "--pid", pid, "no such process")
	if r, _ := lines[0]["result"].(map[string]any); r != nil {
		t.Errorf("the run went ahead without its server: result %v", r)
	}

	code, lines, stderr = runBench(t, "fanout", "--target", target, "--subscribers", "2", "--rate", "10", "--duration", "100ms",
		"--pid", strconv.Itoa(os.Getpid()), "--watch-pids", strconv.Itoa(pid))
	wantPIDFailure(t, code, lines, stderr, "--watch-pids", pid, "no such process")
}

// TestPIDExitingDuringTheRunFails: a server that exits during a 60 s hold
// ends the run at once with an error; reaped (its /proc entry gone) or
// not (a zombie).
func TestPIDExitingDuringTheRunFails(t *testing.T) {
	skipOffLinux(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("sleep(1) is missing in CI; every Linux has it in coreutils")
		}
		t.Skip("SKIPPED: no sleep(1) on this machine")
	}
	target := startFawkes(t)
	for _, reaped := range []bool{true, false} {
		t.Run(map[bool]string{true: "reaped", false: "zombie"}[reaped], func(t *testing.T) {
			cmd := exec.Command(sleep, "0.5")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			pid := cmd.Process.Pid
			if reaped {
				go func() { _ = cmd.Wait() }()
			} else {
				defer func() { _ = cmd.Wait() }()
			}
			code, lines, stderr := runBench(t, "conns", "--target", target, "--conns", "2", "--hold", "60s", "--settle", "0s", "--pid", strconv.Itoa(pid))
			wantPIDFailure(t, code, lines, stderr, "--pid", pid, "exited during the run")
			r, _ := lines[0]["result"].(map[string]any)
			if hold, _ := r["hold_s"].(float64); hold <= 0 || hold >= 30 {
				t.Errorf("hold_s %v: want the run ended when the server exited, long before --hold 60s", r["hold_s"])
			}
			srv, _ := lines[0]["server"].(map[string]any)
			if srv == nil || srv["error"] == nil || srv["cpu_s"] != 0.0 {
				t.Errorf("server figures %v: want only the error", srv)
			}
		})
	}
}

func TestPIDReusedByAnotherProcessFails(t *testing.T) {
	skipOffLinux(t)
	s, err := newServerWatch(os.Getpid(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.check(); err != nil {
		t.Fatalf("this process: %v", err)
	}
	s.procs[0].start++ // as if the pid had been handed to a later process
	if err := s.check(); err == nil || !strings.Contains(err.Error(), "another process") || !strings.Contains(err.Error(), "--pid "+strconv.Itoa(os.Getpid())) {
		t.Errorf("check with another start time: %v", err)
	}
}

func TestPIDOffLinuxFails(t *testing.T) {
	if runtime.GOOS == "linux" {
		t.Skip("off Linux only")
	}
	target := startFawkes(t)
	code, lines, stderr := runBench(t, "conns", "--target", target, "--conns", "1", "--hold", "0s", "--pid", strconv.Itoa(os.Getpid()))
	wantPIDFailure(t, code, lines, stderr, "--pid", os.Getpid(), "no Linux /proc")
}
