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
	t    testing.TB
	bin  string
	port int
	dir  string
	cmd  *exec.Cmd
}

// URL returns the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Stop kills the server (to test what happens when Redis goes away). The
// test's cleanup also stops it.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.ProcessState == nil {
		s.Thaw()
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
	s := &Server{t: t, bin: bin, port: FreePort(t), dir: t.TempDir()}
	s.Addr = fmt.Sprintf("127.0.0.1:%d", s.port)
	t.Cleanup(s.Stop)
	s.Restart()
	return s
}

// Reserve returns a Server that is not running yet, on a free port: a test
// of what happens before Redis is up calls Restart to start it.
func Reserve(t testing.TB) *Server {
	t.Helper()
	s := Start(t)
	s.Stop()
	return s
}

// Restart starts the server again on the same port (after Stop), with no
// data, and waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.cmd = exec.Command(s.bin, "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", s.dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	client := goredis.NewClient(&goredis.Options{Addr: s.Addr})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for client.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on %s did not answer within 10 s", s.Addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
