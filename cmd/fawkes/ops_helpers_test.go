package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

// node is the binary's wiring (run) in process, on an httptest server.
type node struct {
	t        *testing.T
	ops      *ops
	endpoint *server.Endpoint
	srv      *httptest.Server
}

// newNode wires a node as run does; logs go to logw.
func newNode(t *testing.T, cfg *config, ingressToken string, logw io.Writer) *node {
	t.Helper()
	log := zerolog.New(logw)
	ps := pubsub.NewLocal()
	m := newMetrics()
	ps.Observe = m.published
	router := channels.NewRouter()
	svc := events.New(events.Config{PubSub: ps, HeartbeatInterval: events.HeartbeatOff, Rejected: m.rejectedMessage, Logger: &log})
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	ep := server.New(server.Config{Router: router, PubSub: ps, Logger: &log, Hooks: m.hooks(), DrainInterval: 10 * time.Millisecond})
	mux := http.NewServeMux()
	mux.Handle("/socket/", ep)
	m.observeEndpoint(ep)
	o := &ops{cfg: cfg, log: log, endpoint: ep, pubsub: ps, metrics: m}
	o.mount(mux, svc, ingressToken)
	n := &node{t: t, ops: o, endpoint: ep, srv: httptest.NewServer(mux)}
	o.listening.Store(true)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ep.Shutdown(ctx)
		n.srv.Close()
	})
	return n
}

func defaultConfig(t *testing.T, args ...string) *config {
	t.Helper()
	cfg, err := parseConfig(args, func(string) string { return "" }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// wsClient is a Phoenix V2 client over a real WebSocket.
type wsClient struct {
	t    *testing.T
	conn net.Conn
}

func dialWS(t *testing.T, baseURL string) *wsClient {
	t.Helper()
	url := "ws" + strings.TrimPrefix(baseURL, "http") + "/socket/websocket?vsn=2.0.0"
	conn, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wsClient{t: t, conn: conn}
}

func (c *wsClient) send(text string) {
	c.t.Helper()
	if err := wsutil.WriteClientText(c.conn, []byte(text)); err != nil {
		c.t.Fatal(err)
	}
}

// closedError is the server's close frame.
type closedError struct{ code ws.StatusCode }

func (e closedError) Error() string { return "closed with " + strconv.Itoa(int(e.code)) }

// read returns the next data frame, or a closedError. (wsutil's readers
// refuse close codes they do not know, 1012 among them.)
func (c *wsClient) read() (string, error) {
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(c.conn)
		if err != nil {
			return "", err
		}
		if h.Length > 1<<20 {
			return "", errors.New("frame over 1 MiB")
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(c.conn, payload); err != nil {
			return "", err
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			return string(payload), nil
		case ws.OpClose:
			code, _ := ws.ParseCloseFrameData(payload)
			return "", closedError{code}
		}
	}
}

func (c *wsClient) mustRead() string {
	c.t.Helper()
	s, err := c.read()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return s
}

// join joins topic and checks the ok reply.
func (c *wsClient) join(topic, payload string) {
	c.t.Helper()
	c.send(`["1","1",` + jsonString(topic) + `,"phx_join",` + payload + `]`)
	if got := c.mustRead(); !strings.Contains(got, `"status":"ok"`) {
		c.t.Fatalf("join %s: %s", topic, got)
	}
}

// closeCode reads until the server closes, and returns the close code.
func (c *wsClient) closeCode() ws.StatusCode {
	c.t.Helper()
	for {
		_, err := c.read()
		var closed closedError
		if errors.As(err, &closed) {
			return closed.code
		}
		if err != nil {
			c.t.Fatalf("connection ended without a close frame: %v", err)
		}
	}
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// post sends body to url with headers; it returns status and body.
func post(t *testing.T, url string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// series is a scrape: "name{label="value",...}" -> value, labels sorted
// by name as the exposition writes them.
type series map[string]float64

// scrape parses GET url/metrics with expfmt.
func scrape(t *testing.T, baseURL string) series {
	t.Helper()
	status, body := get(t, baseURL+"/metrics")
	if status != 200 {
		t.Fatalf("/metrics: %d", status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v", err)
	}
	out := series{}
	for name, f := range families {
		for _, m := range f.GetMetric() {
			key := name
			if len(m.GetLabel()) > 0 {
				var parts []string
				for _, l := range m.GetLabel() {
					parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(parts, ",") + "}"
			}
			switch {
			case m.GetCounter() != nil:
				out[key] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[key] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[key+"_count"] = float64(m.GetHistogram().GetSampleCount())
			case m.GetUntyped() != nil:
				out[key] = m.GetUntyped().GetValue()
			}
		}
	}
	return out
}

// checkFor polls cond until it holds or d passes.
func checkFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
