package ingress_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// historyServer is an ingress with a history of e1..e5 in room "r".
func historyServer(t *testing.T, cfg ingress.Config, history events.History) *httptest.Server {
	t.Helper()
	svc := events.New(events.Config{PubSub: pubsub.NewLocal(), HeartbeatInterval: events.HeartbeatOff, History: history})
	for n := 1; n <= 5; n++ {
		ev := `{"specversion":"1.0", "id":"e` + strconv.Itoa(n) + `","source":"/s","type":"t"}`
		if err := svc.Broadcast("r", []byte(ev)); err != nil {
			t.Fatal(err)
		}
	}
	cfg.Events, cfg.History = svc, svc
	mux := http.NewServeMux()
	mux.Handle("/events/{room}", ingress.New(cfg))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url, token string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(body)
}

func ev(n int) string {
	return `{"specversion":"1.0", "id":"e` + strconv.Itoa(n) + `","source":"/s","type":"t"}`
}

func TestHistoryGET(t *testing.T) {
	srv := historyServer(t, ingress.Config{Anonymous: true}, events.NewMemoryHistory(events.HistoryConfig{}))
	for _, tt := range []struct {
		query  string
		status int
		body   string
		link   string
	}{
		{"", 200, "[" + ev(1) + "," + ev(2) + "," + ev(3) + "," + ev(4) + "," + ev(5) + "]", ""},
		{"?after=e3", 200, "[" + ev(4) + "," + ev(5) + "]", ""},
		{"?after=e5", 200, "[]", ""},
		{"?after=e1&limit=2", 200, "[" + ev(2) + "," + ev(3) + "]", `</events/r?after=e3&limit=2>; rel="next"`},
		{"?limit=1000", 200, "[" + ev(1) + "," + ev(2) + "," + ev(3) + "," + ev(4) + "," + ev(5) + "]", ""},
		{"?after=nope", 404, `{"reason":"unknown_event","message":"no event \"nope\" in the history of r: it expired, was pushed out, or never was"}`, ""},
		{"?limit=0", 400, `{"reason":"invalid_limit","message":"limit must be an integer from 1 to 1000"}`, ""},
		{"?limit=1001", 400, `{"reason":"invalid_limit","message":"limit must be an integer from 1 to 1000"}`, ""},
		{"?limit=x", 400, `{"reason":"invalid_limit","message":"limit must be an integer from 1 to 1000"}`, ""},
		{"?after=", 400, `{"reason":"invalid_after","message":"after must be the id of an event, 1 to 256 bytes"}`, ""},
		{"?after=" + strings.Repeat("a", 257), 400, `{"reason":"invalid_after","message":"after must be the id of an event, 1 to 256 bytes"}`, ""},
	} {
		status, h, body := get(t, srv.URL+"/events/r"+tt.query, "")
		if status != tt.status || strings.TrimSpace(body) != tt.body || h.Get("Link") != tt.link {
			t.Errorf("GET %s: %d %s (Link %q)\nwant %d %s (Link %q)", tt.query, status, body, h.Get("Link"), tt.status, tt.body, tt.link)
		}
		if status == 200 && h.Get("Content-Type") != "application/cloudevents-batch+json" {
			t.Errorf("GET %s: Content-Type %q", tt.query, h.Get("Content-Type"))
		}
	}
	if status, _, body := get(t, srv.URL+"/events/empty", ""); status != 200 || body != "[]" {
		t.Errorf("a room without events: %d %s", status, body)
	}
}

func TestHistoryGETNeedsTheIngressCredentials(t *testing.T) {
	srv := historyServer(t, ingress.Config{Token: "secret"}, events.NewMemoryHistory(events.HistoryConfig{}))
	if status, h, _ := get(t, srv.URL+"/events/r", ""); status != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("without the token: %d", status)
	}
	if status, _, _ := get(t, srv.URL+"/events/r", "wrong"); status != 401 {
		t.Errorf("with a wrong token: %d", status)
	}
	if status, _, _ := get(t, srv.URL+"/events/r", "secret"); status != 200 {
		t.Errorf("with the token: %d", status)
	}
	forbidden := historyServer(t, ingress.Config{Authorize: func(r *http.Request, room string) error {
		return &ingress.Refusal{Status: http.StatusForbidden, Message: "not your room"}
	}}, events.NewMemoryHistory(events.HistoryConfig{}))
	if status, _, body := get(t, forbidden.URL+"/events/r", ""); status != 403 || !strings.Contains(body, "not your room") {
		t.Errorf("refused by Authorize: %d %s", status, body)
	}
}

func TestHistoryGETWithoutHistory(t *testing.T) {
	off := historyServer(t, ingress.Config{Anonymous: true}, nil)
	if status, _, body := get(t, off.URL+"/events/r", ""); status != 404 || !strings.Contains(body, "history_off") {
		t.Errorf("history off: %d %s", status, body)
	}
	mux := http.NewServeMux()
	mux.Handle("/events/{room}", ingress.New(ingress.Config{Anonymous: true, Events: events.New(events.Config{})}))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if status, h, _ := get(t, srv.URL+"/events/r", ""); status != 405 || h.Get("Allow") != "POST" {
		t.Errorf("without Config.History: %d, Allow %q", status, h.Get("Allow"))
	}
	req, _ := http.NewRequest(http.MethodDelete, off.URL+"/events/r", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 || resp.Header.Get("Allow") != "GET, POST" {
		t.Errorf("DELETE: %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

type failingHistory struct{ events.History }

func (failingHistory) Since(context.Context, string, string, int) (events.Page, error) {
	return events.Page{}, errors.New("redis down")
}

func TestHistoryGETWhenTheHistoryFails(t *testing.T) {
	srv := historyServer(t, ingress.Config{Anonymous: true}, failingHistory{events.NewMemoryHistory(events.HistoryConfig{})})
	if status, _, body := get(t, srv.URL+"/events/r", ""); status != 503 || strings.Contains(body, "redis") {
		t.Errorf("failing history: %d %s (the cause is logged, not sent)", status, body)
	}
}
