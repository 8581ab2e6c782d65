package server_test

// Connection lifetime: idle timeout, control frames, slow consumers, size
// limits, malformed input and graceful shutdown.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/server"
)

func TestIdleTimeout(t *testing.T) {
	srv := startServer(t, server.Config{IdleTimeout: 200 * time.Millisecond})
	c := dial(t, srv, v2)
	// The join is the last inbound frame: the idle time runs from after it.
	start := time.Now()
	c.join("1", "conformance:a", "{}")
	// 1002 as Phoenix on Bandit; never 1000, after which phoenix.js would
	// not reconnect.
	c.expectClose(ws.StatusProtocolError)
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("closed after %v, before the 200ms idle timeout", waited)
	}
	checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
		if got := srv.Stats().Closed()["idle_timeout"]; got != 1 {
			return fmt.Errorf("Stats().Closed()[idle_timeout] = %d, want 1", got)
		}
		return nil
	})
}

// TestIdleTimeoutActivity: data and ping frames both keep a connection
// alive; each ping is answered with a pong carrying its payload.
func TestIdleTimeoutActivity(t *testing.T) {
	// A 20x margin between the client's pace and the timeout: a loaded
	// machine (race detector, two shared cores) may delay a sleeping client
	// or the server's reader, never by that much.
	const (
		idle   = 600 * time.Millisecond
		pace   = idle / 20
		frames = 30 // 1.5 idle periods
	)
	srv := startServer(t, server.Config{IdleTimeout: idle})
	for _, kind := range []string{"ping", "heartbeat"} {
		t.Run(kind, func(t *testing.T) {
			c := dial(t, srv, v2)
			start := time.Now()
			for i := range frames {
				f := maskedFrame(t, ws.OpPing, true, []byte(fmt.Sprint("p", i)))
				if kind == "heartbeat" {
					f = maskedFrame(t, ws.OpText, true, []byte(`[null,"x","phoenix","heartbeat",{}]`))
				}
				if err := c.WriteRaw(f); err != nil {
					t.Fatalf("write %d after %v: %v; server closes so far: %v", i, time.Since(start), err, srv.Stats().Closed())
				}
				time.Sleep(pace)
			}
			if kind == "ping" {
				checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
					pongs := c.Pongs()
					if len(pongs) != frames {
						return fmt.Errorf("%d pongs, want %d", len(pongs), frames)
					}
					for i, p := range pongs {
						if want := fmt.Sprint("p", i); string(p) != want {
							return fmt.Errorf("pong %d carries %q, want %q", i, p, want)
						}
					}
					return nil
				})
			} else {
				for range frames {
					c.expectReply(nil, "x", "phoenix", "ok", "{}")
				}
			}
			c.sync()
			c.expectClose(ws.StatusProtocolError)
		})
	}
}

// TestSlowConsumer: a client that stops reading while broadcasts pile up is
// cut off once its outbox is over OutboxBytes, without holding up the
// broadcaster or the other client on the topic, which gets everything.
func TestSlowConsumer(t *testing.T) {
	srv := startServer(t, server.Config{OutboxBytes: 64 << 10})
	slow := dial(t, srv, v2)
	fast := dial(t, srv, v2)
	slow.join("1", "conformance:firehose", "{}")
	fast.join("1", "conformance:firehose", "{}")
	slow.PauseReading()

	// Kernel socket buffers on loopback hold megabytes, so keep
	// broadcasting until the server gives up on the slow client. Rounds of
	// half an outbox, each read by the fast client before the next, keep the
	// fast client's own outbox under its bound: it is never the slow one.
	payload := []byte(`{"pad":"` + strings.Repeat("x", 4000) + `"}`)
	want := fast.d.decoded(nil, nil, "conformance:firehose", "msg", string(payload))
	const perRound = 8
	for round := 0; srv.Stats().Closed()["slow_consumer"] == 0; round++ {
		if round == 10_000 {
			t.Fatalf("slow client not closed after %d broadcasts of %d bytes", round*perRound, len(payload))
		}
		for range perRound {
			start := time.Now()
			if err := srv.Broadcast("conformance:firehose", "msg", payload); err != nil {
				t.Fatal(err)
			}
			if took := time.Since(start); took > time.Second {
				t.Fatalf("a broadcast blocked for %v", took)
			}
		}
		for range perRound {
			fast.expectJSON(want)
		}
	}
	fast.sync()
	if n := srv.Stats().Closed()["slow_consumer"]; n != 1 {
		t.Errorf("Stats().Closed()[slow_consumer] = %d, want 1", n)
	}

	// The slow client gets what was in flight, then the connection ends.
	slow.ResumeReading()
	slow.expectEnd()
	checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
		if n := srv.Connections(); n != 1 {
			return fmt.Errorf("Connections() = %d, want 1", n)
		}
		return nil
	})
}

func TestMessageTooBig(t *testing.T) {
	const limit = 1024
	join := `["1","1","conformance:a","phx_join",{"pad":"` + strings.Repeat("y", 900) + `"}]`
	for _, tc := range []struct {
		name string
		send func(c *client)
	}{
		{"one frame", func(c *client) {
			c.trySendFrame(ws.OpText, true, []byte(`["1","1","conformance:a","echo",{"pad":"`+strings.Repeat("x", limit)+`"}]`))
		}},
		{"fragments each under the limit", func(c *client) {
			msg := []byte(`["1","1","conformance:a","echo",{"pad":"` + strings.Repeat("x", 3*limit/2) + `"}]`)
			third := len(msg) / 3
			c.trySendFrame(ws.OpText, false, msg[:third])
			c.trySendFrame(ws.OpContinuation, false, msg[third:2*third])
			c.trySendFrame(ws.OpContinuation, true, msg[2*third:])
		}},
		{"binary", func(c *client) {
			c.trySendFrame(ws.OpBinary, true, bytes.Repeat([]byte{0}, limit+1))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, server.Config{MaxMessageBytes: limit})
			c := dial(t, srv, v2)
			// A message under the limit is fine, fragmented or not.
			third := len(join) / 3
			c.sendFrame(ws.OpText, false, []byte(join[:third]))
			c.sendFrame(ws.OpContinuation, false, []byte(join[third:2*third]))
			c.sendFrame(ws.OpContinuation, true, []byte(join[2*third:]))
			c.expectReply("1", "1", "conformance:a", "ok", "{}")

			tc.send(c)
			c.expectClose(ws.StatusMessageTooBig)
			if n := srv.Stats().TooBig(); n != 1 {
				t.Errorf("Stats().TooBig() = %d, want 1", n)
			}
		})
	}
}

func TestMalformedInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		d      dialect
		binary bool
		data   string
	}{
		{"not JSON", v2, false, `not json`},
		{"truncated JSON", v2, false, `["1","1","conformance:a","echo",{}`},
		{"object on V2", v2, false, `{"topic":"t","event":"e","payload":{},"ref":"1"}`},
		{"four elements", v2, false, `["1","1","conformance:a","echo"]`},
		{"number topic", v2, false, `["1","1",7,"echo",{}]`},
		{"invalid UTF-8", v2, false, "[null,\"1\",\"t\xff\",\"e\",{}]"},
		{"binary kind 1 (reply)", v2, true, "\x01\x01\x01\x01\x02" + "11tok"},
		{"binary kind 2 (broadcast)", v2, true, "\x02\x01\x01te"},
		{"binary truncated header", v2, true, "\x00\x01"},
		{"array on V1", v1, false, `["1","1","conformance:a","echo",{}]`},
		{"missing payload on V1", v1, false, `{"topic":"t","event":"e","ref":"1"}`},
		{"binary on V1", v1, true, "\x00\x01\x01\x01\x01" + "11te"},
		{"binary without vsn", v1NoVsn, true, "\x00\x01\x01\x01\x01" + "11te"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, server.Config{})
			c := dial(t, srv, tc.d)
			c.join("1", "conformance:a", "{}")
			if tc.binary {
				c.SendBinary([]byte(tc.data))
			} else {
				c.sendText(tc.data)
			}
			c.expectClose(ws.StatusInternalServerError)
			if n := srv.Stats().Malformed(); n != 1 {
				t.Errorf("Stats().Malformed() = %d, want 1", n)
			}
		})
	}
}

func TestProtocolErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		send func(c *client)
	}{
		{"unmasked frame", func(c *client) {
			if err := c.WriteRaw(ws.MustCompileFrame(ws.NewTextFrame([]byte(`[null,"1","phoenix","heartbeat",{}]`)))); err != nil {
				t.Fatal(err)
			}
		}},
		{"continuation without a message", func(c *client) {
			c.sendFrame(ws.OpContinuation, true, []byte("x"))
		}},
		{"new message inside a fragmented one", func(c *client) {
			c.sendFrame(ws.OpText, false, []byte("[null,"))
			c.sendFrame(ws.OpText, true, []byte("x"))
		}},
		{"fragmented ping", func(c *client) {
			c.sendFrame(ws.OpPing, false, []byte("x"))
		}},
		{"reserved opcode", func(c *client) {
			c.sendFrame(ws.OpCode(0x3), true, []byte("x"))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, server.Config{})
			c := dial(t, srv, v2)
			c.sync()
			tc.send(c)
			c.expectClose(ws.StatusProtocolError)
		})
	}
}

// TestClientClose: a client's close code is echoed and the channels end
// without sending anything.
func TestClientClose(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	c.join("1", "term:a", "{}")
	c.sendFrame(ws.OpClose, true, ws.NewCloseFrameBody(4000, "bye"))
	c.expectClose(4000)
	checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
		if n := srv.Connections(); n != 0 {
			return fmt.Errorf("Connections() = %d, want 0", n)
		}
		return nil
	})
}

func TestShutdown(t *testing.T) {
	srv := startServer(t, server.Config{DrainBatch: 2, DrainInterval: 10 * time.Millisecond})
	var clients []*client
	for i := range 5 {
		c := dial(t, srv, allDialects[i%len(allDialects)])
		c.join("1", "term:a", "{}")
		clients = append(clients, c)
	}
	ctx, cancel := context.WithTimeout(context.Background(), frameTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if n := srv.Connections(); n != 0 {
		t.Errorf("Connections() = %d after Shutdown, want 0", n)
	}
	// 1012 Service Restart: phoenix.js reconnects (elsewhere). Channels end
	// without a phx_close.
	for _, c := range clients {
		c.expectClose(statusServiceRestart)
	}
	// New connections are refused.
	status, _, _ := dialRaw(t, srv, v2)
	if status != http.StatusServiceUnavailable {
		t.Errorf("dial after Shutdown: status %d, want 503", status)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Errorf("second Shutdown: %v", err)
	}
}

func TestShutdownContextExpired(t *testing.T) {
	// One connection per 10 s: the context ends long before the second.
	srv := startServer(t, server.Config{DrainBatch: 1, DrainInterval: frameTimeout})
	clients := []*client{dial(t, srv, v2), dial(t, srv, v2), dial(t, srv, v2)}
	for _, c := range clients {
		c.sync()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want %v", err, context.DeadlineExceeded)
	}
	// The first batch, one connection, was closed; the others are still
	// open and served.
	var open []*client
	checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
		open = open[:0]
		for _, c := range clients {
			if !c.Closed() {
				open = append(open, c)
			}
		}
		if len(open) != 2 {
			return fmt.Errorf("%d connections open, want 2", len(open))
		}
		return nil
	})
	for _, c := range clients {
		if c != open[0] && c != open[1] {
			c.expectClose(statusServiceRestart)
		}
	}
	for _, c := range open {
		c.sync()
	}

	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	if err := srv.Shutdown(cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Shutdown(cancelled) = %v, want %v", err, context.Canceled)
	}
	for _, c := range open {
		c.Close()
	}
	checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
		if n := srv.Connections(); n != 0 {
			return fmt.Errorf("Connections() = %d, want 0", n)
		}
		return nil
	})
}

// statusServiceRestart is close code 1012, which gobwas/ws does not name.
const statusServiceRestart ws.StatusCode = 1012
