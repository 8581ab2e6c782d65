package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
)

// The tests in this file build the real binary once and run it as a
// process: exit codes, signals and the wiring of run are what they check.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

// fawkesBinary builds cmd/fawkes once per test binary.
func fawkesBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "fawkes-bin-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(buildDir, "fawkes")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// proc is a running fawkes.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string // http://127.0.0.1:port
	logs *syncBuffer
	done chan struct{}
}

// startFawkes runs the binary on a free loopback port and waits for its
// "fawkes listening" line.
func startFawkes(t *testing.T, env []string, args ...string) *proc {
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
	p := &proc{t: t, cmd: cmd, logs: &syncBuffer{}, done: make(chan struct{})}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			_, _ = p.logs.Write(append(sc.Bytes(), '\n'))
			var l struct{ Message, Addr string }
			if json.Unmarshal(sc.Bytes(), &l) == nil && l.Message == "fawkes listening" {
				addr <- l.Addr
			}
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	select {
	case a := <-addr:
		p.url = "http://" + a
	case <-p.done:
		t.Fatalf("fawkes exited before listening:\n%s", p.logs.b.String())
	case <-time.After(20 * time.Second):
		t.Fatal("fawkes did not start listening")
	}
	return p
}

// wait waits for the process to exit and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	exited := make(chan struct{})
	go func() { <-p.done; _ = p.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(d):
		_ = p.cmd.Process.Kill()
		p.t.Fatalf("fawkes did not exit within %v", d)
	}
	return p.cmd.ProcessState.ExitCode()
}

func TestProcessSIGTERMDrainsWith1012AndExitsZero(t *testing.T) {
	p := startFawkes(t, nil, "--shutdown-grace", "10s", "--heartbeat-interval", "0", "--log-level", "debug")
	var clients []*wsClient
	for range 3 {
		c := dialWS(t, p.url)
		c.join("events:lobby", `{}`)
		clients = append(clients, c)
	}
	if status, _ := get(t, p.url+"/readyz"); status != 200 {
		t.Fatalf("readyz: %d", status)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for i, c := range clients {
		if code := c.AwaitClose(); code != 1012 {
			t.Fatalf("client %d closed with %d, want 1012", i, code)
		}
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d, want 0; logs:\n%s", code, p.logs.b.String())
	}
	if !strings.Contains(p.logs.b.String(), `"close_reason":"shutdown"`) {
		t.Errorf("no access line with close_reason shutdown:\n%s", p.logs.b.String())
	}
}

func TestProcessInvalidConfigurationExitsTwoNamingTheSetting(t *testing.T) {
	bin := fawkesBinary(t)
	path := writeFile(t, "max-channels = \"many\"\n")
	for _, tc := range []struct {
		args []string
		env  []string
		want string
	}{
		{[]string{"--config", path}, nil, "max-channels"},
		{[]string{"--shutdown-grace", "-1s"}, nil, "--shutdown-grace"},
		{nil, []string{"FAWKES_IDLE_TIMEOUT=forever"}, "FAWKES_IDLE_TIMEOUT"},
	} {
		cmd := exec.Command(bin, tc.args...)
		cmd.Env = append(os.Environ(), tc.env...)
		out, err := cmd.CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v %v: %v, output %q; want exit 2 naming %s", tc.args, tc.env, err, out, tc.want)
		}
	}
	out, err := exec.Command(bin, "--help").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--shutdown-grace duration") {
		t.Errorf("--help: %v\n%s", err, out)
	}
}

func TestProcessIngressFromSDKClientAndMetrics(t *testing.T) {
	p := startFawkes(t, []string{ingressTokenEnv + "=tok"}, "--heartbeat-interval", "0")
	member := dialWS(t, p.url)
	member.join("events:orders", `{"event_types":["com.example.order.*"]}`)
	before := scrape(t, p.url)

	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(p.url+"/events/orders"), cloudevents.WithHeader("Authorization", "Bearer tok"))
	if err != nil {
		t.Fatal(err)
	}
	ev := cloudevents.NewEvent()
	ev.SetID("sdk-1")
	ev.SetSource("/shop")
	ev.SetType("com.example.order.created")
	ev.SetTime(time.Date(2026, 11, 25, 20, 32, 7, 0, time.UTC))
	_ = ev.SetData(cloudevents.ApplicationJSON, map[string]string{"sku": "42"})
	if res := c.Send(context.Background(), ev); !cloudevents.IsACK(res) {
		t.Fatalf("sdk-go send: %v", res)
	}
	want := `[null,null,"events:orders","cloudevent",{"specversion":"1.0","id":"sdk-1","source":"/shop","type":"com.example.order.created","datacontenttype":"application/json","time":"2026-11-25T20:32:07Z","data":{"sku":"42"}}]`
	if got := member.mustRead(); got != want {
		t.Fatalf("member got %s\nwant %s", got, want)
	}
	noToken, _ := cloudevents.NewClientHTTP(cloudevents.WithTarget(p.url + "/events/orders"))
	if res := noToken.Send(context.Background(), ev); cloudevents.IsACK(res) {
		t.Fatal("accepted without the token")
	}

	after := scrape(t, p.url)
	for name, want := range map[string]float64{
		`fawkes_ingress_requests_total{code="202"}`: 1,
		`fawkes_ingress_requests_total{code="401"}`: 1,
		`fawkes_broadcasts_total`:                   1,
		`fawkes_broadcast_deliveries_total`:         1,
	} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
	if after[`fawkes_connections{transport="websocket"}`] != 1 || after[`fawkes_channels{prefix="events:"}`] != 1 || after[`fawkes_joins_total{status="ok"}`] != 1 {
		t.Errorf("connection, channel and join series: %v %v %v", after[`fawkes_connections{transport="websocket"}`], after[`fawkes_channels{prefix="events:"}`], after[`fawkes_joins_total{status="ok"}`])
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
}
