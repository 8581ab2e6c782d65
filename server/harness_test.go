package server_test

// The send/expect harness: a real endpoint on a loopback port and a
// servertest client, which reads every frame the server sends in order.
// The expect methods take them one by one and compare their exact text (as
// JSON values) or bytes. Nothing of the code under test is mocked.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// frameTimeout bounds every wait for an expected frame, as the servertest
// client's waits are bounded.
const frameTimeout = servertest.DefaultTimeout

// startServer starts an endpoint for cfg (testRouter when cfg.Router is
// nil), mounted at /socket/. The test's cleanup shuts it down, after the
// clients dialed later have been closed.
func startServer(t testing.TB, cfg server.Config) *servertest.Server {
	t.Helper()
	if cfg.Router == nil {
		cfg.Router = testRouter()
	}
	return servertest.NewServer(t, cfg)
}

// startFunc starts a server for a test, as startServer does.
type startFunc func(t testing.TB, cfg server.Config) *servertest.Server

// startServerHTTP is startServer without the UpgradeListener: net/http
// answers the upgrades, as for an Endpoint mounted on any http.Server.
func startServerHTTP(t testing.TB, cfg server.Config) *servertest.Server {
	t.Helper()
	if cfg.Router == nil {
		cfg.Router = testRouter()
	}
	e := server.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/socket/", e)
	srv := servertest.Serve(t, e, mux)
	srv.URL += "/socket"
	return srv
}

// forEachUpgradePath runs f once with the upgrades answered by the
// endpoint's UpgradeListener (startServer, as the fawkes binary answers
// them) and once by net/http (startServerHTTP): both must give the same
// answers.
func forEachUpgradePath(t *testing.T, f func(t *testing.T, start startFunc)) {
	t.Run("listener", func(t *testing.T) { f(t, startServer) })
	t.Run("net_http", func(t *testing.T) { f(t, startServerHTTP) })
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

// option is the servertest option that makes a client speak d.
func (d dialect) option() servertest.Option { return servertest.Vsn(d.vsn) }

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

// dialRaw performs the handshake and returns the HTTP status and body of a
// refusal, or 101 and the selected subprotocol (the connection is then
// closed).
func dialRaw(t testing.TB, srv *servertest.Server, d dialect, opts ...servertest.Option) (status int, body, protocol string) {
	t.Helper()
	c, err := servertest.TryDial(t, srv.URL, append(opts, d.option())...)
	if err != nil {
		var refused *servertest.DialError
		if !errors.As(err, &refused) || refused.Status == 0 {
			t.Fatalf("dial: %v", err)
		}
		return refused.Status, refused.Body, ""
	}
	c.Close()
	return 101, "", c.Protocol()
}

// client is a servertest client of one dialect with the expect methods of
// this harness: each takes the next frame the server sent.
type client struct {
	*servertest.Client
	t     testing.TB
	d     dialect
	hbRef atomic.Int64
}

// dial connects a client of dialect d and fails the test if the server
// refuses. The client is closed by the test's cleanup.
func dial(t testing.TB, srv *servertest.Server, d dialect, opts ...servertest.Option) *client {
	t.Helper()
	return &client{Client: servertest.Dial(t, srv.URL, append(opts, d.option())...), t: t, d: d}
}

// maskedFrame returns a WebSocket frame as a client sends it: tests of
// framing build their frames with gobwas/ws and write them with WriteRaw.
func maskedFrame(t testing.TB, op ws.OpCode, fin bool, payload []byte) []byte {
	t.Helper()
	b, err := ws.CompileFrame(ws.MaskFrameInPlace(ws.NewFrame(op, fin, bytes.Clone(payload))))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sendFrame writes one masked frame with the given opcode and fin bit.
func (c *client) sendFrame(op ws.OpCode, fin bool, payload []byte) {
	c.t.Helper()
	if err := c.WriteRaw(maskedFrame(c.t, op, fin, payload)); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// trySendFrame is sendFrame for writes the server may refuse by closing the
// connection midway (its close frame is still read after a write error).
func (c *client) trySendFrame(op ws.OpCode, fin bool, payload []byte) {
	_ = c.WriteRaw(maskedFrame(c.t, op, fin, payload))
}

// sendText sends raw bytes as one text message.
func (c *client) sendText(raw string) {
	c.t.Helper()
	c.SendText([]byte(raw))
}

// send sends a message in the client's dialect; joinRef and ref are nil
// (null), strings or numbers.
func (c *client) send(joinRef, ref any, topic, event, payload string) {
	c.t.Helper()
	c.SendText(c.d.encode(joinRef, ref, topic, event, payload))
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
	m := c.Next()
	if m.Binary {
		c.t.Fatalf("%s: want text frame %s, got %v", c.d.name, shorten(fmt.Sprint(want)), m)
	}
	var got any
	if err := json.Unmarshal(m.Raw, &got); err != nil {
		c.t.Fatalf("%s: text frame is not JSON: %q: %v", c.d.name, m.Raw, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		c.t.Fatalf("%s: frame %s differs (-want +got):\n%s", c.d.name, shorten(string(m.Raw)), shorten(diff))
	}
}

// expectBinary takes the next frame, which must be binary with want bytes.
func (c *client) expectBinary(want []byte) {
	c.t.Helper()
	m := c.Next()
	if !m.Binary {
		c.t.Fatalf("%s: want binary frame % x, got %v", c.d.name, want, m)
	}
	if !bytes.Equal(m.Raw, want) {
		c.t.Fatalf("%s: binary frame differs:\n got % x\nwant % x", c.d.name, m.Raw, want)
	}
}

// expectClose expects the server to end the connection with a close frame
// of code, and nothing before it that the test did not take.
func (c *client) expectClose(code ws.StatusCode) {
	c.t.Helper()
	got := c.AwaitClose()
	if left := c.Unread(); len(left) > 0 {
		c.t.Fatalf("%s: want close %d, got %v first", c.d.name, code, left[0])
	}
	if got != int(code) {
		c.t.Fatalf("%s: close code %d (%q), want %d", c.d.name, got, c.CloseReason(), code)
	}
}

// expectEnd expects the connection to end, however: frames still in flight
// are dropped.
func (c *client) expectEnd() {
	c.t.Helper()
	c.AwaitClose()
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
	time.Sleep(window)
	if left := c.Unread(); len(left) > 0 {
		c.t.Fatalf("%s: want no frame, got %v", c.d.name, left[0])
	}
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
