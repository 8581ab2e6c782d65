package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
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

// wsClient is a servertest client whose reads take the frames in order,
// as their exact text.
type wsClient struct {
	*servertest.Client
	t *testing.T
}

// dialWS connects to the socket at baseURL+"/socket" (V2, with params as
// key, value pairs).
func dialWS(t *testing.T, baseURL string, params ...string) *wsClient {
	t.Helper()
	return &wsClient{Client: servertest.Dial(t, baseURL+"/socket", servertest.Params(params...)), t: t}
}

// send sends text as one text frame.
func (c *wsClient) send(text string) {
	c.t.Helper()
	c.SendText([]byte(text))
}

// mustRead returns the next frame the server sent, as its text.
func (c *wsClient) mustRead() string {
	c.t.Helper()
	return string(c.Next().Raw)
}

// join joins topic and checks the ok reply.
func (c *wsClient) join(topic, payload string) {
	c.t.Helper()
	c.Join(topic, payload)
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
