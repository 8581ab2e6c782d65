package main

import (
	"bufio"
	"bytes"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// logLine returns the first JSON log line whose message is msg.
func (p *proc) logLine(msg string) map[string]any {
	for _, l := range p.logs.lines() {
		if l["message"] == msg {
			return l
		}
	}
	return nil
}

// TestProcessStartupLineMetricsAddrAndDrainSummary checks what an operator
// reads at start and at stop, and the separate metrics listener.
func TestProcessStartupLineMetricsAddrAndDrainSummary(t *testing.T) {
	p := startFawkes(t, nil, "--metrics-addr", "127.0.0.1:0", "--presence", "--heartbeat-interval", "0")
	up := p.logLine("fawkes listening")
	for key, want := range map[string]any{
		"version": buildVersion(), "pubsub": "memory", "auth": "none", "presence": true, "config": "none",
		"console": p.url + "/", "socket_path": "/socket",
	} {
		if up[key] != want {
			t.Errorf("start-up line %s = %v, want %v: %s", key, up[key], want, up["_raw"])
		}
	}
	metricsURL, _ := up["metrics"].(string)
	if !strings.HasPrefix(metricsURL, "http://127.0.0.1:") || strings.HasPrefix(metricsURL, p.url) {
		t.Fatalf("start-up line metrics = %q, want the --metrics-addr listener", metricsURL)
	}
	if status, _ := get(t, p.url+"/metrics"); status != 404 {
		t.Errorf("/metrics on --addr with --metrics-addr: %d, want 404", status)
	}
	m := scrape(t, strings.TrimSuffix(metricsURL, "/metrics"))
	if m[`fawkes_build_info{goversion="`+goVersion()+`",version="`+buildVersion()+`"}`] != 1 {
		t.Errorf("no fawkes_build_info series for this build in %v", keysWith(m, "build"))
	}

	for range 3 {
		dialWS(t, p.url).join("events:lobby", `{}`)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	start, end := p.logLine("shutting down: draining connections"), p.logLine("drained; stopped")
	if start == nil || end == nil {
		t.Fatalf("no drain lines:\n%s", p.logs.b.String())
	}
	if start["grace_ms"] != 30000.0 || start["connections"] != 3.0 {
		t.Errorf("drain start: %s", start["_raw"])
	}
	if end["clients_closed"] != 3.0 || end["took_ms"] == nil {
		t.Errorf("drain summary: %s", end["_raw"])
	}
	// Every duration field of the binary's own lines names its unit (the
	// packages' lines, "connection closed" and "events channel closed",
	// are theirs to name).
	for _, l := range []map[string]any{up, start, end} {
		for _, bare := range []string{"took", "grace", "duration", "after", "down"} {
			if _, ok := l[bare]; ok {
				t.Errorf("field %q without its unit: %s", bare, l["_raw"])
			}
		}
	}
}

// TestProcessConsoleLogFormatWritesNoColourToAPipe checks --log-format
// console into a pipe (a file, journald) has no escape codes.
func TestProcessConsoleLogFormatWritesNoColourToAPipe(t *testing.T) {
	cmd := exec.Command(fawkesBinary(t), "--addr", "127.0.0.1:0", "--log-format", "console")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	var out bytes.Buffer
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		out.Write(append(sc.Bytes(), '\n'))
		if strings.Contains(sc.Text(), "fawkes listening") {
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	for sc.Scan() {
		out.Write(append(sc.Bytes(), '\n'))
	}
	if !strings.Contains(out.String(), "fawkes listening") || !strings.Contains(out.String(), "INF") {
		t.Fatalf("no console-format start-up line:\n%s", out.String())
	}
	if strings.Contains(out.String(), "\x1b[") {
		t.Errorf("colour codes written to a pipe:\n%q", out.String())
	}
}

func goVersion() string { return runtime.Version() }

func keysWith(s series, sub string) []string {
	var out []string
	for k := range s {
		if strings.Contains(k, sub) {
			out = append(out, k)
		}
	}
	return out
}
