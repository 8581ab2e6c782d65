package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/server"
)

// TestConsoleServesPageAndClient checks the page and its bundled phoenix.js
// are served.
func TestConsoleServesPageAndClient(t *testing.T) {
	srv := httptest.NewServer(consoleHandler())
	defer srv.Close()
	for path, want := range map[string]string{
		"/":            `<script type="module" src="console.js">`,
		"/console.js":  `from "./phoenix.mjs"`,
		"/phoenix.mjs": "var Socket = class",
	} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("GET %s: status %d, body does not contain %q", path, resp.StatusCode, want)
		}
	}
	resp, err := http.Get(srv.URL + "/favicon.ico")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("GET /favicon.ico: %d, want 204 (browsers ask for it; a 404 is a console error)", resp.StatusCode)
	}
}

// TestConsolePhoenixIsCurrent checks the embedded phoenix.mjs is the pinned
// npm package's build (make console-assets refreshes it).
func TestConsolePhoenixIsCurrent(t *testing.T) {
	npm, err := os.ReadFile("../../js-client-tests/node_modules/phoenix/priv/static/phoenix.mjs")
	if errors.Is(err, fs.ErrNotExist) {
		if os.Getenv("CI") == "true" {
			t.Fatal("js-client-tests/node_modules is missing in CI: run make npm")
		}
		t.Skip("SKIPPED: js-client-tests/node_modules not installed; run `make npm` to check the embedded phoenix.mjs")
	}
	if err != nil {
		t.Fatal(err)
	}
	embedded, err := consoleFiles.ReadFile("console/phoenix.mjs")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(npm, embedded) {
		t.Fatal("cmd/fawkes/console/phoenix.mjs differs from the npm package: run make console-assets")
	}
}

// consoleNode serves the console as run mounts it, for cfg and env.
func consoleNode(t *testing.T, env map[string]string, args ...string) (*httptest.Server, *exposure) {
	t.Helper()
	getenv := func(k string) string { return env[k] }
	cfg, err := parseConfig(args, getenv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	exposed, err := newExposure(cfg, getenv)
	if err != nil {
		t.Fatal(err)
	}
	connect, err := connectPolicy(cfg, getenv)
	if err != nil {
		t.Fatal(err)
	}
	ps := pubsub.NewLocal()
	svc := events.New(events.Config{PubSub: ps, HeartbeatInterval: events.HeartbeatOff})
	router := channels.NewRouter()
	router.Handle(events.TopicPrefix+"*", svc.Factory())
	ep := server.New(server.Config{Router: router, PubSub: ps, Connect: connect})
	mux := http.NewServeMux()
	mux.Handle("/socket/", ep)
	(&console{cfg: cfg, exposure: exposed, connect: connect, endpoint: ep, events: svc, started: time.Now()}).mount(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, exposed
}

func getWith(t *testing.T, url, bearer string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestConsoleExposure checks who gets the console and its figures: anyone
// on loopback; on a public address nobody unless --console on, and then
// the figures only with the ingress's credentials (or --ingress open).
func TestConsoleExposure(t *testing.T) {
	const tok = "ingress-secret"
	for _, tc := range []struct {
		name          string
		env           map[string]string
		args          []string
		page          int
		stats         int // without credentials
		statsWithTok  int
		consoleWarned bool
	}{
		{"loopback: everything", nil, []string{"--addr", "127.0.0.1:4000"}, 200, 200, 200, false},
		{"loopback, --console off", nil, []string{"--addr", "127.0.0.1:4000", "--console", "off"}, 404, 404, 404, false},
		{"public, the default: off", map[string]string{ingressTokenEnv: tok}, []string{"--addr", ":4000"}, 404, 404, 404, false},
		{"public, --console on: figures need the token", map[string]string{ingressTokenEnv: tok}, []string{"--addr", ":4000", "--console", "on"}, 200, 401, 200, true},
		{"public, --console on, no credentials anywhere", nil, []string{"--addr", ":4000", "--console", "on"}, 200, 401, 401, true},
		{"public, --console on, --ingress open", nil, []string{"--addr", ":4000", "--console", "on", "--ingress", "open"}, 200, 200, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv, exposed := consoleNode(t, tc.env, tc.args...)
			if status, body := get(t, srv.URL+"/"); status != tc.page {
				t.Errorf("GET /: %d, want %d: %s", status, tc.page, body)
			} else if status == 404 && !strings.Contains(body, "--console") {
				t.Errorf("GET / 404 does not name the setting: %q", body)
			}
			if status, body := getWith(t, srv.URL+"/console/stats", ""); status != tc.stats {
				t.Errorf("stats without credentials: %d, want %d: %s", status, tc.stats, body)
			} else if status == 401 && !strings.Contains(body, `"reason":"unauthorized"`) {
				t.Errorf("401 body %s", body)
			}
			if status, _ := getWith(t, srv.URL+"/console/stats", tok); status != tc.statsWithTok {
				t.Errorf("stats with the ingress token: %d, want %d", status, tc.statsWithTok)
			}
			warned := false
			for _, w := range exposed.warnings {
				warned = warned || w.setting == "console"
			}
			if warned != tc.consoleWarned {
				t.Errorf("console warning %v, want %v: %v", warned, tc.consoleWarned, exposed.warnings)
			}
		})
	}
}

// TestConsoleStatsCountConnectionsRoomsAndMessages checks the figures move
// with traffic.
func TestConsoleStatsCountConnectionsRoomsAndMessages(t *testing.T) {
	srv, _ := consoleNode(t, nil, "--addr", "127.0.0.1:4000")
	stats := func() consoleStats {
		_, body := get(t, srv.URL+"/console/stats")
		var s consoleStats
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		return s
	}
	before := stats()
	if before.Connections["websocket"] != 0 || before.Rooms != 0 || before.Nodes != nil || before.PubSub != "memory" || before.Version != buildVersion() {
		t.Fatalf("idle: %+v", before)
	}
	a, b := dialWS(t, srv.URL), dialWS(t, srv.URL)
	a.join("events:one", `{}`)
	b.join("events:two", `{}`)
	a.send(`["1","2","events:one","ping",{}]`)
	a.mustRead()
	a.mustRead()
	var after consoleStats
	checkFor(t, 2*time.Second, "the figures", func() bool {
		after = stats()
		return after.Connections["websocket"] == 2 && after.Rooms == 2 && after.Received-before.Received >= 3
	})
	if after.Sent-before.Sent < 4 || after.Time <= before.Time {
		t.Errorf("before %+v after %+v", before, after)
	}
}

// TestConsoleCheckSaysWhyASocketIsRefused checks /console/check answers
// what a connect would get, with the reason.
func TestConsoleCheckSaysWhyASocketIsRefused(t *testing.T) {
	srv, _ := consoleNode(t, map[string]string{secretKeyBaseEnv: specSecret},
		"--addr", "127.0.0.1:4000", "--auth", "phoenix-token", "--token-max-age", "infinity", "--check-origin", "https://app.example")
	for _, tc := range []struct{ query, bearer, want string }{
		{"", "", `{"auth":"phoenix-token","ok":false,"reason":"token missing"}`},
		{"", "junk", `{"auth":"phoenix-token","ok":false,"reason":"token invalid"}`},
		{"", tokenUser42, `{"auth":"phoenix-token","ok":true}`},
		{"?origin=https://app.example", tokenUser42, `{"auth":"phoenix-token","ok":true}`},
		{"?origin=http://127.0.0.1:4000", tokenUser42, `{"auth":"phoenix-token","ok":false,"reason":"origin http://127.0.0.1:4000 is not allowed by --check-origin"}`},
	} {
		if status, body := getWith(t, srv.URL+"/console/check"+tc.query, tc.bearer); status != 200 || strings.TrimSpace(body) != tc.want {
			t.Errorf("check%s with %q: %d %s, want %s", tc.query, tc.bearer, status, body, tc.want)
		}
	}
}
