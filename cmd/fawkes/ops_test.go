package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

const validCE = `{"specversion":"1.0","id":"m-1","source":"/t","type":"com.example.a","data":{"n":1}}`

func TestMetricsMoveWithTraffic(t *testing.T) {
	n := newNode(t, defaultConfig(t), "", io.Discard)
	before := scrape(t, n.srv.URL)
	for _, name := range []string{
		`fawkes_connections{transport="websocket"}`, `fawkes_connections{transport="longpoll"}`,
		`fawkes_connections_closed_total{reason="slow_consumer"}`, `fawkes_connections_closed_total{reason="idle_timeout"}`,
		`fawkes_errors_total{reason="invalid_cloudevent"}`, `fawkes_messages_received_total{transport="longpoll"}`,
		`fawkes_joins_total{status="ok"}`, `fawkes_outbox_bytes`, `fawkes_broadcasts_total`, `fawkes_broadcast_deliveries_total`,
		`fawkes_ingress_requests_total{code="202"}`, `fawkes_join_duration_seconds_count`, `fawkes_broadcast_fanout_duration_seconds_count`,
	} {
		if _, ok := before[name]; !ok {
			t.Errorf("series %s missing before any traffic", name)
		}
	}
	for name := range before {
		if !strings.HasPrefix(name, "fawkes_") && !strings.HasPrefix(name, "go_") && !strings.HasPrefix(name, "process_") {
			t.Errorf("metric %s is not named fawkes_...", name)
		}
	}

	a, b := dialWS(t, n.srv.URL), dialWS(t, n.srv.URL)
	a.join("events:room", `{}`)
	b.join("events:room", `{"event_types":["com.example.*"]}`)
	a.send(`["1","2","events:room","cloudevent",` + validCE + `]`)
	if got := b.mustRead(); got != `[null,null,"events:room","cloudevent",`+validCE+`]` {
		t.Fatalf("b got %s", got)
	}
	a.mustRead() // the ok reply
	a.send(`["1","3","events:room","cloudevent",{"specversion":"1.0"}]`)
	a.mustRead() // error push
	a.mustRead() // error reply
	if status, body := post(t, n.srv.URL+"/events/room", map[string]string{"Content-Type": "application/cloudevents+json"}, strings.Replace(validCE, "m-1", "m-2", 1)); status != 202 {
		t.Fatalf("ingress: %d %s", status, body)
	}
	a.mustRead()
	b.mustRead()
	if status, _ := post(t, n.srv.URL+"/events/room", map[string]string{"Content-Type": "application/cloudevents+json"}, `{}`); status != 400 {
		t.Fatalf("invalid event: %d", status)
	}
	put, _ := http.NewRequest(http.MethodPut, n.srv.URL+"/events/room", strings.NewReader(validCE))
	if resp, err := http.DefaultClient.Do(put); err != nil || resp.StatusCode != 405 {
		t.Fatalf("PUT: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	bad := dialWS(t, n.srv.URL)
	bad.send(`not a phoenix message`)
	if code := bad.AwaitClose(); code != 1011 {
		t.Fatalf("malformed message closed with %d", code)
	}
	var after series
	checkFor(t, 2*time.Second, "the malformed connection to end", func() bool {
		after = scrape(t, n.srv.URL)
		return after[`fawkes_connections_closed_total{reason="malformed_message"}`] == 1
	})
	delta := func(name string) float64 { return after[name] - before[name] }
	for name, want := range map[string]float64{
		`fawkes_joins_total{status="ok"}`:                       2,
		`fawkes_join_duration_seconds_count`:                    2,
		`fawkes_broadcasts_total`:                               2,
		`fawkes_broadcast_deliveries_total`:                     3, // b for a's event; a and b for the posted one
		`fawkes_broadcast_fanout_duration_seconds_count`:        2,
		`fawkes_errors_total{reason="invalid_cloudevent"}`:      1,
		`fawkes_errors_total{reason="malformed_message"}`:       1,
		`fawkes_ingress_requests_total{code="202"}`:             1,
		`fawkes_ingress_requests_total{code="400"}`:             1,
		`fawkes_ingress_requests_total{code="405"}`:             1,
		`fawkes_messages_received_total{transport="websocket"}`: 4,
	} {
		if got := delta(name); got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
	if got := after[`fawkes_channels{prefix="events:"}`]; got != 2 {
		t.Errorf(`fawkes_channels{prefix="events:"} = %v, want 2`, got)
	}
	if got := after[`fawkes_connections{transport="websocket"}`]; got != 2 {
		t.Errorf(`fawkes_connections{transport="websocket"} = %v, want 2`, got)
	}
	if got := delta(`fawkes_messages_sent_total{transport="websocket"}`); got < 8 {
		t.Errorf("messages sent moved by %v, want at least the 8 frames the clients read", got)
	}

	a.send(`["1","4","events:room","phx_leave",{}]`)
	checkFor(t, 2*time.Second, "the channels gauge to drop", func() bool {
		return scrape(t, n.srv.URL)[`fawkes_channels{prefix="events:"}`] == 1
	})
}

// unreachable is a PubSub whose broker is down.
type unreachable struct{ *pubsub.Local }

func (unreachable) Ping(context.Context) error { return errors.New("connection refused") }

func TestReadyz(t *testing.T) {
	cfg := defaultConfig(t)
	ep := server.New(server.Config{})
	o := &ops{cfg: cfg, log: zerolog.Nop(), endpoint: ep, pubsub: pubsub.NewLocal(), metrics: newMetrics()}
	check := func(want int, wantBody string) {
		t.Helper()
		rec := httptest.NewRecorder()
		o.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
		if rec.Code != want || !strings.Contains(rec.Body.String(), wantBody) {
			t.Fatalf("readyz: %d %q, want %d %q", rec.Code, rec.Body.String(), want, wantBody)
		}
	}
	check(503, "not listening yet")
	o.listening.Store(true)
	check(200, "ready")
	o.pubsub = unreachable{pubsub.NewLocal()}
	check(503, "pub/sub unreachable: connection refused")
}

func TestShutdownDrainsWith1012AndFinishesInFlightIngress(t *testing.T) {
	n := newNode(t, defaultConfig(t, "--shutdown-grace", "5s"), "", io.Discard)
	if status, body := get(t, n.srv.URL+"/readyz"); status != 200 {
		t.Fatalf("readyz before: %d %s", status, body)
	}
	var clients []*wsClient
	for range 3 {
		c := dialWS(t, n.srv.URL)
		c.join("events:lobby", `{}`)
		clients = append(clients, c)
	}
	// An ingress request in flight: headers sent, body not finished.
	pr, pw := io.Pipe()
	req, _ := http.NewRequest(http.MethodPost, n.srv.URL+"/events/lobby", pr)
	req.Header.Set("Content-Type", "application/cloudevents+json")
	type answer struct {
		status int
		body   string
	}
	answered := make(chan answer, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			answered <- answer{0, err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		answered <- answer{resp.StatusCode, string(b)}
	}()
	_, _ = pw.Write([]byte(validCE[:20]))
	time.Sleep(50 * time.Millisecond) // let the handler start reading the body

	done := make(chan error, 1)
	go func() { done <- n.ops.shutdown(n.srv.Config) }()
	for i, c := range clients {
		if code := c.AwaitClose(); code != 1012 {
			t.Fatalf("client %d closed with %d, want 1012", i, code)
		}
	}
	rec := httptest.NewRecorder()
	n.ops.readyz(rec, httptest.NewRequest("GET", "/readyz", nil))
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "draining") {
		t.Fatalf("readyz while draining: %d %s", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	n.ops.instrumentIngress(http.NotFoundHandler()).ServeHTTP(rec, httptest.NewRequest("POST", "/events/lobby", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a new ingress request while draining: %d", rec.Code)
	}
	select {
	case err := <-done:
		t.Fatalf("shutdown returned (%v) with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	_, _ = pw.Write([]byte(validCE[20:]))
	_ = pw.Close()
	if a := <-answered; a.status != 202 {
		t.Fatalf("in-flight request: %d %s", a.status, a.body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not return")
	}
}

func TestShutdownPastGraceIsAnError(t *testing.T) {
	n := newNode(t, defaultConfig(t, "--shutdown-grace", "100ms"), "", io.Discard)
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() {
		req, _ := http.NewRequest(http.MethodPost, n.srv.URL+"/events/lobby", pr)
		req.Header.Set("Content-Type", "application/cloudevents+json")
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	_, _ = pw.Write([]byte("{"))
	time.Sleep(50 * time.Millisecond)
	err := n.ops.shutdown(n.srv.Config)
	if err == nil || !strings.Contains(err.Error(), "--shutdown-grace") {
		t.Fatalf("got %v, want an error naming --shutdown-grace", err)
	}
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		var m map[string]any
		if json.Unmarshal(sc.Bytes(), &m) == nil {
			m["_raw"] = sc.Text()
			out = append(out, m)
		}
	}
	return out
}

func TestAccessLogOneLinePerConnectionNoPayloadsAndRateLimitedWarnings(t *testing.T) {
	logs := &syncBuffer{}
	n := newNode(t, defaultConfig(t), "", logs)
	const secret = "s3cr3t-payload"
	a := dialWS(t, n.srv.URL)
	a.join("events:room", `{"note":"`+secret+`"}`)
	ev := strings.Replace(validCE, `{"n":1}`, `"`+secret+`"`, 1)
	a.send(`["1","2","events:room","cloudevent",` + ev + `]`)
	a.mustRead()
	if status, _ := post(t, n.srv.URL+"/events/room", map[string]string{"Content-Type": "application/cloudevents+json"}, ev); status != 202 {
		t.Fatal("ingress")
	}
	a.mustRead()
	a.Close()

	const storm = 25
	for range storm {
		c := dialWS(t, n.srv.URL)
		c.send(`{"` + secret + `"`)
		c.AwaitClose()
	}
	var closed, malformed []map[string]any
	checkFor(t, 3*time.Second, "every access line", func() bool {
		closed, malformed = nil, nil
		for _, l := range logs.lines() {
			switch l["message"] {
			case "connection closed":
				closed = append(closed, l)
			case "malformed message; closing":
				malformed = append(malformed, l)
			}
		}
		return len(closed) == storm+1
	})
	for _, l := range logs.lines() {
		if lvl, _ := l["level"].(string); lvl != "debug" && strings.Contains(l["_raw"].(string), secret) {
			t.Errorf("a payload in a %s line: %s", lvl, l["_raw"])
		}
	}
	var first map[string]any
	for _, l := range closed {
		if l["close_reason"] == "client_closed" {
			first = l
		}
	}
	if first == nil {
		t.Fatal("no access line for the connection the client closed")
	}
	// close_code is there only when a close frame was exchanged. This
	// client sends its close frame and drops the connection at once, so the
	// server's echo of it (a frame counted in messages_out) may or may not
	// go out before the socket is gone.
	for _, f := range []string{"transport", "vsn", "remote", "duration_ms", "close_reason", "messages_in", "messages_out", "socket_id"} {
		if _, ok := first[f]; !ok {
			t.Errorf("access line without %s: %s", f, first["_raw"])
		}
	}
	if out := first["messages_out"]; first["messages_in"] != 2.0 || out != 3.0 && out != 4.0 {
		t.Errorf("access line of the first connection: %s; want 2 in, 3 out (4 with the close echo)", first["_raw"])
	}
	if len(malformed) == 0 || len(malformed) >= storm {
		t.Errorf("%d 'malformed message' warnings for %d malformed connections: want them rate-limited", len(malformed), storm)
	}
}

func TestPprofOnItsOwnListener(t *testing.T) {
	addr, stop, err := startPprof("127.0.0.1:0", zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if status, body := get(t, "http://"+addr+"/debug/pprof/"); status != 200 || !strings.Contains(body, "goroutine") {
		t.Fatalf("pprof index: %d", status)
	}
	n := newNode(t, defaultConfig(t), "", io.Discard)
	if status, _ := get(t, n.srv.URL+"/debug/pprof/"); status == 200 {
		t.Fatal("pprof is served on the main listener")
	}
}

func TestLongPollSessionsAndMessagesInMetrics(t *testing.T) {
	n := newNode(t, defaultConfig(t), "", io.Discard)
	before := scrape(t, n.srv.URL)
	lp := n.srv.URL + "/socket/longpoll?vsn=2.0.0"
	var first struct {
		Status int
		Token  string
	}
	_, body := get(t, lp)
	if json.Unmarshal([]byte(body), &first) != nil || first.Status != 410 || first.Token == "" {
		t.Fatalf("first GET: %s", body)
	}
	status, body := post(t, lp+"&token="+first.Token, map[string]string{"Content-Type": "application/json"}, `["1","1","events:lp","phx_join",{}]`)
	if status != 200 || !strings.Contains(body, `"status":200`) {
		t.Fatalf("POST: %d %s", status, body)
	}
	_, body = get(t, lp+"&token="+first.Token)
	if !strings.Contains(body, "phx_reply") {
		t.Fatalf("poll: %s", body)
	}
	after := scrape(t, n.srv.URL)
	if got := after[`fawkes_connections{transport="longpoll"}`]; got != 1 {
		t.Errorf(`fawkes_connections{transport="longpoll"} = %v, want 1`, got)
	}
	for name, want := range map[string]float64{
		`fawkes_messages_received_total{transport="longpoll"}`: 1,
		`fawkes_messages_sent_total{transport="longpoll"}`:     1,
		`fawkes_joins_total{status="ok"}`:                      1,
	} {
		if got := after[name] - before[name]; got != want {
			t.Errorf("%s moved by %v, want %v", name, got, want)
		}
	}
}
