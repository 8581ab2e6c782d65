package server_test

// Endpoint benchmarks over loopback: a real endpoint and a minimal
// synchronous gobwas/ws client, so the figures include the client's work
// (dial, masking, parsing) as a phoenix.js client on the same machine would.
// Not servertest: its reader goroutine and queue would be measured too, and
// the figures in docs/BENCHMARKS.md were taken with this client.

import (
	"bufio"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// benchConn is a connected client: reads go through the handshake's
// buffered reader when the server wrote early.
type benchConn struct {
	net.Conn
	r io.Reader
}

func (c benchConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func benchDial(b *testing.B, url string) benchConn {
	conn, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	c := benchConn{Conn: conn, r: conn}
	if br != nil {
		c.r = br
	}
	return c
}

// wsURL is the WebSocket URL of a test server's socket.
func wsURL(srv *servertest.Server) string {
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/websocket"
}

// roundTrip writes one text message and reads the next text message.
func roundTrip(b *testing.B, c benchConn, msg []byte) []byte {
	if err := wsutil.WriteClientText(c, msg); err != nil {
		b.Fatal(err)
	}
	data, err := wsutil.ReadServerText(c)
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkConnectJoin measures a full connection: TCP connect, WebSocket
// upgrade, phx_join, the join reply, and closing.
func BenchmarkConnectJoin(b *testing.B) {
	srv := startServer(b, server.Config{})
	url := wsURL(srv) + "?vsn=2.0.0"
	join := []byte(`["1","1","conformance:bench","phx_join",{}]`)
	b.ReportAllocs()
	for b.Loop() {
		c := benchDial(b, url)
		roundTrip(b, c, join)
		_ = c.Close()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "joins/s")
}

// BenchmarkRoundTrip measures the latency of a push and its reply on a
// joined channel: client write, server decode, dispatch, channel, encode,
// outbox write, client read.
func BenchmarkRoundTrip(b *testing.B) {
	srv := startServer(b, server.Config{})
	c := benchDial(b, wsURL(srv)+"?vsn=2.0.0")
	defer c.Close()
	reader := bufio.NewReader(c.r)
	c.r = reader
	roundTrip(b, c, []byte(`["1","1","conformance:bench","phx_join",{}]`))
	echo := []byte(`["1","2","conformance:bench","echo",{"body":"hello"}]`)
	lat := make([]time.Duration, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		roundTrip(b, c, echo)
		lat[i] = time.Since(start)
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-us")
}
