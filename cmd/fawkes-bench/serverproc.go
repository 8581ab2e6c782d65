package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fawkes-rt/fawkes/cmd/fawkes-bench/internal/client"
)

// startedServer is a server a series started for one run (--target-cmd,
// --reference-cmd).
type startedServer struct {
	cmd     *exec.Cmd
	out     *tailWriter
	exited  chan struct{}
	waitErr error
}

// readyTimeout bounds the wait for a started server to accept
// connections.
const readyTimeout = 20 * time.Second

// startServer starts cmdline (split at spaces) and waits until target's
// host:port accepts TCP connections. The server's output is kept (the
// last 4 KiB) for the error if it exits early.
func startServer(ctx context.Context, cmdline, target string, stderr io.Writer) (*startedServer, error) {
	args := strings.Fields(cmdline)
	if len(args) == 0 {
		return nil, errors.New("empty server command")
	}
	addr, err := hostPort(target)
	if err != nil {
		return nil, err
	}
	s := &startedServer{cmd: exec.Command(args[0], args[1:]...), out: &tailWriter{max: 4 << 10}, exited: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	dieWithParent(s.cmd)
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %q: %w", cmdline, err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	logf("started %s (pid %d); waiting for %s", args[0], s.cmd.Process.Pid, addr)
	deadline := time.Now().Add(readyTimeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			break
		}
		select {
		case <-s.exited:
			return nil, fmt.Errorf("%q exited before accepting connections on %s (%v); its output ends:\n%s", cmdline, addr, s.waitErr, s.out)
		case <-ctx.Done():
			_ = s.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.stop()
			return nil, fmt.Errorf("%q: nothing accepted connections on %s within %s", cmdline, addr, readyTimeout)
		}
	}
	// A server already listening there (left over) would pass the
	// check above; then ours fails to listen and exits.
	select {
	case <-s.exited:
		return nil, fmt.Errorf("%q exited (%v): is another server on %s? its output ends:\n%s", cmdline, s.waitErr, addr, s.out)
	case <-time.After(100 * time.Millisecond):
	}
	return s, nil
}

func (s *startedServer) pid() int { return s.cmd.Process.Pid }

// stop sends SIGTERM (on Windows: kills), and kills the server if it has
// not exited 10 s later. It reports an exit before it was asked to stop.
func (s *startedServer) stop() error {
	select {
	case <-s.exited:
		return fmt.Errorf("it had exited (%v); its output ends:\n%s", s.waitErr, s.out)
	default:
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = s.cmd.Process.Kill()
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
		return errors.New("killed: it did not exit within 10 s of SIGTERM")
	}
}

// hostPort returns the host:port of a --target.
func hostPort(target string) (string, error) {
	raw, err := client.TargetURL(target)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", err
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "80"), nil
	}
	return u.Host, nil
}

// tailWriter keeps the last max bytes written.
type tailWriter struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.b)
}
