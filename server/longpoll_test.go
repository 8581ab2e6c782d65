package server_test

// LongPoll transport (docs/protocol.md §6), one test per rule, against a real
// endpoint on a loopback port with plain net/http requests. Every answer is
// checked for access-control-allow-origin and cache-control by lpServer.do.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/protocol"
	"github.com/fawkes-rt/fawkes/server"
)

func TestLongPollNewSession(t *testing.T) {
	srv := lpStart(t, server.Config{})
	r := srv.do(t, http.MethodGet, "vsn=2.0.0", http.Header{"Accept": {"application/json"}}, nil)
	r.expectStatus(t, http.StatusGone, "token", "messages")
	if len(r.messages) != 0 || string(r.keys["messages"]) != "[]" {
		t.Fatalf("%s: want messages []", r)
	}
	if !lpTokenChars.MatchString(r.token) {
		t.Fatalf("token %q is not URL- and header-safe", r.token)
	}
	if n := srv.Stats().LongPollSessions(); n != 1 {
		t.Fatalf("LongPollSessions = %d, want 1", n)
	}
	// A second client gets its own session.
	if r2 := srv.do(t, http.MethodGet, "vsn=2.0.0", nil, nil); r2.token == r.token || r2.status != http.StatusGone {
		t.Fatalf("second session: %s, first token %q", r2, r.token)
	}
}

func TestLongPollPollReturnsTextFrames(t *testing.T) {
	srv := lpStart(t, server.Config{})
	c := srv.connect(t)
	c.send(lpMsg("1", "1", "conformance:a", "phx_join", `{"push":{"hello":"world"}}`))
	r := c.get()
	r.expectStatus(t, http.StatusOK, "token", "messages")
	if r.token != c.token {
		t.Fatalf("%s: token changed from %q", r, c.token)
	}
	// The join reply and the after_join push, in order, each a JSON string
	// holding exactly the V2 text frame.
	c.pending = r.messages
	c.expect(
		lpReply("1", "1", "conformance:a", "ok", `{}`),
		lpPush("1", "conformance:a", "after_join", `{"hello":"world"}`),
	)
	// Escaping survives the double encoding.
	payload := `{"s":"quote \" backslash \\ newline \n tab \t unicode é ☃ \u2028","n":[1,2.5,null,true]}`
	c.send(lpMsg("1", "2", "conformance:a", "echo", payload))
	c.expect(lpReply("1", "2", "conformance:a", "ok", payload))
}

func TestLongPollWindowElapsed(t *testing.T) {
	const window = 300 * time.Millisecond
	srv := lpStart(t, server.Config{LongPollWindow: window})
	c := srv.connect(t)
	r := c.get()
	r.expectStatus(t, http.StatusNoContent, "token", "messages")
	if r.token != c.token || len(r.messages) != 0 {
		t.Fatalf("%s: want the same token %q and messages []", r, c.token)
	}
	if r.elapsed < window {
		t.Fatalf("204 after %v, want the whole window %v", r.elapsed, window)
	}
}

func TestLongPollGetReturnsAsSoonAsQueued(t *testing.T) {
	const window = 2 * time.Second
	srv := lpStart(t, server.Config{LongPollWindow: window})
	a, b := srv.connect(t), srv.connect(t)
	a.join("1", "conformance:room")
	b.join("1", "conformance:room")

	wait := a.asyncGet()
	time.Sleep(200 * time.Millisecond) // let the GET park; were it late, it would still return at once
	sent := time.Now()
	b.send(lpMsg("1", "2", "conformance:room", "broadcast", `{"n":1}`))
	r := wait()
	arrived := time.Since(sent)
	r.expectStatus(t, http.StatusOK, "token", "messages")
	if arrived > window/2 {
		t.Fatalf("GET returned %v after the broadcast; want well before the %v window", arrived, window)
	}
	a.pending = r.messages
	a.expect(lpBroadcast("conformance:room", "broadcasted", `{"n":1}`))
}

func TestLongPollRefused(t *testing.T) {
	refuse := func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
		switch req.Params["refuse"] {
		case "plain":
			return server.ConnectResult{}, errors.New("no")
		case "429":
			return server.ConnectResult{}, &server.Refusal{Status: http.StatusTooManyRequests, Reason: "rate limit"}
		case "panic":
			panic("connect hook panicked")
		}
		return server.ConnectResult{}, nil
	}
	cases := []struct {
		name   string
		query  string
		origin string
	}{
		{"connect_error", "refuse=plain&vsn=2.0.0", ""},
		{"connect_refusal_status", "refuse=429&vsn=2.0.0", ""}, // LongPoll always says 403
		{"connect_panic", "refuse=panic&vsn=2.0.0", ""},
		{"vsn_2.1.0", "vsn=2.1.0", ""},
		{"vsn_abc", "vsn=abc", ""},
		{"bad_origin", "vsn=2.0.0", "https://evil.example"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := lpStart(t, server.Config{
				Connect:     refuse,
				CheckOrigin: func(o string) bool { return o == "https://good.example" },
			})
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			r := srv.do(t, http.MethodGet, tc.query, h, nil)
			r.expectStatus(t, http.StatusForbidden)
			if srv.Stats().Refused() != 1 || srv.Stats().LongPollSessions() != 0 {
				t.Fatalf("Refused = %d, LongPollSessions = %d; want 1, 0", srv.Stats().Refused(), srv.Stats().LongPollSessions())
			}
		})
	}
	t.Run("good_origin", func(t *testing.T) {
		srv := lpStart(t, server.Config{CheckOrigin: func(o string) bool { return o == "https://good.example" }})
		r := srv.do(t, http.MethodGet, "vsn=2.0.0", http.Header{"Origin": {"https://good.example"}}, nil)
		r.expectStatus(t, http.StatusGone, "token", "messages")
	})
	t.Run("bad_origin_post_with_session", func(t *testing.T) {
		// The origin check runs before anything else, on POST too.
		srv := lpStart(t, server.Config{CheckOrigin: func(o string) bool { return o == "https://good.example" }})
		c := srv.connect(t)
		h := c.header()
		h.Set("Origin", "https://evil.example")
		h.Set("Content-Type", "application/x-ndjson")
		r := srv.do(t, http.MethodPost, c.query, h, []byte(lpMsg("", "1", "phoenix", "heartbeat", `{}`)))
		r.expectStatus(t, http.StatusForbidden)
	})
}

func TestLongPollPostAccepted(t *testing.T) {
	srv := lpStart(t, server.Config{})
	c := srv.connect(t)
	r := c.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	r.expectStatus(t, http.StatusOK) // exactly {"status":200}
	// An error reply is still an accepted POST; the reply goes to the poll.
	r = c.post("application/x-ndjson", lpMsg("", "2", "nowhere:x", "echo", `{}`))
	r.expectStatus(t, http.StatusOK)
	c.expect(
		lpReply("", "1", "phoenix", "ok", `{}`),
		lpReply("", "2", "nowhere:x", "error", `{"reason":"unmatched topic"}`),
	)
}

func TestLongPollPostDispatchTimeout(t *testing.T) {
	// A POST answers once its messages are queued on their channels; it
	// waits only for room in the session's bounded queues, and answers 408
	// when none came within the window. POSTs do not keep a session alive
	// (1.5 windows after the last GET), so the window must outlast the join
	// and the blocked POST on a loaded machine.
	const window = 2 * time.Second
	release := make(chan struct{})
	router := lpRouter(nil)
	router.Handle("block:*", func(string) channels.Channel { return &lpBlockChannel{release: release} })
	srv := lpStart(t, server.Config{Router: router, LongPollWindow: window})
	var released atomic.Bool
	unblock := func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(unblock) // runs before the server's shutdown

	c := srv.connect(t)
	c.join("1", "block:x")
	r, sent := lpFillQueues(t, c, "block:x")
	r.expectStatus(t, http.StatusRequestTimeout) // exactly {"status":408}
	if r.elapsed < window {
		t.Fatalf("408 after %v, before the window %v", r.elapsed, window)
	}
	// Once the channel is done, what was queued is handled in order (the
	// lines the 408 dropped never are) and the session works.
	unblock()
	lpExpectQueuedThenLast(t, c, "block:x", sent)
	c.send(lpMsg("", "hb", "phoenix", "heartbeat", `{}`))
	c.expect(lpReply("", "hb", "phoenix", "ok", `{}`))
}

// lpFillQueues posts batches of 100 lines to topic, whose channel blocks,
// until a POST is not answered 200 (the session's queues are full), and
// returns that answer and how many lines the 200s carried.
func lpFillQueues(t *testing.T, c *lpClient, topic string) (*lpResponse, int) {
	t.Helper()
	sent := 0
	for range 10 {
		r := c.post("application/x-ndjson", strings.Join(lpLines(100, func(i int) string {
			return lpMsg("1", strconv.Itoa(sent+i), topic, "wait", `{}`)
		}), "\n"))
		if r.status != http.StatusOK {
			return r, sent
		}
		sent += 100
	}
	t.Fatal("1,000 lines to a blocked channel never filled the session's queues")
	return nil, 0
}

// lpExpectQueuedThenLast sends one more message to topic and expects its
// channel's replies to refs 1..n in order, n at least sent and less than
// sent+100 (the lines queued before a 408; the rest were dropped), then
// the reply to the last message.
func lpExpectQueuedThenLast(t *testing.T, c *lpClient, topic string, sent int) {
	t.Helper()
	c.send(lpMsg("1", "last", topic, "wait", `{}`))
	for n := 1; ; n++ {
		m := c.poll(1)[0]
		if strings.Contains(m, `"last"`) {
			lpCompare(t, c.ser, m, lpReply("1", "last", topic, "ok", `{}`))
			if n-1 < sent || n-1 >= sent+100 {
				t.Fatalf("%d lines handled before the last one; want %d to %d", n-1, sent, sent+99)
			}
			return
		}
		lpCompare(t, c.ser, m, lpReply("1", strconv.Itoa(n), topic, "ok", `{}`))
	}
}

func TestLongPollPostWithoutSession(t *testing.T) {
	srv := lpStart(t, server.Config{})
	ended := srv.connect(t)
	ended.post("application/x-ndjson", "not json").expectStatus(t, http.StatusBadRequest) // ends the session
	tokens := map[string]string{
		"no_token":    "",
		"garbage":     "garbage",
		"ended":       ended.token,
		"no_mac":      strings.Split(ended.token, ".")[0],
		"empty_parts": ".",
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			h := http.Header{"Content-Type": {"application/x-ndjson"}}
			if tok != "" {
				h.Set("X-Phoenix-Longpoll-Token", tok)
			}
			r := srv.do(t, http.MethodPost, "vsn=2.0.0", h, []byte(lpMsg("", "1", "phoenix", "heartbeat", `{}`)))
			r.expectStatus(t, http.StatusGone) // exactly {"status":410}
		})
	}
	if n := srv.Stats().LongPollSessions(); n != 0 {
		t.Fatalf("LongPollSessions = %d, want 0: a POST never creates a session", n)
	}
}

func TestLongPollOtherMethods(t *testing.T) {
	srv := lpStart(t, server.Config{})
	c := srv.connect(t)
	for _, m := range []string{http.MethodPut, http.MethodDelete, http.MethodPatch} {
		r := srv.do(t, m, c.query, c.header(), []byte(lpMsg("", "1", "phoenix", "heartbeat", `{}`)))
		if r.httpStatus != http.StatusBadRequest || len(r.body) != 0 {
			t.Errorf("%s: got %s, want HTTP 400 with an empty body", m, r)
		}
	}
	// The session is untouched.
	c.send(lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	c.expect(lpReply("", "1", "phoenix", "ok", `{}`))
}

func TestLongPollOptionsPreflight(t *testing.T) {
	srv := lpStart(t, server.Config{CheckOrigin: func(string) bool { return false }})
	h := http.Header{
		"Origin":                         {"https://elsewhere.example"},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type,x-phoenix-longpoll-token"},
	}
	r := srv.do(t, http.MethodOptions, "vsn=2.0.0", h, nil)
	if r.httpStatus != http.StatusOK || len(r.body) != 0 {
		t.Fatalf("%s: want HTTP 200 with an empty body", r)
	}
	want := map[string]string{
		"Access-Control-Allow-Headers": "content-type,x-phoenix-longpoll-token",
		"Access-Control-Allow-Methods": "get, post, options",
		"Access-Control-Max-Age":       "3600",
	}
	for k, v := range want {
		if got := r.header.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	if n := srv.Stats().LongPollSessions(); n != 0 {
		t.Fatalf("a preflight made %d sessions", n)
	}
}

// TestLongPollHeadersOnEveryAnswer walks every kind of answer; lpServer.do
// checks access-control-allow-origin: * and cache-control: no-store on each,
// and the JSON content type on JSON ones.
func TestLongPollHeadersOnEveryAnswer(t *testing.T) {
	srv := lpStart(t, server.Config{
		LongPollWindow:  300 * time.Millisecond,
		LongPollMaxBody: 1024,
		CheckOrigin:     func(o string) bool { return o != "https://evil.example" },
	})
	c := srv.connect(t)                                                // 410 new session
	c.get().expectStatus(t, http.StatusNoContent, "token", "messages") // 204
	c.send(lpMsg("", "1", "phoenix", "heartbeat", `{}`))               // POST 200
	c.get().expectStatus(t, http.StatusOK, "token", "messages")        // 200 messages
	srv.do(t, http.MethodGet, "vsn=2.1.0", nil, nil).expectStatus(t, http.StatusForbidden)
	srv.do(t, http.MethodGet, "vsn=2.0.0", http.Header{"Origin": {"https://evil.example"}}, nil).expectStatus(t, http.StatusForbidden)
	srv.do(t, http.MethodPost, "vsn=2.0.0", nil, []byte("{}")).expectStatus(t, http.StatusGone)
	srv.do(t, http.MethodPut, "vsn=2.0.0", nil, nil)
	srv.do(t, http.MethodOptions, "vsn=2.0.0", nil, nil)
	if r := c.post("application/x-ndjson", strings.Repeat("A", 2048)); r.httpStatus != http.StatusRequestEntityTooLarge {
		t.Fatalf("%s: want HTTP 413", r)
	}
	c.post("application/x-ndjson", "not json").expectStatus(t, http.StatusBadRequest)
}

func TestLongPollTokenPlacement(t *testing.T) {
	params := make(chan map[string]string, 10)
	srv := lpStart(t, server.Config{Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
		params <- req.Params
		return server.ConnectResult{}, nil
	}})
	heartbeat := []byte(lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	ndjson := http.Header{"Content-Type": {"application/x-ndjson"}}

	// phoenix.js <= 1.8.12: the app's token param, then vsn, then the
	// session token appended as a second "token".
	r := srv.do(t, http.MethodGet, "token=app&vsn=2.0.0", nil, nil)
	r.expectStatus(t, http.StatusGone, "token", "messages")
	if p := <-params; p["token"] != "app" || p["vsn"] != "2.0.0" {
		t.Fatalf("connect saw params %v, want token=app vsn=2.0.0", p)
	}
	session := r.token
	q := "token=app&vsn=2.0.0&token=" + session

	t.Run("last_query_value", func(t *testing.T) {
		srv.do(t, http.MethodPost, q, ndjson, heartbeat).expectStatus(t, http.StatusOK)
		r := srv.do(t, http.MethodGet, q, nil, nil)
		r.expectStatus(t, http.StatusOK, "token", "messages")
		if r.token != session || len(r.messages) != 1 {
			t.Fatalf("%s: want the heartbeat reply on session %q", r, session)
		}
	})
	t.Run("header", func(t *testing.T) {
		h := http.Header{"X-Phoenix-Longpoll-Token": {session}, "Content-Type": {"application/x-ndjson"}}
		srv.do(t, http.MethodPost, "token=app&vsn=2.0.0", h, heartbeat).expectStatus(t, http.StatusOK)
		r := srv.do(t, http.MethodGet, "token=app&vsn=2.0.0", h, nil)
		r.expectStatus(t, http.StatusOK, "token", "messages")
		if r.token != session {
			t.Fatalf("%s: want session %q", r, session)
		}
	})
	t.Run("header_wins_over_query", func(t *testing.T) {
		// A valid header with a stale query token finds the session...
		h := http.Header{"X-Phoenix-Longpoll-Token": {session}, "Content-Type": {"application/x-ndjson"}}
		srv.do(t, http.MethodPost, "vsn=2.0.0&token=stale", h, heartbeat).expectStatus(t, http.StatusOK)
		r := srv.do(t, http.MethodGet, "vsn=2.0.0&token=stale", h, nil)
		r.expectStatus(t, http.StatusOK, "token", "messages")
		if r.token != session {
			t.Fatalf("%s: want session %q", r, session)
		}
		// ...and a stale header hides a valid query token.
		h.Set("X-Phoenix-Longpoll-Token", "stale")
		srv.do(t, http.MethodPost, q, h, heartbeat).expectStatus(t, http.StatusGone)
		r = srv.do(t, http.MethodGet, q, h, nil)
		r.expectStatus(t, http.StatusGone, "token", "messages")
		if r.token == session {
			t.Fatalf("%s: the query token won over the header", r)
		}
		<-params
	})
	t.Run("tampered", func(t *testing.T) {
		id, mac, ok := strings.Cut(session, ".")
		if !ok {
			t.Fatalf("token %q is not <id>.<mac>", session)
		}
		forged := map[string]string{
			"mac_first":   id + "." + lpCorrupt(mac, 0),
			"mac_last":    id + "." + lpCorrupt(mac, len(mac)-1),
			"id_first":    lpCorrupt(id, 0) + "." + mac,
			"id_last":     lpCorrupt(id, len(id)-1) + "." + mac,
			"mac_dropped": id + ".",
			"id_only":     id,
			"appended":    session + "A",
		}
		for name, tok := range forged {
			h := http.Header{"X-Phoenix-Longpoll-Token": {tok}, "Content-Type": {"application/x-ndjson"}}
			if r := srv.do(t, http.MethodPost, "vsn=2.0.0", h, heartbeat); r.status != http.StatusGone || len(r.keys) != 1 {
				t.Errorf("%s: POST got %s, want exactly {\"status\":410}", name, r)
			}
			r := srv.do(t, http.MethodGet, "vsn=2.0.0", h, nil)
			if r.status != http.StatusGone || r.token == session || r.token == tok || !lpTokenChars.MatchString(r.token) {
				t.Errorf("%s: GET got %s, want a new session", name, r)
			}
			<-params
		}
		// The real session is unharmed.
		h := http.Header{"X-Phoenix-Longpoll-Token": {session}, "Content-Type": {"application/x-ndjson"}}
		srv.do(t, http.MethodPost, "vsn=2.0.0", h, heartbeat).expectStatus(t, http.StatusOK)
	})
}

func TestLongPollTokensAreSigned(t *testing.T) {
	// A token from another server (another key) names no session here, even
	// if the id part happened to exist.
	a := lpStart(t, server.Config{LongPollKey: []byte("key-a")})
	b := lpStart(t, server.Config{LongPollKey: []byte("key-b")})
	ca := a.connect(t)
	cb := &lpClient{t: t, srv: b, query: ca.query, token: ca.token, ser: ca.ser}
	cb.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`)).expectStatus(t, http.StatusGone)
	cb.expectGone()
}

func TestLongPollNdjsonBatchInOrder(t *testing.T) {
	srv := lpStart(t, server.Config{})
	c := srv.connect(t)
	c.send(
		lpMsg("1", "1", "conformance:a", "phx_join", `{}`),
		lpMsg("1", "2", "conformance:a", "echo", `{"n":1}`),
		lpMsg("1", "3", "conformance:a", "push", `{"n":2}`),
		lpMsg("1", "4", "conformance:a", "echo", `{"n":3}`),
		lpMsg("", "5", "phoenix", "heartbeat", `{}`),
	)
	// {"status":200} came once every line was queued: the channel's frames
	// come in order, the heartbeat's reply (answered at once) anywhere among
	// them.
	var pending []string
	for _, m := range c.poll(6) {
		if strings.Contains(m, `"phoenix"`) {
			lpCompare(t, c.ser, m, lpReply("", "5", "phoenix", "ok", `{}`))
		} else {
			pending = append(pending, m)
		}
	}
	if len(pending) != 5 {
		t.Fatalf("%q: want 5 frames of conformance:a and the heartbeat's reply", pending)
	}
	c.pending = pending
	c.expect(
		lpReply("1", "1", "conformance:a", "ok", `{}`),
		lpReply("1", "2", "conformance:a", "ok", `{"n":1}`),
		lpPush("1", "conformance:a", "pushed", `{"n":2}`),
		lpReply("1", "3", "conformance:a", "ok", `{}`),
		lpReply("1", "4", "conformance:a", "ok", `{"n":3}`),
	)
}

func TestLongPollNdjsonBinaryLine(t *testing.T) {
	t.Run("decoded", func(t *testing.T) {
		// lpChannel answers a binary push with a JSON description of it.
		srv := lpStart(t, server.Config{})
		c := srv.connect(t)
		c.send(
			lpMsg("3", "3", "lp:bin", "phx_join", `{}`),
			lpBinaryPush("3", "4", "lp:bin", "bin", []byte{1, 2, 3, 0xff}),
			lpMsg("3", "5", "lp:bin", "echo", `{"after":"binary"}`),
		)
		c.expect(
			lpReply("3", "3", "lp:bin", "ok", `{}`),
			lpReply("3", "4", "lp:bin", "ok", `{"binary_event":"bin","hex":"010203ff"}`),
			lpReply("3", "5", "lp:bin", "ok", `{"after":"binary"}`),
		)
	})
	t.Run("binary_answer_dropped", func(t *testing.T) {
		// The conformance channel answers binary with binary, which LongPoll
		// cannot carry: dropped, and the session goes on.
		srv := lpStart(t, server.Config{})
		c := srv.connect(t)
		c.send(
			lpMsg("1", "1", "conformance:bin", "phx_join", `{}`),
			lpBinaryPush("1", "2", "conformance:bin", "anything", []byte{9, 8, 7}),
			lpMsg("1", "3", "conformance:bin", "echo", `{"still":"here"}`),
		)
		c.expect(
			lpReply("1", "1", "conformance:bin", "ok", `{}`),
			lpReply("1", "3", "conformance:bin", "ok", `{"still":"here"}`),
		)
	})
}

func TestLongPollNdjsonCRLF(t *testing.T) {
	srv := lpStart(t, server.Config{})
	c := srv.connect(t)
	body := lpMsg("1", "1", "lp:crlf", "phx_join", `{}`) + "\r\n" +
		lpBinaryPush("1", "2", "lp:crlf", "b", []byte("x")) + "\r\n" +
		lpMsg("1", "3", "lp:crlf", "echo", `{"n":1}`) + "\r\n"
	c.post("application/x-ndjson", body).expectStatus(t, http.StatusOK)
	c.expect(
		lpReply("1", "1", "lp:crlf", "ok", `{}`),
		lpReply("1", "2", "lp:crlf", "ok", `{"binary_event":"b","hex":"78"}`),
		lpReply("1", "3", "lp:crlf", "ok", `{"n":1}`),
	)
	if n := srv.Stats().Malformed(); n != 0 {
		t.Fatalf("Malformed = %d, want 0", n)
	}
}

func TestLongPollNdjsonLineCap(t *testing.T) {
	srv := lpStart(t, server.Config{})
	c := srv.connect(t)
	c.join("1", "conformance:cap")
	c.send(lpLines(150, func(i int) string {
		return lpMsg("1", strconv.Itoa(i), "conformance:cap", "echo", `{"i":`+strconv.Itoa(i)+`}`)
	})...)
	for i, m := range c.poll(100) {
		lpCompare(t, c.ser, m, lpReply("1", strconv.Itoa(i+1), "conformance:cap", "ok", `{"i":`+strconv.Itoa(i+1)+`}`))
	}
	// Lines 101..150 were ignored, not deferred: the next frame is the
	// reply to the channel's next message.
	c.send(lpMsg("1", "next", "conformance:cap", "echo", `{}`))
	c.expect(lpReply("1", "next", "conformance:cap", "ok", `{}`))
}

func TestLongPollOtherContentTypesCarryOneMessage(t *testing.T) {
	t.Run("V1", func(t *testing.T) {
		srv := lpStart(t, server.Config{})
		for _, ct := range []string{"application/json", ""} {
			c := srv.connectQuery(t, "vsn=1.0.0", protocol.V1JSON)
			c.post(ct, `{"topic":"conformance:v1","event":"phx_join","payload":{},"ref":"1","join_ref":"1"}`).expectStatus(t, http.StatusOK)
			c.post(ct, `{"topic":"conformance:v1","event":"echo","payload":{"v":1},"ref":"2"}`).expectStatus(t, http.StatusOK)
			c.expect(
				lpReply("1", "1", "conformance:v1", "ok", `{}`),
				lpReply("1", "2", "conformance:v1", "ok", `{"v":1}`),
			)
		}
	})
	t.Run("V2_json", func(t *testing.T) {
		srv := lpStart(t, server.Config{})
		c := srv.connect(t)
		c.post("application/json", lpMsg("1", "1", "conformance:v2", "phx_join", `{}`)).expectStatus(t, http.StatusOK)
		c.expect(lpReply("1", "1", "conformance:v2", "ok", `{}`))
	})
	t.Run("two_lines_are_not_a_batch", func(t *testing.T) {
		// Without ndjson the body is one message; two lines are not one.
		srv := lpStart(t, server.Config{})
		c := srv.connect(t)
		body := lpMsg("", "1", "phoenix", "heartbeat", `{}`) + "\n" + lpMsg("", "2", "phoenix", "heartbeat", `{}`)
		c.post("text/plain", body).expectStatus(t, http.StatusBadRequest)
	})
}

func TestLongPollMalformedBody(t *testing.T) {
	cases := []struct {
		name, contentType, body string
	}{
		{"not_json_line", "application/x-ndjson", `[not json`},
		{"wrong_shape_line", "application/x-ndjson", `["1","1","conformance:x","phx_join"]`},
		{"topic_not_a_string_line", "application/x-ndjson", `["1","1",7,"phx_join",{}]`},
		{"invalid_base64", "application/x-ndjson", `@@@not base64@@@`},
		{"base64_not_a_push", "application/x-ndjson", lpCorruptKind(lpBinaryPush("1", "2", "t", "e", []byte("p")))},
		{"base64_truncated_frame", "application/x-ndjson", "AAEB"},
		{"bad_line_after_good_ones", "application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`) + "\n{oops"},
		{"not_json_body", "application/json", `not json`},
		{"v1_object_on_v2_session", "", `{"topic":"t","event":"e","payload":{},"ref":"1"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := lpStart(t, server.Config{})
			c := srv.connect(t)
			c.post(tc.contentType, tc.body).expectStatus(t, http.StatusBadRequest) // exactly {"status":400}
			if n := srv.Stats().Malformed(); n != 1 {
				t.Fatalf("Malformed = %d, want 1", n)
			}
			if n := srv.Stats().LongPollSessions(); n != 0 {
				t.Fatalf("LongPollSessions = %d, want 0: a malformed POST ends the session", n)
			}
			c.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`)).expectStatus(t, http.StatusGone)
			next := c.expectGone() // the next GET gets a new session
			next.send(lpMsg("", "1", "phoenix", "heartbeat", `{}`))
			next.expect(lpReply("", "1", "phoenix", "ok", `{}`))
		})
	}
}

// lpCorruptKind turns a base64 kind-0 frame into kind 1, which clients
// never send.
func lpCorruptKind(b64 string) string {
	return "AQ" + b64[2:] // first byte 0x00 -> 0x01: "AA.." -> "AQ.."
}

func TestLongPollBodyTooBig(t *testing.T) {
	srv := lpStart(t, server.Config{LongPollMaxBody: 4096})
	c := srv.connect(t)
	c.join("1", "conformance:big")
	payload := `{"s":"` + strings.Repeat("x", 5000) + `"}`
	r := c.post("application/x-ndjson", lpMsg("1", "2", "conformance:big", "echo", payload))
	if r.httpStatus != http.StatusRequestEntityTooLarge {
		t.Fatalf("%s: want HTTP 413", r)
	}
	if n := srv.Stats().TooBig(); n != 1 {
		t.Fatalf("TooBig = %d, want 1", n)
	}
	// Just under the limit passes.
	payload = `{"s":"` + strings.Repeat("x", 3000) + `"}`
	c.send(lpMsg("1", "3", "conformance:big", "echo", payload))
	c.expect(lpReply("1", "3", "conformance:big", "ok", payload))
}

func TestLongPollSessionExpiry(t *testing.T) {
	const window = 200 * time.Millisecond
	terminated := make(chan string, 10)
	srv := lpStart(t, server.Config{LongPollWindow: window, Router: lpRouter(terminated)})
	c := srv.connect(t)
	c.send(lpMsg("1", "1", "lp:idle", "phx_join", `{}`))
	c.expect(lpReply("1", "1", "lp:idle", "ok", `{}`))
	lastGet := time.Now()

	select {
	case got := <-terminated:
		// At least 1.5 windows after the server saw the last GET, which
		// was a little before lastGet: half a window of slack.
		if idle := time.Since(lastGet); idle < window/2 {
			t.Fatalf("session ended %v after the last GET, want at least 1.5 windows (%v)", idle, window*3/2)
		}
		if got != "lp:idle closed" {
			t.Fatalf("Terminate(%s), want lp:idle closed", got)
		}
	case <-time.After(lpTimeout):
		t.Fatalf("the channel of an idle session did not terminate within %v", lpTimeout)
	}
	lpCheckFor(t, lpTimeout, func() error {
		if n := srv.Stats().LongPollSessions(); n != 0 {
			return fmt.Errorf("LongPollSessions = %d, want 0", n)
		}
		if n := srv.Stats().Closed()["idle_timeout"]; n != 1 {
			return fmt.Errorf("Closed()[idle_timeout] = %d, want 1", n)
		}
		return nil
	})
	c.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`)).expectStatus(t, http.StatusGone)
	c.expectGone()
}

func TestLongPollSessionKeptAliveByPolling(t *testing.T) {
	const window = 200 * time.Millisecond
	terminated := make(chan string, 10)
	srv := lpStart(t, server.Config{LongPollWindow: window, Router: lpRouter(terminated)})
	c := srv.connect(t)
	c.join("1", "lp:busy")
	start := time.Now()
	for time.Since(start) < 6*window {
		c.get().expectStatus(t, http.StatusNoContent, "token", "messages")
	}
	select {
	case got := <-terminated:
		t.Fatalf("a polling session ended: Terminate(%s)", got)
	default:
	}
	c.send(lpMsg("1", "2", "lp:busy", "echo", `{"alive":true}`))
	c.expect(lpReply("1", "2", "lp:busy", "ok", `{"alive":true}`))
}

func TestLongPollDisconnectBroadcast(t *testing.T) {
	terminated := make(chan string, 10)
	srv := lpStart(t, server.Config{
		LongPollWindow: 5 * time.Second,
		Router:         lpRouter(terminated),
		Connect: func(context.Context, *server.ConnectRequest) (server.ConnectResult, error) {
			return server.ConnectResult{ID: "user:1"}, nil
		},
	})
	c := srv.connect(t)
	c.join("1", "lp:user")

	// Other events on the id topic are ignored.
	if err := srv.Broadcast("user:1", "hello", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	c.send(lpMsg("", "hb", "phoenix", "heartbeat", `{}`))
	c.expect(lpReply("", "hb", "phoenix", "ok", `{}`))

	wait := c.asyncGet()
	time.Sleep(200 * time.Millisecond) // let the GET park
	lpWithin(t, "Disconnect", func() {
		if err := srv.Disconnect("user:1"); err != nil {
			t.Error(err)
		}
	})
	r := wait()
	r.expectStatus(t, http.StatusGone, "messages") // phoenix.js holding a token: session gone
	if r.elapsed >= 5*time.Second {
		t.Fatalf("the waiting GET returned after the window (%v), not on the disconnect", r.elapsed)
	}
	select {
	case got := <-terminated:
		if got != "lp:user closed" {
			t.Fatalf("Terminate(%s), want lp:user closed", got)
		}
	case <-time.After(lpTimeout):
		t.Fatal("the session's channel did not terminate")
	}
	c.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`)).expectStatus(t, http.StatusGone)
	c.expectGone()
	lpCheckFor(t, lpTimeout, func() error {
		if n := srv.Stats().Closed()["disconnect"]; n != 1 {
			return fmt.Errorf("Closed()[disconnect] = %d, want 1", n)
		}
		return nil
	})
}

func TestLongPollQueueBounded(t *testing.T) {
	terminated := make(chan string, 10)
	srv := lpStart(t, server.Config{OutboxBytes: 4096, Router: lpRouter(terminated)})
	c := srv.connect(t)
	c.join("1", "lp:flood")
	other := srv.connect(t) // polls nothing either, but joins nothing
	payload := []byte(`{"s":"` + strings.Repeat("x", 1000) + `"}`)
	lpWithin(t, "flooding broadcasts", func() {
		for range 20 {
			if err := srv.Broadcast("lp:flood", "flood", payload); err != nil {
				t.Error(err)
				return
			}
		}
	})
	lpCheckFor(t, lpTimeout, func() error {
		if n := srv.Stats().Closed()["slow_consumer"]; n != 1 {
			return fmt.Errorf("Closed()[slow_consumer] = %d, want 1", n)
		}
		if n := srv.Stats().LongPollSessions(); n != 1 {
			return fmt.Errorf("LongPollSessions = %d, want 1", n)
		}
		return nil
	})
	select {
	case got := <-terminated:
		if got != "lp:flood closed" {
			t.Fatalf("Terminate(%s), want lp:flood closed", got)
		}
	case <-time.After(lpTimeout):
		t.Fatal("the flooded session's channel did not terminate")
	}
	c.expectGone()
	other.send(lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	other.expect(lpReply("", "1", "phoenix", "ok", `{}`))
}

func TestLongPollQueueUnderLimitKept(t *testing.T) {
	// A queue below OutboxBytes is delivered whole, in order.
	srv := lpStart(t, server.Config{OutboxBytes: 64 << 10})
	c := srv.connect(t)
	c.join("1", "conformance:q")
	for i := range 20 {
		if err := srv.Broadcast("conformance:q", "n", []byte(`{"i":`+strconv.Itoa(i)+`}`)); err != nil {
			t.Fatal(err)
		}
	}
	want := make([]protocol.Message, 20)
	for i := range want {
		want[i] = lpBroadcast("conformance:q", "n", `{"i":`+strconv.Itoa(i)+`}`)
	}
	c.expect(want...)
}

func TestLongPollAndWebSocketShareChannels(t *testing.T) {
	srv := lpStart(t, server.Config{})
	const topic = "conformance:mixed"
	wsc := srv.dialWS(t)
	lp := srv.connect(t)

	// The same messages get the same frames on both transports.
	script := []string{
		lpMsg("1", "1", topic, "phx_join", `{"push":{"welcome":true}}`),
		lpMsg("1", "2", topic, "echo", `{"x":"y"}`),
		lpMsg("1", "3", topic, "push", `{"p":1}`),
		lpMsg("1", "4", "nowhere:x", "echo", `{}`),
	}
	var wsFrames []string
	for _, m := range script {
		wsc.send(m)
	}
	for range 6 {
		wsFrames = append(wsFrames, wsc.next())
	}
	lp.send(script...)
	lpFrames := lp.poll(6)
	// Per topic, in order: a WebSocket's channels run concurrently, so the
	// unmatched reply of nowhere:x may overtake the join of the other topic
	// (docs/protocol.md §4); so do a LongPoll session's.
	byTopic := func(frames []string) []string {
		var out []string
		for _, part := range []string{`"` + topic + `"`, `"nowhere:x"`} {
			for _, f := range frames {
				if strings.Contains(f, part) {
					out = append(out, f)
				}
			}
		}
		return out
	}
	wsFrames, lpFrames = byTopic(wsFrames), byTopic(lpFrames)
	for i := range wsFrames {
		if wsFrames[i] != lpFrames[i] {
			t.Fatalf("frame %d: WebSocket sent %s, LongPoll %s", i, wsFrames[i], lpFrames[i])
		}
	}

	// LongPoll broadcasts reach the WebSocket client, byte for byte the
	// frame the LongPoll client gets.
	lp.send(lpMsg("1", "5", topic, "broadcast", `{"from":"longpoll"}`))
	got := lp.poll(2)
	lpCompare(t, lp.ser, got[0], lpBroadcast(topic, "broadcasted", `{"from":"longpoll"}`))
	lpCompare(t, lp.ser, got[1], lpReply("1", "5", topic, "ok", `{}`))
	if f := wsc.next(); f != got[0] {
		t.Fatalf("WebSocket got %s, LongPoll %s for one broadcast", f, got[0])
	}

	// And the other way.
	wsc.send(lpMsg("1", "6", topic, "broadcast_from", `{"from":"websocket"}`))
	if f := wsc.next(); !strings.HasPrefix(f, `["1","6",`) {
		t.Fatalf("WebSocket: want the reply to ref 6 (and no second broadcast), got %s", f)
	}
	lp.expect(lpBroadcast(topic, "broadcasted", `{"from":"websocket"}`))

	// Leaving on LongPoll: reply and phx_close, as on WebSocket; the
	// WebSocket client no longer reaches it.
	lp.send(lpMsg("1", "7", topic, "phx_leave", `{}`))
	lp.expect(
		lpReply("1", "7", topic, "ok", `{}`),
		lpControl("1", topic, "phx_close", `{}`),
	)
	wsc.send(lpMsg("1", "8", topic, "broadcast", `{"after":"leave"}`))
	wsc.next()
	wsc.next()
	lp.send(lpMsg("", "hb", "phoenix", "heartbeat", `{}`))
	lp.expect(lpReply("", "hb", "phoenix", "ok", `{}`))
}

func TestLongPollShutdown(t *testing.T) {
	terminated := make(chan string, 10)
	srv := lpStart(t, server.Config{LongPollWindow: 5 * time.Second, Router: lpRouter(terminated)})
	c := srv.connect(t)
	c.join("1", "lp:down")
	srv.connect(t) // a session without channels ends too
	wait := c.asyncGet()
	time.Sleep(200 * time.Millisecond) // let the GET park

	ctx, cancel := context.WithTimeout(context.Background(), lpTimeout)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	r := wait()
	r.expectStatus(t, http.StatusGone, "messages")
	if r.elapsed >= 5*time.Second {
		t.Fatalf("the waiting GET returned after the window (%v), not on shutdown", r.elapsed)
	}
	select {
	case got := <-terminated:
		if got != "lp:down closed" {
			t.Fatalf("Terminate(%s), want lp:down closed", got)
		}
	default:
		t.Fatal("Shutdown returned before the session's channel terminated")
	}
	if n := srv.Stats().LongPollSessions(); n != 0 {
		t.Fatalf("LongPollSessions = %d after Shutdown, want 0", n)
	}
	if n := srv.Connections(); n != 0 {
		t.Fatalf("Connections = %d after Shutdown, want 0", n)
	}
	if n := srv.Stats().Closed()["shutdown"]; n != 2 {
		t.Fatalf("Closed()[shutdown] = %d, want 2", n)
	}
	// A draining server makes no new sessions.
	srv.do(t, http.MethodGet, "vsn=2.0.0", nil, nil).expectStatus(t, http.StatusForbidden)
}

func TestLongPollDisconnectWhileConnecting(t *testing.T) {
	// A "disconnect" for a socket id may arrive while a session for it is
	// being made: the session must end cleanly, never linger or crash.
	srv := lpStart(t, server.Config{Connect: func(context.Context, *server.ConnectRequest) (server.ConnectResult, error) {
		return server.ConnectResult{ID: "user:race"}, nil
	}})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				_ = srv.Disconnect("user:race")
				runtime.Gosched() // let the connects run on one core too
			}
		}
	}()
	for range 50 {
		srv.do(t, http.MethodGet, "vsn=2.0.0", nil, nil).expectStatus(t, http.StatusGone, "token", "messages")
	}
	close(stop)
	<-done
	lpWithin(t, "Disconnect", func() { _ = srv.Disconnect("user:race") })
	lpCheckFor(t, lpTimeout, func() error {
		if n, c := srv.Stats().LongPollSessions(), srv.Connections(); n != 0 || c != 0 {
			return fmt.Errorf("LongPollSessions = %d, Connections = %d; want 0, 0", n, c)
		}
		return nil
	})
}
