package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The catalogue against the real fawkes binary: every group, each with the
// settings it needs. This is the CI run of the conformance kit.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// fawkesBinary builds cmd/fawkes once per test binary.
func fawkesBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the fawkes binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "fawkes-conform-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "fawkes")
		out, err := exec.Command("go", "build", "-o", binPath, "../fawkes").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build ../fawkes: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// logBuffer collects a process's log lines; safe for concurrent use.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) add(line []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b.Write(line)
	l.b.WriteByte('\n')
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startFawkes runs the binary on a free loopback port and returns its
// socket URL once it logged "fawkes listening". The test's cleanup stops it.
func startFawkes(t *testing.T, env []string, args ...string) (socketURL string, logs *logBuffer) {
	t.Helper()
	cmd := exec.Command(fawkesBinary(t), append([]string{"--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logs = &logBuffer{}
	addr := make(chan string, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.add(sc.Bytes())
			var l struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "fawkes listening" {
				addr <- l.Addr
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
	})
	select {
	case a := <-addr:
		return "http://" + a + "/socket", logs
	case <-done:
		t.Fatalf("fawkes exited before listening:\n%s", logs)
	case <-time.After(20 * time.Second):
		t.Fatal("fawkes did not start listening")
	}
	return "", nil
}

// conform runs the tool in-process and returns its exit status and output.
func conform(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestFawkesPassesTheCatalogue(t *testing.T) {
	secret := strings.Repeat("fawkes-conform-secret-", 4)
	for _, tc := range []struct {
		group string
		env   []string
		flags []string // the server's
		args  []string // the tool's
	}{
		{
			group: "core",
			flags: []string{"--conformance-channels", "--idle-timeout", "2s", "--longpoll-window", "1s", "--max-message-bytes", "65536"},
			args:  []string{"-idle-timeout", "2s", "-longpoll-window", "1s", "-max-message-bytes", "65536"},
		},
		{
			group: "events",
			flags: []string{"--heartbeat-interval", "1s"},
			args:  []string{"-events-heartbeat", "1s"},
		},
		{
			group: "presence",
			flags: []string{"--presence"},
		},
		{
			group: "token",
			env:   []string{"FAWKES_SECRET_KEY_BASE=" + secret},
			flags: []string{"--auth", "phoenix-token"},
			args:  []string{"-token-secret", secret},
		},
		{
			group: "origin",
			flags: []string{"--check-origin", "https://allowed.example,//*.example.org"},
			args:  []string{"-origin-allowed", "https://app.example.org", "-origin-refused", "https://evil.example"},
		},
	} {
		t.Run(tc.group, func(t *testing.T) {
			url, logs := startFawkes(t, tc.env, tc.flags...)
			junit := filepath.Join(t.TempDir(), "junit.xml")
			args := append([]string{"-url", url, "-groups", tc.group, "-junit", junit}, tc.args...)
			code, out := conform(t, args...)
			if code != 0 {
				t.Fatalf("fawkes-conform %s exited %d:\n%s\nfawkes logs:\n%s", strings.Join(args, " "), code, out, logs)
			}
			if strings.Contains(out, "SKIP") {
				t.Errorf("cases were skipped, give them their settings:\n%s", out)
			}
			t.Logf("%s", lastLine(out))
			checkJUnit(t, junit)
		})
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// checkJUnit reads a report that should have passed and checks its shape.
func checkJUnit(t *testing.T, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var suites junitSuites
	if err := xml.Unmarshal(raw, &suites); err != nil {
		t.Fatalf("JUnit report: %v", err)
	}
	n := 0
	for _, s := range suites.Suites {
		n += len(s.Cases)
		for _, c := range s.Cases {
			if c.Failure != nil || !strings.HasPrefix(c.Name, s.Name+"/") {
				t.Errorf("JUnit case %+v in suite %s", c, s.Name)
			}
		}
	}
	if n == 0 || n != suites.Tests || suites.Failures != 0 {
		t.Errorf("JUnit report: %d cases, tests=%d failures=%d", n, suites.Tests, suites.Failures)
	}
}
