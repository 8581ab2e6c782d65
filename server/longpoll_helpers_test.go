package server_test

// LongPoll test helpers: a real endpoint on a loopback port and plain
// net/http requests, as phoenix.js makes them. Every name here starts with
// "lp" so that it cannot collide with the WebSocket harness of this package.

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/conformance"
	"github.com/fawkes-rt/fawkes/protocol"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// lpTimeout bounds every wait of these tests. A passing test never waits
// for it; the race detector on two busy cores is slow.
const lpTimeout = 15 * time.Second

// lpTokenChars is what a session token may contain: safe unescaped in a URL
// query and in a header.
var lpTokenChars = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// lpServer is an Endpoint mounted at /socket/ on a loopback port.
type lpServer struct {
	*server.Endpoint
	hs  *httptest.Server
	url string // http://127.0.0.1:port/socket/longpoll
}

// lpStart starts an endpoint for cfg, with lpRouter(nil) when cfg.Router is
// nil and a 2 s window when cfg.LongPollWindow is zero. The test's cleanup
// shuts it down; register cleanups that unblock channels after calling
// lpStart, so that they run first.
func lpStart(t *testing.T, cfg server.Config) *lpServer {
	t.Helper()
	if cfg.Router == nil {
		cfg.Router = lpRouter(nil)
	}
	if cfg.LongPollWindow == 0 {
		cfg.LongPollWindow = 2 * time.Second
	}
	e := server.New(cfg)
	mux := http.NewServeMux()
	mux.Handle("/socket/", e)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), lpTimeout)
		defer cancel()
		if err := e.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close() // also closes hs.Client()'s idle connections
	})
	return &lpServer{
		Endpoint: e,
		hs:       hs,
		url:      hs.URL + "/socket/longpoll",
	}
}

// lpRouter routes "conformance:*" to the conformance channel and the
// topics of lpChannel; terminated, if not nil, receives "topic reason" from
// every lpChannel's Terminate.
func lpRouter(terminated chan<- string) *channels.Router {
	r := channels.NewRouter()
	r.Handle("conformance:*", conformance.New)
	r.Handle("lp:*", func(string) channels.Channel { return &lpChannel{terminated: terminated} })
	return r
}

// lpChannel answers a binary push with a JSON reply describing it (so a
// test can prove a base64 ndjson line was decoded), echoes "echo", and
// reports Terminate.
type lpChannel struct {
	terminated chan<- string
}

func (*lpChannel) Join(*channels.Socket, []byte) channels.Reply { return channels.OK(nil) }

func (*lpChannel) HandleIn(_ *channels.Socket, in channels.Inbound) channels.Result {
	if in.Binary {
		resp, _ := json.Marshal(map[string]any{"binary_event": in.Event, "hex": fmt.Sprintf("%x", in.Payload)})
		return channels.Replied(channels.OK(resp))
	}
	if in.Event == "echo" {
		return channels.Replied(channels.OK(in.Payload))
	}
	return channels.Replied(channels.Error([]byte(`{"reason":"unknown event"}`)))
}

func (c *lpChannel) Terminate(s *channels.Socket, r channels.Reason) {
	if c.terminated != nil {
		select {
		case c.terminated <- s.Topic() + " " + r.String():
		default: // nobody listens for more
		}
	}
}

// lpBlockChannel's HandleIn blocks until release is closed.
type lpBlockChannel struct{ release <-chan struct{} }

func (*lpBlockChannel) Join(*channels.Socket, []byte) channels.Reply { return channels.OK(nil) }

func (c *lpBlockChannel) HandleIn(*channels.Socket, channels.Inbound) channels.Result {
	<-c.release
	return channels.Replied(channels.OK(nil))
}

func (*lpBlockChannel) Terminate(*channels.Socket, channels.Reason) {}

// lpResponse is one LongPoll answer.
type lpResponse struct {
	httpStatus int
	header     http.Header
	body       []byte
	elapsed    time.Duration

	// The JSON body, when there is one.
	keys     map[string]json.RawMessage
	status   int
	token    string
	messages []string
}

func (r *lpResponse) String() string {
	return fmt.Sprintf("HTTP %d %s", r.httpStatus, r.body)
}

// do makes one request to the LongPoll path. query is the raw query
// string; header may be nil. It checks the headers every answer carries.
func (srv *lpServer) do(t *testing.T, method, query string, header http.Header, body []byte) *lpResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lpTimeout)
	defer cancel()
	u := srv.url
	if query != "" {
		u += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = nil
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	start := time.Now()
	resp, err := srv.hs.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading body: %v", method, u, err)
	}
	r := &lpResponse{httpStatus: resp.StatusCode, header: resp.Header, body: b, elapsed: time.Since(start)}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("%s: access-control-allow-origin = %q, want *", r, got)
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: cache-control = %q, want no-store", r, got)
	}
	if len(b) == 0 || resp.StatusCode != http.StatusOK {
		return r
	}
	if got := resp.Header.Get("Content-Type"); got != "application/json; charset=utf-8" {
		t.Errorf("%s: content-type = %q, want application/json; charset=utf-8", r, got)
	}
	if err := json.Unmarshal(b, &r.keys); err != nil {
		t.Fatalf("%s: body is not a JSON object: %v", r, err)
	}
	for k, v := range r.keys {
		var err error
		switch k {
		case "status":
			err = json.Unmarshal(v, &r.status)
		case "token":
			err = json.Unmarshal(v, &r.token)
		case "messages":
			err = json.Unmarshal(v, &r.messages) // an array of strings, nothing else
		default:
			err = errors.New("unexpected key")
		}
		if err != nil {
			t.Fatalf("%s: key %q: %v", r, k, err)
		}
	}
	return r
}

// expectStatus fails unless r is HTTP 200 whose body has exactly the given
// status and the keys listed (of "token" and "messages").
func (r *lpResponse) expectStatus(t *testing.T, status int, keys ...string) {
	t.Helper()
	if r.httpStatus != http.StatusOK {
		t.Fatalf("%s: want HTTP 200 with status %d", r, status)
	}
	if r.status != status {
		t.Fatalf("%s: want status %d", r, status)
	}
	want := append([]string{"status"}, keys...)
	if len(r.keys) != len(want) {
		t.Fatalf("%s: want exactly the keys %v", r, want)
	}
	for _, k := range want {
		if _, ok := r.keys[k]; !ok {
			t.Fatalf("%s: want exactly the keys %v", r, want)
		}
	}
}

// lpClient is one LongPoll session, as phoenix.js HEAD holds it: the token
// goes in the X-Phoenix-Longpoll-Token header.
//
// It is not a second Phoenix client next to servertest (whose LongPoll
// transport the Phoenix-level tests use): these are tests of the LongPoll
// transport itself, which assert each HTTP answer (status, exact JSON keys,
// token rotation, headers, which node of a ring served a request), so they
// make the requests one by one with net/http.
type lpClient struct {
	t     *testing.T
	srv   *lpServer
	query string // repeated on every request, as phoenix.js does
	token string
	ser   protocol.Serializer
	// ring, when set, takes the place of srv: each request goes to the
	// next of its servers in turn, as behind a round-robin balancer.
	ring []*lpServer
	next int

	pending []string // messages received but not yet expected
}

// server returns the server of the next request.
func (c *lpClient) server() *lpServer {
	if len(c.ring) == 0 {
		return c.srv
	}
	srv := c.ring[c.next%len(c.ring)]
	c.next++
	return srv
}

// connect opens a V2 session.
func (srv *lpServer) connect(t *testing.T) *lpClient {
	t.Helper()
	return srv.connectQuery(t, "vsn=2.0.0", protocol.V2JSON)
}

// connectQuery opens a session with query (which sets the vsn ser speaks)
// and expects {"status":410,"token":..,"messages":[]}.
func (srv *lpServer) connectQuery(t *testing.T, query string, ser protocol.Serializer) *lpClient {
	t.Helper()
	r := srv.do(t, http.MethodGet, query, nil, nil)
	r.expectStatus(t, http.StatusGone, "token", "messages")
	if len(r.messages) != 0 || !lpTokenChars.MatchString(r.token) {
		t.Fatalf("%s: want a URL- and header-safe token and no messages", r)
	}
	return &lpClient{t: t, srv: srv, query: query, token: r.token, ser: ser}
}

func (c *lpClient) header() http.Header {
	return http.Header{"X-Phoenix-Longpoll-Token": {c.token}}
}

// get polls once.
func (c *lpClient) get() *lpResponse {
	c.t.Helper()
	return c.server().do(c.t, http.MethodGet, c.query, c.header(), nil)
}

// post sends body with contentType ("" sends none).
func (c *lpClient) post(contentType string, body string) *lpResponse {
	c.t.Helper()
	h := c.header()
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	return c.server().do(c.t, http.MethodPost, c.query, h, []byte(body))
}

// send posts lines as one application/x-ndjson batch and expects
// {"status":200}.
func (c *lpClient) send(lines ...string) {
	c.t.Helper()
	r := c.post("application/x-ndjson", strings.Join(lines, "\n"))
	r.expectStatus(c.t, http.StatusOK)
}

// join joins topic with join_ref == ref, as phoenix.js does, and expects
// the ok reply.
func (c *lpClient) join(ref, topic string) {
	c.t.Helper()
	c.send(lpMsg(ref, ref, topic, channels.EventJoin, `{}`))
	c.expect(lpReply(ref, ref, topic, "ok", `{}`))
}

// poll returns the next n messages, polling as often as needed.
func (c *lpClient) poll(n int) []string {
	c.t.Helper()
	deadline := time.Now().Add(lpTimeout)
	for len(c.pending) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("got %d messages %q within %v, want %d", len(c.pending), c.pending, lpTimeout, n)
		}
		r := c.get()
		switch {
		case r.status == http.StatusOK:
			r.expectStatus(c.t, http.StatusOK, "token", "messages")
		case r.status == http.StatusNoContent:
			r.expectStatus(c.t, http.StatusNoContent, "token", "messages")
		default:
			c.t.Fatalf("poll: %s", r)
		}
		if r.token != c.token {
			c.t.Fatalf("poll: token changed from %q: %s", c.token, r)
		}
		c.pending = append(c.pending, r.messages...)
	}
	out := c.pending[:n:n]
	c.pending = c.pending[n:]
	return out
}

// expect polls for len(want) messages and compares them, in order, with
// the frames want (see lpReply, lpPush, lpBroadcast) as JSON values: key
// order does not matter, a ref's JSON type does.
func (c *lpClient) expect(want ...protocol.Message) {
	c.t.Helper()
	got := c.poll(len(want))
	for i := range want {
		lpCompare(c.t, c.ser, got[i], want[i])
	}
}

// expectGone polls and expects the session to be gone: the answer is a new
// session, {"status":410} with a different token. It returns that session.
func (c *lpClient) expectGone() *lpClient {
	c.t.Helper()
	r := c.get()
	r.expectStatus(c.t, http.StatusGone, "token", "messages")
	if r.token == c.token || len(r.messages) != 0 {
		c.t.Fatalf("%s: want a new session (old token %q)", r, c.token)
	}
	return &lpClient{t: c.t, srv: c.srv, query: c.query, token: r.token, ser: c.ser, ring: c.ring, next: c.next}
}

// lpCompare compares a LongPoll message with the text frame ser makes of
// want, as JSON values.
func lpCompare(t *testing.T, ser protocol.Serializer, got string, want protocol.Message) {
	t.Helper()
	f, err := protocol.Encode(ser, &want)
	if err != nil || f.Binary {
		t.Fatalf("encoding %+v: %v (binary %v)", want, err, f.Binary)
	}
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("message %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal(f.Data, &w); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("message %s differs from frame %s (-want +got):\n%s", got, f.Data, diff)
	}
}

// lpRef is a string ref, or null for "".
func lpRef(s string) protocol.Ref {
	if s == "" {
		return protocol.Ref{}
	}
	return protocol.StringRef(s)
}

// lpMsg is a V2 JSON client message; "" refs are null.
func lpMsg(joinRef, ref, topic, event, payload string) string {
	b, err := json.Marshal([]any{lpNull(joinRef), lpNull(ref), topic, event, json.RawMessage(payload)})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func lpNull(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// lpReply is the reply frame [joinRef, ref, topic, "phx_reply", {status, response}].
func lpReply(joinRef, ref, topic, status, response string) protocol.Message {
	return protocol.Message{Kind: protocol.Reply, JoinRef: lpRef(joinRef), Ref: lpRef(ref), Topic: topic, Event: protocol.EventReply, Status: status, Payload: []byte(response)}
}

// lpPush is the push frame [joinRef, null, topic, event, payload].
func lpPush(joinRef, topic, event, payload string) protocol.Message {
	return protocol.Message{Kind: protocol.Push, JoinRef: lpRef(joinRef), Topic: topic, Event: event, Payload: []byte(payload)}
}

// lpControl is phx_close or phx_error, whose ref is the join_ref.
func lpControl(joinRef, topic, event, payload string) protocol.Message {
	return protocol.Message{Kind: protocol.Push, JoinRef: lpRef(joinRef), Ref: lpRef(joinRef), Topic: topic, Event: event, Payload: []byte(payload)}
}

// lpBroadcast is the broadcast frame [null, null, topic, event, payload].
func lpBroadcast(topic, event, payload string) protocol.Message {
	return protocol.Message{Kind: protocol.Broadcast, Topic: topic, Event: event, Payload: []byte(payload)}
}

// lpBinaryPush is a client's V2 binary kind-0 frame, standard base64 with
// padding, as phoenix.js puts it on an ndjson line.
func lpBinaryPush(joinRef, ref, topic, event string, payload []byte) string {
	b := []byte{0, byte(len(joinRef)), byte(len(ref)), byte(len(topic)), byte(len(event))}
	b = append(b, joinRef+ref+topic+event...)
	b = append(b, payload...)
	return base64.StdEncoding.EncodeToString(b)
}

// lpCheckFor polls f until it returns nil, and fails the test with f's last
// error after total.
func lpCheckFor(t *testing.T, total time.Duration, f func() error) {
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
		time.Sleep(10 * time.Millisecond)
	}
}

// lpWithin runs f in a goroutine and fails the test if it does not return
// within lpTimeout (a deadlock would otherwise hang the whole run).
func lpWithin(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(lpTimeout):
		t.Fatalf("%s did not return within %v", what, lpTimeout)
	}
}

// asyncGet polls in a goroutine; wait returns the answer.
func (c *lpClient) asyncGet() (wait func() *lpResponse) {
	ch := make(chan *lpResponse, 1)
	srv := c.server()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		ch <- srv.do(c.t, http.MethodGet, c.query, c.header(), nil)
	}()
	c.t.Cleanup(wg.Wait)
	return func() *lpResponse {
		c.t.Helper()
		select {
		case r := <-ch:
			return r
		case <-time.After(lpTimeout):
			c.t.Fatalf("GET did not return within %v", lpTimeout)
			return nil
		}
	}
}

// lpWS is a servertest WebSocket client (V2) whose next takes the text
// frames in order, as their exact text.
type lpWS struct {
	*servertest.Client
	t *testing.T
}

func (srv *lpServer) dialWS(t *testing.T) *lpWS {
	t.Helper()
	return &lpWS{Client: servertest.Dial(t, srv.hs.URL+"/socket"), t: t}
}

func (c *lpWS) send(msg string) {
	c.t.Helper()
	c.SendText([]byte(msg))
}

// next returns the next text frame.
func (c *lpWS) next() string {
	c.t.Helper()
	for {
		if m := c.Next(); !m.Binary {
			return string(m.Raw)
		}
	}
}

// lpCorrupt changes the character at i of s into another token character.
func lpCorrupt(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

// lpLines returns n lines made by f(1..n).
func lpLines(n int, f func(i int) string) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = f(i + 1)
	}
	return out
}
