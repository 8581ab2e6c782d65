package main

import (
	"errors"
	"net/http"
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
	a, b := startFawkes(t, nil, args...), startFawkes(t, nil, args...)

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

func TestClusterRefusesToStartWithoutRedis(t *testing.T) {
	cmd := exec.Command(fawkesBinary(t), "--addr", "127.0.0.1:0", "--pubsub", "redis", "--redis-url", "redis://127.0.0.1:1/0")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || !strings.Contains(string(out), "--pubsub redis") {
		t.Fatalf("got %v, output %q; want a failed start naming --pubsub redis", err, out)
	}
}
