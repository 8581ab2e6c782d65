package main

import (
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMDoesNotWaitForConnectionsWithoutRequests: a client that opened
// a connection and sent nothing (fetch keeps a spare one) does not hold the
// exit for http.Server's 5 s.
func TestSIGTERMDoesNotWaitForConnectionsWithoutRequests(t *testing.T) {
	p := startFawkes(t, nil, "--heartbeat-interval", "0")
	idle, err := net.Dial("tcp", p.url[len("http://"):])
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	if code, _ := get(t, p.url+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz %d", code)
	}
	start := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(10 * time.Second); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Fatalf("exit took %v with an idle new connection open; http.Server alone waits 5 s", took)
	}
}
