package server_test

// The UpgradeListener: the same bytes as net/http's upgrade, everything
// else passed on to the http.Server, and its own lifetime (Close, the head
// timeout). The refusals and the connect hook run on both paths in
// upgrade_test.go.

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// rawExchange writes req to srv and returns what the server answers up to
// the end of the response head (or the connection's end), with the Date
// header's value blanked.
func rawExchange(t *testing.T, srv *servertest.Server, req string) string {
	t.Helper()
	conn, err := net.Dial("tcp", srv.HTTP.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, req); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(frameTimeout))
	br := bufio.NewReader(conn)
	var head strings.Builder
	for {
		line, err := br.ReadString('\n')
		if strings.HasPrefix(line, "Date: ") {
			line = "Date: -\r\n"
		}
		head.WriteString(line)
		if line == "\r\n" || err != nil {
			return head.String()
		}
	}
}

func upgradeRequest(addr, extra string) string {
	return "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: " + addr +
		"\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		extra + "\r\n"
}

// TestUpgradeListenerSameBytes: the 101 and the refusals that reach the
// checks are byte for byte those of net/http's path (but for the Date).
func TestUpgradeListenerSameBytes(t *testing.T) {
	check, err := server.AllowOrigins([]string{"https://app.example"})
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.Config{CheckOrigin: check}
	fast, slow := startServer(t, cfg), startServerHTTP(t, cfg)
	for _, tc := range []struct {
		name, extra string
		status      string
	}{
		{"plain", "", "101"},
		{"phoenix subprotocol", "Sec-WebSocket-Protocol: phoenix\r\n", "101"},
		{"other subprotocol", "Sec-WebSocket-Protocol: chat, superchat\r\n", "101"},
		{"lower-case names, more tokens", "origin: https://app.example\r\nsec-websocket-protocol: x, phoenix\r\n", "101"},
		{"origin refused", "Origin: https://evil.example\r\n", "403"},
		{"bad auth token", "Sec-WebSocket-Protocol: phoenix, base64url.bearer.phx.*\r\n", "400"},
		{"second key", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rawExchange(t, fast, upgradeRequest(fast.HTTP.Listener.Addr().String(), tc.extra))
			want := rawExchange(t, slow, upgradeRequest(slow.HTTP.Listener.Addr().String(), tc.extra))
			if tc.status != "" && !strings.HasPrefix(want, "HTTP/1.1 "+tc.status) {
				t.Fatalf("net/http answered %q, want %s", want, tc.status)
			}
			// A refusal closes the connection on the fast path; net/http
			// keeps it open. Nothing else may differ.
			got = strings.Replace(got, "Connection: close\r\n", "", 1)
			if got != want {
				t.Errorf("listener answered\n%q\nnet/http answered\n%q", got, want)
			}
		})
	}
}

// TestUpgradeListenerBareLF: a head whose lines end in a bare LF is not the
// fast path's; net/http answers it on both paths alike, at once.
func TestUpgradeListenerBareLF(t *testing.T) {
	fast, slow := startServer(t, server.Config{}), startServerHTTP(t, server.Config{})
	bare := func(srv *servertest.Server) string {
		return strings.ReplaceAll(upgradeRequest(srv.HTTP.Listener.Addr().String(), ""), "\r\n", "\n")
	}
	got, want := rawExchange(t, fast, bare(fast)), rawExchange(t, slow, bare(slow))
	if got != want || want == "" {
		t.Errorf("listener answered\n%q\nnet/http answered\n%q", got, want)
	}
}

// TestUpgradeListenerPassesOn: what the fast path does not take reaches the
// http.Server as if there were no UpgradeListener, and works.
func TestUpgradeListenerPassesOn(t *testing.T) {
	srv := startServer(t, server.Config{})
	t.Run("head over 4 KiB", func(t *testing.T) {
		c := dial(t, srv, v2, servertest.Header("Cookie", "c="+strings.Repeat("x", 6000)))
		c.sync()
	})
	t.Run("other path, keep-alive", func(t *testing.T) {
		client := srv.HTTP.Client()
		for range 2 {
			resp, err := client.Get(srv.HTTP.URL + "/elsewhere")
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound {
				t.Errorf("GET /elsewhere: %d, want 404", resp.StatusCode)
			}
		}
	})
	t.Run("longpoll", func(t *testing.T) {
		c := dial(t, srv, v2, servertest.LongPoll())
		c.sync()
	})
	t.Run("upgrade net/http refuses", func(t *testing.T) {
		addr := srv.HTTP.Listener.Addr().String()
		got := rawExchange(t, srv, strings.Replace(upgradeRequest(addr, ""), "Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", 1))
		if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
			t.Errorf("version 8: %q, want 400", got)
		}
	})
}

// TestFrameBehindUpgradeOnBothPaths: a frame written right behind the
// upgrade request, before the 101 is read, is answered on both paths.
func TestFrameBehindUpgradeOnBothPaths(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, start startFunc) {
		srv := start(t, server.Config{})
		conn, err := net.Dial("tcp", srv.HTTP.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		msg := []byte(upgradeRequest(srv.HTTP.Listener.Addr().String(), ""))
		for i := range 3 {
			msg = append(msg, maskedFrame(t, ws.OpText, true, []byte(`[null,"`+string(rune('1'+i))+`","phoenix","heartbeat",{}]`))...)
		}
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(frameTimeout))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("status %d, want 101", resp.StatusCode)
		}
		for i := range 3 {
			f, err := readTestFrame(br)
			if err != nil {
				t.Fatal(err)
			}
			want := `[null,"` + string(rune('1'+i)) + `","phoenix","phx_reply",{"status":"ok","response":{}}]`
			if !jsonEqual(f.Payload, want) {
				t.Errorf("got %s, want %s", f.Payload, want)
			}
		}
	})
}

// listenUpgrades starts an UpgradeListener with an http.Server behind it,
// both stopped by the test's cleanup.
func listenUpgrades(t *testing.T, headTimeout time.Duration) (*server.UpgradeListener, *http.Server) {
	t.Helper()
	e := server.New(server.Config{Router: testRouter()})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ul := e.UpgradeListener(ln, "/socket/websocket", headTimeout)
	mux := http.NewServeMux()
	mux.Handle("/socket/", e)
	hs := &http.Server{Handler: mux}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ul) }()
	t.Cleanup(func() {
		_ = hs.Close()
		// ErrServerClosed, or net.ErrClosed when the test closed ul itself.
		if err := <-served; !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve: %v", err)
		}
	})
	return ul, hs
}

// awaitEnd reads conn until it ends and fails the test if it does not end
// within frameTimeout.
func awaitEnd(t *testing.T, conn net.Conn) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(frameTimeout))
	_, err := io.Copy(io.Discard, conn)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection was not closed")
	}
}

// dialWriting opens a connection to addr and writes what (the start of a
// request that never ends); the test's cleanup closes it.
func dialWriting(t *testing.T, addr, what string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, what); err != nil {
		t.Fatal(err)
	}
	return conn
}

// dialUpgraded opens a connection to addr and upgrades it by hand; it
// returns the connection and the reader of what follows the 101.
func dialUpgraded(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := io.WriteString(conn, upgradeRequest(addr, "")); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(frameTimeout))
	br := bufio.NewReader(conn)
	if resp, err := http.ReadResponse(br, nil); err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", resp, err)
	}
	return conn, br
}

// TestUpgradeListenerClose: Close ends Accept and closes the connections
// whose request has not arrived; an upgraded connection stays. The head
// timeout is a minute, so only Close can end the silent connection within
// the test's wait.
func TestUpgradeListenerClose(t *testing.T) {
	ul, _ := listenUpgrades(t, time.Minute)
	addr := ul.Addr().String()
	silent := dialWriting(t, addr, "GET /socket/websock")
	// One accept loop takes connections in arrival order: once a later
	// connection is upgraded, the silent one is accepted and being read.
	upgraded, br := dialUpgraded(t, addr)
	if err := ul.Close(); err != nil {
		t.Fatal(err)
	}
	awaitEnd(t, silent)
	if _, err := ul.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if _, err := upgraded.Write(maskedFrame(t, ws.OpText, true, []byte(`[null,"1","phoenix","heartbeat",{}]`))); err != nil {
		t.Fatal(err)
	}
	f, err := readTestFrame(br)
	if err != nil {
		t.Fatalf("the upgraded connection after Close: %v", err)
	}
	if want := `[null,"1","phoenix","phx_reply",{"status":"ok","response":{}}]`; !jsonEqual(f.Payload, want) {
		t.Errorf("got %s, want %s", f.Payload, want)
	}
}

// TestUpgradeListenerHeadTimeout: a connection that does not finish its
// request head in time is closed, and the listener goes on.
func TestUpgradeListenerHeadTimeout(t *testing.T) {
	ul, _ := listenUpgrades(t, 100*time.Millisecond)
	addr := ul.Addr().String()
	awaitEnd(t, dialWriting(t, addr, "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: x\r\n"))
	dialUpgraded(t, addr) // the listener goes on
}

// TestUpgradeListenerDrain: while the endpoint drains, the fast path
// answers 503 as net/http's does.
func TestUpgradeListenerDrain(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, start startFunc) {
		srv := start(t, server.Config{})
		if err := srv.Shutdown(t.Context()); err != nil {
			t.Fatal(err)
		}
		got := rawExchange(t, srv, upgradeRequest(srv.HTTP.Listener.Addr().String(), ""))
		if !strings.HasPrefix(got, "HTTP/1.1 503 ") || !bytes.Contains([]byte(got), []byte("Content-Length: 0\r\n")) {
			t.Errorf("while draining: %q, want 503 with no body", got)
		}
	})
}
