package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

func TestIsLoopbackAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:4000": true,
		"127.0.0.2:0":    true,
		"[::1]:4000":     true,
		"localhost:4000": true,
		":4000":          false,
		"0.0.0.0:4000":   false,
		"[::]:4000":      false,
		"192.0.2.1:4000": false,
		"no port":        false,
	} {
		if got := isLoopbackAddr(addr); got != want {
			t.Errorf("isLoopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestExposure: who may publish, and the warnings, for each combination of
// address, credentials and --ingress.
func TestExposure(t *testing.T) {
	const originList = "https://app.example"
	for _, tc := range []struct {
		name      string
		args      []string
		env       map[string]string
		anonymous bool
		token     bool
		phoenix   bool
		warnings  []string // settings named
		err       string
	}{
		{name: "make run: loopback, nothing configured", args: []string{"--addr", "127.0.0.1:4000"}, anonymous: true},
		{name: "localhost", args: []string{"--addr", "localhost:4000"}, anonymous: true},
		{name: "the defaults: every interface", args: nil, warnings: []string{"check-origin", "auth", "ingress"}},
		{name: "public with the ingress token", env: map[string]string{ingressTokenEnv: "tok"}, token: true, warnings: []string{"check-origin", "auth"}},
		{name: "public, opened", args: []string{"--ingress", "open"}, anonymous: true, warnings: []string{"check-origin", "auth", "ingress"}},
		{name: "loopback, opened", args: []string{"--addr", "127.0.0.1:4000", "--ingress", "open"}, anonymous: true},
		{name: "loopback with a token: the token is required", args: []string{"--addr", "127.0.0.1:4000"}, env: map[string]string{ingressTokenEnv: "tok"}, token: true},
		{name: "loopback, --ingress token", args: []string{"--addr", "127.0.0.1:4000", "--ingress", "token"}, env: map[string]string{ingressTokenEnv: "tok"}, token: true},
		{name: "--ingress token without credentials", args: []string{"--addr", "127.0.0.1:4000", "--ingress", "token"}, err: "--ingress token needs FAWKES_INGRESS_TOKEN or --auth phoenix-token"},
		{name: "public, phoenix-token and origins: every protection on", args: []string{"--auth", "phoenix-token", "--check-origin", originList}, env: map[string]string{secretKeyBaseEnv: specSecret}, phoenix: true},
		{name: "loopback, phoenix-token: the ingress wants a token too", args: []string{"--addr", "127.0.0.1:4000", "--auth", "phoenix-token"}, env: map[string]string{secretKeyBaseEnv: specSecret}, phoenix: true},
		{name: "both credentials", args: []string{"--auth", "phoenix-token", "--check-origin", originList}, env: map[string]string{secretKeyBaseEnv: specSecret, ingressTokenEnv: "tok"}, token: true, phoenix: true},
		{name: "pprof on every interface, even with a loopback --addr", args: []string{"--addr", "127.0.0.1:4000", "--pprof", ":6060"}, anonymous: true, warnings: []string{"pprof"}},
		{name: "pprof on loopback", args: []string{"--addr", "127.0.0.1:4000", "--pprof", "127.0.0.1:6060"}, anonymous: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			getenv := func(k string) string { return tc.env[k] }
			cfg, err := parseConfig(tc.args, getenv, io.Discard)
			if err != nil && tc.err != "" { // checked at start (configerr.go): exit 2
				if err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			e, err := newExposure(cfg, getenv)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := []bool{e.ingress.anonymous, e.ingress.token != "", e.ingress.authorize != nil}
			if want := []bool{tc.anonymous, tc.token, tc.phoenix}; !slices.Equal(got, want) {
				t.Errorf("anonymous, token, phoenix-token = %v, want %v", got, want)
			}
			var settings []string
			for _, w := range e.warnings {
				settings = append(settings, w.setting)
			}
			if diff := cmp.Diff(tc.warnings, settings); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIngressPhoenixToken: with --auth phoenix-token the ingress takes a
// Phoenix.Token bearer with the rights of a socket: the same verification,
// and the rooms --join-policy token-rooms lets it join.
func TestIngressPhoenixToken(t *testing.T) {
	cfg := tokenConfig(t, "--join-policy", "token-rooms", "--token-max-age", "1h")
	authorize, err := phoenixTokenPublisher(cfg, specEnv)
	if err != nil {
		t.Fatal(err)
	}
	v, err := phxtoken.NewVerifier(specSecret, "user socket", phxtoken.Config{})
	if err != nil {
		t.Fatal(err)
	}
	sign := func(data any, at time.Time) string {
		tok, err := v.Sign(data, at, 0)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	orders := sign(map[string]any{"id": "u1", "rooms": []any{"orders"}}, time.Time{})
	old := sign(map[string]any{"id": "u1", "rooms": []any{"orders"}}, time.Now().Add(-2*time.Hour))
	for _, tc := range []struct {
		name, auth, room string
		status           int // 0: accepted
		message          string
	}{
		{"a room the token names", "Bearer " + orders, "orders", 0, ""},
		{"another room", "Bearer " + orders, "other", http.StatusForbidden, "the token does not allow this room (--join-policy token-rooms)"},
		{"older than --token-max-age", "Bearer " + old, "orders", http.StatusUnauthorized, "token expired"},
		{"tampered", "Bearer " + orders[:len(orders)-2] + "AA", "orders", http.StatusUnauthorized, "token invalid"},
		{"no bearer", "", "orders", http.StatusUnauthorized, "a bearer token is required (Authorization: Bearer <token>): the ingress token or a Phoenix.Token"},
	} {
		r := httptest.NewRequest(http.MethodPost, "/events/"+tc.room, nil)
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		err := authorize(r, tc.room)
		if tc.status == 0 {
			if err != nil {
				t.Errorf("%s: refused: %v", tc.name, err)
			}
			continue
		}
		refusal, ok := err.(*ingress.Refusal)
		if !ok || refusal.Message != tc.message || max(refusal.Status, http.StatusUnauthorized) != tc.status {
			t.Errorf("%s: %#v, want %d %q", tc.name, err, tc.status, tc.message)
		}
	}
}

// TestProcessIngressSafeOnAPublicAddress runs the binary on every interface
// (--addr :0) and on loopback: without credentials the public node refuses
// to publish and says why, at start and in the answer; opened, it
// publishes and warns; on loopback it publishes without a word.
func TestProcessIngressSafeOnAPublicAddress(t *testing.T) {
	const ce = `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.a"}`
	for _, tc := range []struct {
		name     string
		args     []string
		status   int
		body     string
		warnings []string
	}{
		{"public, nothing configured", []string{"--addr", ":0"}, 401,
			`{"reason":"unauthorized","message":"this ingress takes no events: no credentials are configured on the server"}`,
			[]string{"check-origin", "auth", "ingress"}},
		{"public, --ingress open", []string{"--addr", ":0", "--ingress", "open"}, 202, `{"ids":["1"]}`,
			[]string{"check-origin", "auth", "ingress"}},
		{"loopback", nil, 202, `{"ids":["1"]}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := startFawkes(t, nil, append([]string{"--heartbeat-interval", "0"}, tc.args...)...)
			// A listener on every interface answers on loopback too.
			url := "http://127.0.0.1" + p.url[strings.LastIndexByte(p.url, ':'):] + "/events/lobby"
			resp, err := http.Post(url, "application/cloudevents+json", strings.NewReader(ce))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || strings.TrimSpace(string(body)) != tc.body {
				t.Errorf("POST: %d %s, want %d %s", resp.StatusCode, body, tc.status, tc.body)
			}
			// Logged before "fawkes listening", which startFawkes waited for.
			var warned []string
			for _, l := range p.logs.lines() {
				setting, _ := l["setting"].(string)
				if l["level"] != "warn" || setting == "" {
					continue
				}
				warned = append(warned, setting)
				if msg, _ := l["message"].(string); len(msg) < 40 {
					t.Errorf("warning for %s says too little: %q", setting, msg)
				}
			}
			if diff := cmp.Diff(tc.warnings, warned); diff != "" {
				t.Errorf("warnings at start (-want +got):\n%s", diff)
			}
		})
	}
}
