package server_test

// The send/expect harness: a real endpoint on a loopback port
// (httptest.NewServer) and a real WebSocket client (gobwas/ws), masking as a
// client must. Nothing of the code under test is mocked.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
	"github.com/fawkes-rt/fawkes/server"
)

// frameTimeout bounds every wait for an expected frame. It is generous on
// purpose: a passing test never waits for it, and the race detector on two
// shared cores is slow.
const frameTimeout = 10 * time.Second

// testServer is an Endpoint mounted at /socket/ on a loopback port.
type testServer struct {
	*server.Endpoint
	http *httptest.Server
	url  string // ws://127.0.0.1:port/socket/websocket
}

// startServer starts an endpoint for cfg (testRouter when cfg.Router is
// nil). The test's cleanup shuts it down, after the clients dialed later
// have been closed.
func startServer(t testing.TB, cfg server.Config) *testServer {
	t.Helper()
	if cfg.Router == nil {
		cfg.Router = testRouter()
	}
	e := server.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/socket/", e)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), frameTimeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return &testServer{Endpoint: e, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/socket/websocket"}
}

// testRouter routes "conformance:*" to the conformance channel and the
// topics of testChannel.
func testRouter() *channels.Router {
	r := channels.NewRouter()
	r.Handle("conformance:*", conformance.New)
	r.Handle("term:*", newTestChannel)
	r.Handle("filter:*", newTestChannel)
	return r
}

// testChannel is the conformance channel plus what it does not do: it
// pushes "terminating" {"reason":...} from Terminate, pushes binary on a
// text event ("push_binary"), and on "filter:*" topics filters broadcasts:
// it drops "secret" and rewrites "rewrite_me" into a push of "rewritten".
type testChannel struct {
	conformance.Channel
}

func newTestChannel(string) channels.Channel { return &testChannel{} }

func (c *testChannel) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	if in.Event == "push_binary" && !in.Binary {
		err := s.PushBinary("bin", []byte{1, 2, 3})
		return channels.Replied(channels.OK([]byte(`{"pushed":` + strconv.FormatBool(err == nil) + `}`)))
	}
	return c.Channel.HandleIn(s, in)
}

func (c *testChannel) Terminate(s *channels.Socket, r channels.Reason) {
	_ = s.Push("terminating", []byte(`{"reason":"`+r.String()+`"}`))
}

func (c *testChannel) FilterBroadcast(s *channels.Socket, b *pubsub.Broadcast) bool {
	if !strings.HasPrefix(s.Topic(), "filter:") {
		return true
	}
	switch b.Event {
	case "secret":
		return false
	case "rewrite_me":
		_ = s.Push("rewritten", b.Payload)
		return false
	}
	return true
}

// dialect is how a client speaks: V2 arrays, or V1 objects with vsn=1.0.0
// or no vsn at all (which the server must read as 1.0.0).
type dialect struct {
	name string
	vsn  string // "" sends no vsn
	v1   bool
}

var (
	v2      = dialect{"V2", "2.0.0", false}
	v1      = dialect{"V1", "1.0.0", true}
	v1NoVsn = dialect{"V1_no_vsn", "", true}

	allDialects = []dialect{v2, v1, v1NoVsn}
)

// forEachDialect runs f as a subtest per dialect.
func forEachDialect(t *testing.T, f func(t *testing.T, d dialect)) {
	for _, d := range allDialects {
		t.Run(d.name, func(t *testing.T) { f(t, d) })
	}
}

// encode returns a client message in d's shape. joinRef and ref are nil
// (null), strings or numbers; payload is raw JSON.
func (d dialect) encode(joinRef, ref any, topic, event, payload string) []byte {
	var v any
	if d.v1 {
		m := map[string]any{"topic": topic, "event": event, "payload": json.RawMessage(payload), "ref": ref}
		if joinRef != nil {
			m["join_ref"] = joinRef
		}
		v = m
	} else {
		v = []any{joinRef, ref, topic, event, json.RawMessage(payload)}
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// decoded returns what a server message looks like to a client of d, as
// generic JSON: V1 output never carries join_ref.
func (d dialect) decoded(joinRef, ref any, topic, event, payload string) any {
	var b []byte
	if d.v1 {
		b, _ = json.Marshal(map[string]any{"topic": topic, "event": event, "payload": json.RawMessage(payload), "ref": ref})
	} else {
		b, _ = json.Marshal([]any{joinRef, ref, topic, event, json.RawMessage(payload)})
	}
	return mustJSON(b)
}

func mustJSON(b []byte) any {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		panic(fmt.Sprintf("invalid JSON %q: %v", b, err))
	}
	return v
}

// replyPayload is the payload of a phx_reply.
func replyPayload(status, response string) string {
	return `{"status":"` + status + `","response":` + response + `}`
}

// dialOption changes how a client dials.
type dialOption func(*dialConfig)

type dialConfig struct {
	query     url.Values
	header    http.Header
	protocols []string
	netDial   func(ctx context.Context, network, addr string) (net.Conn, error)
}

func withQuery(k, v string) dialOption {
	return func(c *dialConfig) { c.query.Add(k, v) }
}

func withHeader(k, v string) dialOption {
	return func(c *dialConfig) { c.header.Add(k, v) }
}

func withProtocols(p ...string) dialOption {
	return func(c *dialConfig) { c.protocols = p }
}

// dialURL returns the URL a client of d dials; vsn goes last, as phoenix.js
// puts it.
func dialURL(base string, d dialect, cfg *dialConfig) string {
	q := cfg.query.Encode()
	if d.vsn != "" {
		if q != "" {
			q += "&"
		}
		q += "vsn=" + url.QueryEscape(d.vsn)
	}
	if q == "" {
		return base
	}
	return base + "?" + q
}

func newDialConfig(opts []dialOption) *dialConfig {
	cfg := &dialConfig{query: url.Values{}, header: http.Header{}}
	for _, o := range opts {
		o(cfg)
	}
	return cfg
}

// dialRaw performs the handshake and returns the HTTP status and body of a
// refusal (status 101 and no body on success; the connection is closed).
func dialRaw(t testing.TB, srv *testServer, d dialect, opts ...dialOption) (status int, body string, hs ws.Handshake) {
	t.Helper()
	cfg := newDialConfig(opts)
	dialer := ws.Dialer{
		Timeout:   frameTimeout,
		Protocols: cfg.protocols,
		Header:    ws.HandshakeHeaderHTTP(cfg.header),
		OnStatusError: func(st int, _ []byte, resp io.Reader) {
			status = st
			r, err := http.ReadResponse(bufio.NewReader(resp), nil)
			if err != nil {
				t.Errorf("reading refusal response: %v", err)
				return
			}
			defer r.Body.Close()
			b, _ := io.ReadAll(r.Body)
			body = string(b)
		},
	}
	conn, _, hs, err := dialer.Dial(context.Background(), dialURL(srv.url, d, cfg))
	if err != nil {
		var se ws.StatusError
		if !errors.As(err, &se) {
			t.Fatalf("dial: %v", err)
		}
		return status, body, hs
	}
	_ = conn.Close()
	return http.StatusSwitchingProtocols, "", hs
}

// client is one WebSocket connection under test. A goroutine reads every
// frame into a queue; the expect methods take frames from it in order.
type client struct {
	t    testing.TB
	d    dialect
	conn net.Conn
	r    io.Reader
	hs   ws.Handshake

	wmu sync.Mutex // serializes writes

	mu      sync.Mutex
	queue   []inFrame
	notify  chan struct{} // signalled on every queue change
	pongs   [][]byte
	paused  chan struct{} // non-nil: the reader waits until it is closed
	closing chan struct{}
	done    chan struct{} // the reader goroutine has returned

	hbRef atomic.Int64
}

// inFrame is a frame the server sent, or the end of the connection (err).
type inFrame struct {
	op   ws.OpCode
	data []byte
	err  error
}

func (f inFrame) String() string {
	switch {
	case f.err != nil:
		return "connection ended: " + f.err.Error()
	case f.op == ws.OpText:
		return "text " + shorten(string(f.data))
	case f.op == ws.OpClose:
		code, reason := ws.ParseCloseFrameData(f.data)
		return fmt.Sprintf("close %d %q", code, reason)
	}
	return fmt.Sprintf("opcode %d % x", f.op, f.data)
}

// dial connects a client of dialect d and fails the test if the server
// refuses. The client is closed by the test's cleanup.
func dial(t testing.TB, srv *testServer, d dialect, opts ...dialOption) *client {
	t.Helper()
	cfg := newDialConfig(opts)
	dialer := ws.Dialer{Timeout: frameTimeout, Protocols: cfg.protocols, Header: ws.HandshakeHeaderHTTP(cfg.header), NetDial: cfg.netDial}
	conn, br, hs, err := dialer.Dial(context.Background(), dialURL(srv.url, d, cfg))
	if err != nil {
		t.Fatalf("dial %s: %v", d.name, err)
	}
	c := &client{t: t, d: d, conn: conn, r: conn, hs: hs, notify: make(chan struct{}, 1), closing: make(chan struct{}), done: make(chan struct{})}
	if br != nil {
		c.r = br
	}
	go c.readLoop()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	c.mu.Lock()
	select {
	case <-c.closing:
	default:
		close(c.closing)
	}
	c.mu.Unlock()
	_ = c.conn.Close()
	<-c.done
}

func (c *client) readLoop() {
	defer close(c.done)
	for {
		c.mu.Lock()
		gate := c.paused
		c.mu.Unlock()
		if gate != nil {
			select {
			case <-gate:
			case <-c.closing:
				return
			}
		}
		f, err := readFrame(c.r)
		if err != nil {
			c.enqueue(inFrame{err: err})
			return
		}
		switch {
		case f.Header.Masked:
			c.enqueue(inFrame{err: errors.New("server sent a masked frame")})
			return
		case !f.Header.Fin:
			c.enqueue(inFrame{err: errors.New("server sent a fragmented message")})
			return
		case f.Header.OpCode == ws.OpPong:
			c.mu.Lock()
			c.pongs = append(c.pongs, f.Payload)
			c.mu.Unlock()
			c.signal()
			continue
		case f.Header.OpCode == ws.OpPing:
			// The server never pings; answer as a client must anyway.
			_ = c.writeFrame(ws.MaskFrameInPlace(ws.NewPongFrame(f.Payload)))
			continue
		}
		c.enqueue(inFrame{op: f.Header.OpCode, data: f.Payload})
	}
}

func (c *client) enqueue(f inFrame) {
	c.mu.Lock()
	c.queue = append(c.queue, f)
	c.mu.Unlock()
	c.signal()
}

func (c *client) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// pause stops reading from the socket (after at most one more frame), so
// that the server's writes back up. resume undoes it.
func (c *client) pause() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == nil {
		c.paused = make(chan struct{})
	}
}

func (c *client) resume() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused != nil {
		close(c.paused)
		c.paused = nil
	}
}

// next returns the next frame, failing the test after frameTimeout.
func (c *client) next() inFrame {
	c.t.Helper()
	timer := time.NewTimer(frameTimeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		if len(c.queue) > 0 {
			f := c.queue[0]
			if f.err == nil {
				c.queue = c.queue[1:]
			}
			c.mu.Unlock()
			return f
		}
		c.mu.Unlock()
		select {
		case <-c.notify:
		case <-timer.C:
			c.t.Fatalf("%s: no frame from the server within %v", c.d.name, frameTimeout)
		}
	}
}

func (c *client) writeFrame(f ws.Frame) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return ws.WriteFrame(c.conn, f)
}

// sendFrame writes one masked frame with the given opcode and fin bit.
func (c *client) sendFrame(op ws.OpCode, fin bool, payload []byte) {
	c.t.Helper()
	if err := c.writeFrame(ws.MaskFrameInPlace(ws.NewFrame(op, fin, bytes.Clone(payload)))); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// trySendFrame is sendFrame for writes the server may refuse by closing the
// connection midway (its close frame is still read after a write error).
func (c *client) trySendFrame(op ws.OpCode, fin bool, payload []byte) {
	_ = c.writeFrame(ws.MaskFrameInPlace(ws.NewFrame(op, fin, bytes.Clone(payload))))
}

// sendText sends raw bytes as one masked text message.
func (c *client) sendText(raw string) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := wsutil.WriteClientMessage(c.conn, ws.OpText, []byte(raw)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// sendBinary sends raw bytes as one masked binary message.
func (c *client) sendBinary(raw []byte) {
	c.t.Helper()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := wsutil.WriteClientMessage(c.conn, ws.OpBinary, raw); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send sends a message in the client's dialect.
func (c *client) send(joinRef, ref any, topic, event, payload string) {
	c.t.Helper()
	c.sendText(string(c.d.encode(joinRef, ref, topic, event, payload)))
}

// join sends phx_join with join_ref == ref, as phoenix.js does, and expects
// the ok reply.
func (c *client) join(ref any, topic, payload string) {
	c.t.Helper()
	c.send(ref, ref, topic, channels.EventJoin, payload)
	c.expectReply(ref, ref, topic, "ok", "{}")
}

// expect takes the next frame and compares it, as JSON, with the message
// (joinRef, ref, topic, event, payload) shaped for the client's dialect.
func (c *client) expect(joinRef, ref any, topic, event, payload string) {
	c.t.Helper()
	c.expectJSON(c.d.decoded(joinRef, ref, topic, event, payload))
}

// expectReply expects a phx_reply with status and response.
func (c *client) expectReply(joinRef, ref any, topic, status, response string) {
	c.t.Helper()
	c.expect(joinRef, ref, topic, protocol.EventReply, replyPayload(status, response))
}

// expectJSON takes the next frame, which must be text, and compares it with
// want as generic JSON: key order does not matter, and a ref's JSON type
// does ("1" is not 1).
func (c *client) expectJSON(want any) {
	c.t.Helper()
	f := c.next()
	if f.err != nil || f.op != ws.OpText {
		c.t.Fatalf("%s: want text frame %s, got %v", c.d.name, shorten(fmt.Sprint(want)), f)
	}
	var got any
	if err := json.Unmarshal(f.data, &got); err != nil {
		c.t.Fatalf("%s: text frame is not JSON: %q: %v", c.d.name, f.data, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		c.t.Fatalf("%s: frame %s differs (-want +got):\n%s", c.d.name, shorten(string(f.data)), shorten(diff))
	}
}

// expectBinary takes the next frame, which must be binary with want bytes.
func (c *client) expectBinary(want []byte) {
	c.t.Helper()
	f := c.next()
	if f.err != nil || f.op != ws.OpBinary {
		c.t.Fatalf("%s: want binary frame % x, got %v", c.d.name, want, f)
	}
	if !bytes.Equal(f.data, want) {
		c.t.Fatalf("%s: binary frame differs:\n got % x\nwant % x", c.d.name, f.data, want)
	}
}

// expectClose takes the next frame, which must be a close frame with code,
// and then expects the server to end the connection.
func (c *client) expectClose(code ws.StatusCode) {
	c.t.Helper()
	f := c.next()
	if f.err != nil || f.op != ws.OpClose {
		c.t.Fatalf("%s: want close %d, got %v", c.d.name, code, f)
	}
	if got, _ := ws.ParseCloseFrameData(f.data); got != code {
		c.t.Fatalf("%s: close code %d, want %d", c.d.name, got, code)
	}
	c.expectEnd(false)
}

// expectEnd expects the connection to end, skipping data frames still in
// flight if skipData.
func (c *client) expectEnd(skipData bool) {
	c.t.Helper()
	for {
		f := c.next()
		if f.err != nil {
			return
		}
		if !skipData {
			c.t.Fatalf("%s: want the connection to end, got %v", c.d.name, f)
		}
	}
}

// sync sends a heartbeat and expects its reply as the very next frame. The
// server handles a connection's messages in order and writes their output
// in order, so this proves nothing else was sent before: no fixed sleep.
func (c *client) sync() {
	c.t.Helper()
	ref := "hb" + strconv.FormatInt(c.hbRef.Add(1), 10)
	c.send(nil, ref, "phoenix", "heartbeat", "{}")
	c.expectReply(nil, ref, "phoenix", "ok", "{}")
}

// expectNoFrame waits for window and fails if any frame arrived.
func (c *client) expectNoFrame(window time.Duration) {
	c.t.Helper()
	deadline := time.After(window)
	for {
		c.mu.Lock()
		n := len(c.queue)
		var f inFrame
		if n > 0 {
			f = c.queue[0]
		}
		c.mu.Unlock()
		if n > 0 {
			c.t.Fatalf("%s: want no frame, got %v", c.d.name, f)
		}
		select {
		case <-c.notify:
		case <-deadline:
			return
		}
	}
}

func (c *client) pongsSeen() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.pongs...)
}

// checkFor polls f every interval until it returns nil, and fails the test
// with f's last error after total.
func checkFor(t testing.TB, total, interval time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %v", total, err)
		}
		time.Sleep(interval)
	}
}

// shorten keeps failure messages about big frames readable.
func shorten(s string) string {
	if len(s) > 300 {
		return s[:300] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

// maxTestFrame bounds what the test client reads in one frame.
const maxTestFrame = 64 << 20

// readFrame reads one server frame, refusing a declared length over
// maxTestFrame (ws.ReadFrame trusts the peer's length).
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > maxTestFrame {
		return ws.Frame{}, fmt.Errorf("server frame of %d bytes, over the test limit", h.Length)
	}
	payload := make([]byte, h.Length)
	if _, err := io.ReadFull(r, payload); err != nil {
		return ws.Frame{}, err
	}
	return ws.Frame{Header: h, Payload: payload}, nil
}
