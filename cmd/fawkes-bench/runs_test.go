package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// asMainEnv makes the test binary run as fawkes-bench (see init), so a
// test can start it as a server with --target-cmd.
const asMainEnv = "FAWKES_BENCH_TEST_AS_MAIN"

func init() {
	if os.Getenv(asMainEnv) != "1" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// seriesRuns splits a series' stdout into its run lines and its last line.
func seriesRuns(t *testing.T, lines []map[string]any, want int) ([]map[string]any, map[string]any) {
	t.Helper()
	if len(lines) != want+1 {
		t.Fatalf("%d stdout lines, want %d runs and the series line", len(lines), want)
	}
	return lines[:want], lines[want]
}

// seriesFigure returns a side's figure from the series line.
func seriesFigure(t *testing.T, series map[string]any, label, name string) map[string]any {
	t.Helper()
	sides, _ := series["series"].([]any)
	for _, s := range sides {
		sd := s.(map[string]any)
		if sd["label"] != label {
			continue
		}
		figs, _ := sd["figures"].([]any)
		for _, f := range figs {
			if fm := f.(map[string]any); fm["name"] == name {
				return fm
			}
		}
		t.Fatalf("%s has no figure %q: %v", label, name, sd)
	}
	t.Fatalf("no side %q in %v", label, series)
	return nil
}

// checkStats checks min <= median <= max over values taken from the runs.
func checkStats(t *testing.T, f map[string]any, fromRuns []float64) {
	t.Helper()
	var values []float64
	for _, v := range f["values"].([]any) {
		values = append(values, v.(float64))
	}
	if !slices.Equal(values, fromRuns) {
		t.Errorf("%s: values %v, the runs say %v", f["name"], values, fromRuns)
	}
	lo, mid, hi := f["min"].(float64), f["median"].(float64), f["max"].(float64)
	if lo != slices.Min(values) || hi != slices.Max(values) || mid < lo || mid > hi {
		t.Errorf("%s: min %v median %v max %v of %v", f["name"], lo, mid, hi, values)
	}
}

func TestRunsInterleaveTargetAndReference(t *testing.T) {
	target, ref := startFawkes(t), startLimit(t)
	pid := strconv.Itoa(os.Getpid())
	code, lines, stderr := runBench(t, "fanout", "--runs", "2", "--target", target, "--pid", pid, "--reference", ref, "--reference-pid", pid,
		"--subscribers", "5", "--rate", "20", "--duration", "200ms", "--drain", "1s", "--run-pause", "0s")
	runs, series := seriesRuns(t, lines, 4)
	if code != 0 || series["ok"] != true {
		t.Fatalf("exit %d, series %v\n%s", code, series, stderr)
	}
	var delivered = map[string][]float64{}
	for i, r := range runs {
		label := []string{"target", "reference"}[i%2]
		addr := map[string]string{"target": target, "reference": ref}[label]
		cfg := r["config"].(map[string]any)
		if r["label"] != label || r["run"] != float64(i/2+1) || cfg["target"] != addr || r["ok"] != true {
			t.Errorf("line %d: run %v, label %v, target %v, ok %v; want run %d, %s, %s, true", i+1, r["run"], r["label"], cfg["target"], r["ok"], i/2+1, label, addr)
		}
		if r["server"] == nil {
			t.Errorf("line %d: no server figures with --pid / --reference-pid", i+1)
		}
		best := r["result"].(map[string]any)["best"].(map[string]any)
		delivered[label] = append(delivered[label], best["deliveries_per_s"].(float64))
	}
	for _, label := range []string{"target", "reference"} {
		checkStats(t, seriesFigure(t, series, label, "deliveries_per_s"), delivered[label])
		for _, name := range []string{"lost", "latency_p50_ms", "latency_p99_ms", "latency_max_ms", "server_cpu_util"} {
			seriesFigure(t, series, label, name)
		}
	}
	if !strings.Contains(stderr, "median") || !strings.Contains(stderr, "deliveries_per_s") {
		t.Errorf("stderr has no table:\n%s", stderr)
	}
}

func TestRunsOfRPCAndConns(t *testing.T) {
	target := startFawkes(t)
	code, lines, stderr := runBench(t, "rpc", "--runs", "3", "--target", target, "--conns", "2", "--duration", "100ms", "--run-pause", "0s")
	runs, series := seriesRuns(t, lines, 3)
	if code != 0 || series["ok"] != true || len(series["series"].([]any)) != 1 {
		t.Fatalf("exit %d, series %v\n%s", code, series, stderr)
	}
	var rates []float64
	for _, r := range runs {
		rates = append(rates, r["result"].(map[string]any)["replies_per_s"].(float64))
	}
	checkStats(t, seriesFigure(t, series, "target", "replies_per_s"), rates)

	code, lines, stderr = runBench(t, "conns", "--runs", "2", "--target", target, "--conns", "5", "--hold", "100ms", "--settle", "50ms",
		"--pid", strconv.Itoa(os.Getpid()), "--run-pause", "0s")
	runs, series = seriesRuns(t, lines, 2)
	if code != 0 || series["ok"] != true {
		t.Fatalf("exit %d, series %v\n%s", code, series, stderr)
	}
	var perConn []float64
	for _, r := range runs {
		perConn = append(perConn, r["result"].(map[string]any)["server_rss_per_conn_bytes"].(float64))
	}
	checkStats(t, seriesFigure(t, series, "target", "server_rss_per_conn_bytes"), perConn)
	seriesFigure(t, series, "target", "connect_join_per_s")
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

func TestRunsStartAFreshServerEachRun(t *testing.T) {
	skipOffLinux(t) // the started server's pid is read from /proc
	t.Setenv(asMainEnv, "1")
	addr := freeAddr(t)
	cmd := fmt.Sprintf("%s limit-server --addr %s", os.Args[0], addr)
	code, lines, stderr := runBench(t, "rpc", "--runs", "2", "--target", addr, "--target-cmd", cmd, "--conns", "2", "--duration", "100ms", "--run-pause", "0s")
	runs, series := seriesRuns(t, lines, 2)
	if code != 0 || series["ok"] != true {
		t.Fatalf("exit %d, series %v\n%s", code, series, stderr)
	}
	var pids []int
	for _, r := range runs {
		srv, _ := r["server"].(map[string]any)
		if srv == nil {
			t.Fatalf("run %v: no server figures for the started server", r["run"])
		}
		pids = append(pids, int(srv["pid"].(float64)))
	}
	if pids[0] == pids[1] || pids[0] == os.Getpid() {
		t.Errorf("server pids %v: want a fresh server per run", pids)
	}
	for _, pid := range pids {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("server %d still exists after the series", pid)
		}
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		_ = c.Close()
		t.Errorf("something still listens on %s", addr)
	}
}

func TestRunsReportAServerThatDoesNotStart(t *testing.T) {
	t.Setenv(asMainEnv, "1")
	addr := freeAddr(t)
	code, lines, stderr := runBench(t, "rpc", "--runs", "1", "--target", addr, "--target-cmd", os.Args[0]+" nosuch-scenario",
		"--conns", "1", "--duration", "100ms")
	runs, series := seriesRuns(t, lines, 1)
	if code == 0 || series["ok"] != false || runs[0]["ok"] != false || !strings.Contains(runs[0]["error"].(string), "exited before accepting") {
		t.Errorf("exit %d, run %v, series %v; want the run and the series failed", code, runs[0], series)
	}
	if !strings.Contains(stderr, "unknown scenario") {
		t.Errorf("stderr does not show the server's output:\n%s", stderr)
	}
}

func TestRunsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"--runs", "0"},
		{"--runs", "2", "--reference-pid", "1"},
		{"--reference-cmd", "x"},
		{"--target-cmd", "x", "--pid", "1"},
		{"--reference", "127.0.0.1:1", "--reference-cmd", "x", "--reference-pid", "1"},
	} {
		code, lines, _ := runBench(t, append([]string{"rpc"}, args...)...)
		if code != 2 || len(lines) != 0 {
			t.Errorf("%v: exit %d, %d stdout lines; want a usage error, no summary", args, code, len(lines))
		}
	}
}
