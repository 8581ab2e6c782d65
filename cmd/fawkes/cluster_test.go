package main

import (
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
)

// TestClusterTwoNodesShareARoomThroughRedis runs two fawkes processes on one
// real redis-server: a CloudEvent sent by a member on node A reaches a
// member on node B with the same bytes, and a node whose Redis goes away
// turns not ready.
func TestClusterTwoNodesShareARoomThroughRedis(t *testing.T) {
	redis := redistest.Start(t)
	args := []string{"--pubsub", "redis", "--redis-url", redis.URL(), "--heartbeat-interval", "0"}
	a, b := startClusterNode(t, args...), startClusterNode(t, args...)

	sender, receiver := dialWS(t, a.url), dialWS(t, b.url)
	sender.join("events:cluster", "{}")
	receiver.join("events:cluster", "{}")
	event := `{"specversion":"1.0","id":"e-1","source":"/node-a","type":"com.example.cluster","data":{"n":1}}`
	sender.send(`["1","2","events:cluster","cloudevent",` + event + `]`)
	if got := sender.mustRead(); !strings.Contains(got, `"phx_reply"`) || !strings.Contains(got, `"e-1"`) {
		t.Fatalf("sender got %s, want its ok reply with the id", got)
	}
	want := `[null,null,"events:cluster","cloudevent",` + event + `]`
	if got := receiver.mustRead(); got != want {
		t.Fatalf("member on node B got\n%s\nwant\n%s", got, want)
	}

	_, metrics := get(t, b.url+"/metrics")
	for _, series := range []string{"fawkes_redis_up 1", `fawkes_redis_broadcasts_total{result="received"} 1`, `fawkes_redis_broadcasts_total{result="duplicate"} 0`, `fawkes_longpoll_forwards_total{result="forwarded"} 0`} {
		if !strings.Contains(metrics, series+"\n") {
			t.Errorf("node B /metrics lacks %q", series)
		}
	}
	for _, n := range []*proc{a, b} {
		if code, body := get(t, n.url+"/readyz"); code != http.StatusOK {
			t.Fatalf("readyz with redis up: %d %s", code, body)
		}
	}
	redis.Stop()
	deadline := time.Now().Add(15 * time.Second)
	for {
		code, _ := get(t, a.url+"/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d 15 s after redis stopped", code)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startClusterNode starts a clustered node and waits until it answers
// /readyz 200 (it reached Redis), as a load balancer would before sending
// it clients: a node started with --redis-start retry serves at once, and
// what other nodes publish before it reaches Redis does not reach it.
func startClusterNode(t *testing.T, args ...string) *proc {
	t.Helper()
	n := startFawkes(t, clusterEnv, args...)
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a speed bound
	for {
		code, body := get(t, n.url+"/readyz")
		if code == http.StatusOK {
			return n
		}
		if time.Now().After(deadline) {
			t.Fatalf("node not ready 10 s after it started listening: %d %s", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// clusterEnv is the environment of every clustered node in these tests.
var clusterEnv = []string{"FAWKES_SECRET_KEY_BASE=" + strings.Repeat("cluster-test-secret-", 4)}

// With --redis-start require, a node that cannot reach Redis exits 1 and
// says why.
func TestClusterRequireRedisAtStart(t *testing.T) {
	cmd := exec.Command(fawkesBinary(t), "--addr", "127.0.0.1:0", "--pubsub", "redis", "--redis-url", "redis://127.0.0.1:1/0", "--redis-start", "require")
	cmd.Env = append(os.Environ(), clusterEnv...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), "--redis-start require") {
		t.Fatalf("got %v, output %q; want exit 1 naming --redis-start require", err, out)
	}
}

// By default a node starts without Redis: it serves, answers /readyz 503
// at once, and becomes ready and clustered when Redis comes up.
func TestClusterStartsBeforeRedis(t *testing.T) {
	srv := redistest.Reserve(t)
	args := []string{"--pubsub", "redis", "--redis-url", srv.URL(), "--heartbeat-interval", "0"}
	a := startFawkes(t, clusterEnv, args...)
	start := time.Now()
	if code, body := get(t, a.url+"/readyz"); code != http.StatusServiceUnavailable || time.Since(start) > 2500*time.Millisecond {
		t.Fatalf("readyz without redis: %d %q after %v; want 503 within its 2 s", code, body, time.Since(start))
	}
	if code, _ := get(t, a.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz without redis: %d", code)
	}
	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if code, _ := get(t, a.url+"/readyz"); code == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not ready 10 s after redis came up")
		}
		time.Sleep(100 * time.Millisecond)
	}
	b := startClusterNode(t, args...)
	sender, receiver := dialWS(t, a.url), dialWS(t, b.url)
	sender.join("events:late", "{}")
	receiver.join("events:late", "{}")
	event := `{"specversion":"1.0","id":"e-2","source":"/a","type":"com.example.late"}`
	sender.send(`["1","2","events:late","cloudevent",` + event + `]`)
	if got := receiver.mustRead(); got != `[null,null,"events:late","cloudevent",`+event+`]` {
		t.Fatalf("member on node B got %s", got)
	}
}

// A clustered node needs the shared secret that signs LongPoll tokens.
func TestClusterNeedsSecretKeyBase(t *testing.T) {
	cmd := exec.Command(fawkesBinary(t), "--addr", "127.0.0.1:0", "--pubsub", "redis")
	cmd.Env = append(os.Environ(), "FAWKES_SECRET_KEY_BASE=")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), "FAWKES_SECRET_KEY_BASE") {
		t.Fatalf("got %v, output %q; want exit 2 naming FAWKES_SECRET_KEY_BASE", err, out)
	}
}
