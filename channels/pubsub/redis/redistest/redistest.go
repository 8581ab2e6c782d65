// Package redistest starts a real redis-server for tests, as httptest starts
// an HTTP server.
package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Server is a redis-server started for one test.
type Server struct {
	// Addr is its loopback host:port.
	Addr string
	cmd  *exec.Cmd
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Stop kills the server (to test what happens when Redis goes away). The
// test's cleanup also stops it.
func (s *Server) Stop() {
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Kill()
		_ = s.cmd.Wait()
	}
}

// Start starts redis-server on a free loopback port, without persistence,
// and stops it when the test ends. Without the redis-server binary, the
// test fails when CI=true (CI must install the Debian package redis-server)
// and otherwise skips, saying so on stderr.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not installed; CI must install the Debian package redis-server (.ci/run does)")
		}
		fmt.Fprintln(os.Stderr, "SKIPPED: redis-server not installed (apt-get install redis-server); the cluster tests did not run")
		t.Skip("SKIPPED: redis-server not installed")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &Server{Addr: fmt.Sprintf("127.0.0.1:%d", port), cmd: cmd}
	t.Cleanup(s.Stop)
	client := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer within 10 s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s
}
