package main

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// miniServer is a small Phoenix Channels server written for these tests:
// V2 JSON over WebSocket and LongPoll, heartbeats, and a "conformance:*"
// channel with join (options "push" and "refuse"), leave, echo, push and
// stop. Without flaws it passes the cases of miniCases; each flaw is one
// mistake a server author could make, which the catalogue must catch.
type miniServer struct {
	flaws
	idle   time.Duration
	window time.Duration

	mu       sync.Mutex
	sessions map[string]*lpSession
}

// flaws are deliberate protocol mistakes. The zero value is none.
type flaws struct {
	heartbeatTopic      string // heartbeat replies on this topic instead of "phoenix"
	stampMessageJoinRef bool   // replies carry the message's join_ref, not the channel's
	idleClose           int    // idle timeout close code instead of 1002
	noSubprotocol       bool   // never selects "phoenix"
	keepStale           bool   // handles messages with a stale join_ref
	unmatchedJoinRef    bool   // "unmatched topic" replies echo the join_ref
	closeRefNull        bool   // phx_close carries a null ref
	malformedClose      int    // close code for malformed input instead of 1011
	lpHTTPStatus        bool   // LongPoll answers with the status as the HTTP status
	lpNoCORS            bool   // LongPoll answers lack access-control-allow-origin
}

// startMini serves a miniServer on a loopback port and returns its socket
// URL.
func startMini(t *testing.T, f flaws) string {
	t.Helper()
	s := &miniServer{flaws: f, idle: time.Second, window: time.Second, sessions: map[string]*lpSession{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/socket/websocket", s.websocket)
	mux.HandleFunc("/socket/longpoll", s.longpoll)
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	return hs.URL + "/socket"
}

// miniConn is one client's channels, whichever the transport.
type miniConn struct {
	s        *miniServer
	out      func(msg []any)
	channels map[string]any // topic -> stored join_ref
}

func miniReply(joinRef, ref any, topic, status string, response any) []any {
	return []any{joinRef, ref, topic, "phx_reply", map[string]any{"status": status, "response": response}}
}

func empty() map[string]any { return map[string]any{} }

// dispatch handles one message by the rules of docs/protocol.md §4.
func (c *miniConn) dispatch(m []any) {
	joinRef, ref := m[0], m[1]
	topic, _ := m[2].(string)
	event, _ := m[3].(string)
	payload, _ := m[4].(map[string]any)
	if topic == "phoenix" && event == "heartbeat" {
		t := "phoenix"
		if c.s.heartbeatTopic != "" {
			t = c.s.heartbeatTopic
		}
		c.out(miniReply(nil, ref, t, "ok", empty()))
		return
	}
	stored, joined := c.channels[topic]
	unmatched := func() {
		var jr any
		if c.s.unmatchedJoinRef {
			jr = joinRef
		}
		c.out(miniReply(jr, ref, topic, "error", map[string]any{"reason": "unmatched topic"}))
	}
	stamp := stored
	if c.s.stampMessageJoinRef {
		stamp = joinRef
	}
	closeFrame := func() {
		var r any = stored
		if c.s.closeRefNull {
			r = nil
		}
		c.out([]any{stored, r, topic, "phx_close", empty()})
		delete(c.channels, topic)
	}
	switch {
	case event == "phx_join":
		if !strings.HasPrefix(topic, "conformance:") {
			unmatched()
			return
		}
		if refusal, ok := payload["refuse"]; ok {
			c.out(miniReply(joinRef, ref, topic, "error", refusal))
			return
		}
		c.channels[topic] = joinRef
		c.out(miniReply(joinRef, ref, topic, "ok", empty()))
		if p, ok := payload["push"]; ok {
			c.out([]any{joinRef, nil, topic, "after_join", p})
		}
	case event == "phx_leave" && !joined:
		c.out(miniReply(joinRef, ref, topic, "ok", empty()))
	case !joined:
		unmatched()
	case joinRef != nil && !reflect.DeepEqual(joinRef, stored) && !c.s.keepStale:
		// stale: dropped
	case event == "phx_leave":
		c.out(miniReply(stamp, ref, topic, "ok", empty()))
		closeFrame()
	case event == "echo":
		c.out(miniReply(stamp, ref, topic, "ok", m[4]))
	case event == "push":
		c.out([]any{stored, nil, topic, "pushed", m[4]})
		c.out(miniReply(stamp, ref, topic, "ok", empty()))
	case event == "stop":
		c.out(miniReply(stamp, ref, topic, "ok", empty()))
		closeFrame()
	default:
		c.out(miniReply(stamp, ref, topic, "error", map[string]any{"reason": "unknown event"}))
	}
}

// decode reads a V2 client frame: an array of at least five elements.
func miniDecode(data []byte) ([]any, bool) {
	var m []any
	if json.Unmarshal(data, &m) != nil || len(m) < 5 {
		return nil, false
	}
	if _, ok := m[2].(string); !ok {
		return nil, false
	}
	return m, true
}

func v2(r *http.Request) bool { return strings.HasPrefix(r.URL.Query().Get("vsn"), "2.0.") }

func (s *miniServer) websocket(w http.ResponseWriter, r *http.Request) {
	if !v2(r) {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	// gobwas/ws on the server side: this is a Phoenix server, not a client.
	up := ws.HTTPUpgrader{Protocol: func(p string) bool { return !s.noSubprotocol && p == "phoenix" }}
	nc, _, _, err := up.Upgrade(r, w)
	if err != nil {
		return
	}
	defer nc.Close()
	closeWith := func(code int) {
		_ = ws.WriteFrame(nc, ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusCode(code), "")))
	}
	c := &miniConn{s: s, channels: map[string]any{}, out: func(m []any) {
		b, _ := json.Marshal(m)
		_ = wsutil.WriteServerText(nc, b)
	}}
	for {
		_ = nc.SetReadDeadline(time.Now().Add(s.idle))
		data, op, err := wsutil.ReadClientData(nc)
		var ne net.Error
		switch {
		case errors.As(err, &ne) && ne.Timeout():
			closeWith(orDefault(s.idleClose, 1002))
			return
		case err != nil:
			return
		}
		m, ok := miniDecode(data)
		if op != ws.OpText || !ok {
			closeWith(orDefault(s.malformedClose, 1011))
			return
		}
		c.dispatch(m)
	}
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// lpSession is a LongPoll session: its channels and the frames waiting for
// a poll.
type lpSession struct {
	dmu    sync.Mutex // one dispatch at a time, as on a WebSocket
	mu     sync.Mutex
	conn   *miniConn
	queue  []string
	notify chan struct{}
}

func (s *miniServer) longpoll(w http.ResponseWriter, r *http.Request) {
	if !s.lpNoCORS {
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	answer := func(body map[string]any) {
		if status, _ := body["status"].(int); s.lpHTTPStatus && status != http.StatusOK {
			w.WriteHeader(status)
		}
		_ = json.NewEncoder(w).Encode(body)
	}
	token := r.Header.Get("X-Phoenix-Longpoll-Token")
	if vs := r.URL.Query()["token"]; token == "" && len(vs) > 0 {
		token = vs[len(vs)-1]
	}
	s.mu.Lock()
	sess := s.sessions[token]
	s.mu.Unlock()
	switch {
	case !v2(r):
		answer(map[string]any{"status": http.StatusForbidden})
	case r.Method == http.MethodGet && sess == nil:
		token = rand.Text()
		sess = &lpSession{notify: make(chan struct{}, 1)}
		sess.conn = &miniConn{s: s, channels: map[string]any{}, out: func(m []any) {
			b, _ := json.Marshal(m)
			sess.mu.Lock()
			sess.queue = append(sess.queue, string(b))
			sess.mu.Unlock()
			select {
			case sess.notify <- struct{}{}:
			default:
			}
		}}
		s.mu.Lock()
		s.sessions[token] = sess
		s.mu.Unlock()
		answer(map[string]any{"status": http.StatusGone, "token": token, "messages": []string{}})
	case r.Method == http.MethodGet:
		deadline := time.After(s.window)
		for {
			sess.mu.Lock()
			msgs := sess.queue
			sess.queue = nil
			sess.mu.Unlock()
			if len(msgs) > 0 {
				answer(map[string]any{"status": http.StatusOK, "token": token, "messages": msgs})
				return
			}
			select {
			case <-sess.notify:
			case <-deadline:
				answer(map[string]any{"status": http.StatusNoContent, "token": token, "messages": []string{}})
				return
			}
		}
	case r.Method == http.MethodPost && sess == nil:
		answer(map[string]any{"status": http.StatusGone})
	case r.Method == http.MethodPost:
		var body strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := r.Body.Read(buf)
			body.Write(buf[:n])
			if err != nil {
				break
			}
		}
		for _, line := range strings.Split(body.String(), "\n") {
			if m, ok := miniDecode([]byte(line)); ok {
				sess.dmu.Lock()
				sess.conn.dispatch(m)
				sess.dmu.Unlock()
			}
		}
		answer(map[string]any{"status": http.StatusOK})
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}
