package main

import (
	"context"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/server"
)

// consoleFiles is the live console page served at /. phoenix.mjs is the npm
// package's own build, copied by `make console-assets` from
// js-client-tests/node_modules (a test checks the copy is current).
//
//go:embed console
var consoleFiles embed.FS

// consoleMode is the --console setting: where the operator console at /
// and its JSON endpoints are served.
type consoleMode string

const (
	// consoleAuto serves the console on a loopback --addr only: on a
	// public address it would hand a publish form and the server's
	// figures to anyone who reaches the port.
	consoleAuto consoleMode = "auto"
	// consoleOn serves it on every address; /console/stats then asks for
	// what POST /events/{room} asks for (exposure.go).
	consoleOn consoleMode = "on"
	// consoleOff serves nothing at /.
	consoleOff consoleMode = "off"
)

// consoleUsage is the --console line of --help.
const consoleUsage = "the operator console at / (live counts, a rate chart, presence, a CloudEvents form): `mode` auto (served on a loopback --addr only), on (on every address; its figures, /console/stats, need what POST /events/{room} needs there: see --ingress), or off"

// String implements flag.Value; the zero value is auto.
func (m *consoleMode) String() string {
	if *m == "" {
		return string(consoleAuto)
	}
	return string(*m)
}

// Set implements flag.Value.
func (m *consoleMode) Set(s string) error {
	switch consoleMode(s) {
	case consoleAuto, consoleOn, consoleOff:
		*m = consoleMode(s)
		return nil
	}
	return errors.New("want auto, on or off")
}

// consoleServed reports whether --console serves the console on --addr.
func consoleServed(mode consoleMode, public bool) bool {
	return mode == consoleOn || (mode == consoleAuto || mode == "") && !public
}

// consoleHandler serves the console page and its assets. The page has no
// icon: /favicon.ico answers 204, so browsers log no error for it.
func consoleHandler() http.Handler {
	sub, _ := fs.Sub(consoleFiles, "console") // "console" is embedded above
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			w.Header().Set("Cache-Control", "max-age=86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// console is the operator console: the page, and the two small JSON
// endpoints it reads.
//
//	GET /console/stats  this node's figures (consoleStats), for whoever may
//	                    publish through the ingress (exposure.go)
//	GET /console/check  what a socket connect with the page's origin and
//	                    token would get, so that the page can show why it is
//	                    refused instead of retrying against 403
type console struct {
	cfg      *config
	exposure *exposure
	// connect is the --auth connect hook (nil: anyone may connect).
	connect  server.ConnectFunc
	endpoint *server.Endpoint
	events   *events.Service
	redis    *redis.PubSub // nil with --pubsub memory
	started  time.Time
}

// mount adds the console to mux as --console says; turned off, / answers
// 404 with the setting that turns it on.
func (c *console) mount(mux *http.ServeMux) {
	if !consoleServed(c.cfg.Console, c.exposure.public) {
		mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			msg := "404 page not found\n"
			if r.URL.Path == "/" {
				msg = "The console is off on this address: --console " + c.cfg.Console.String() + " (--console on serves it on a public address).\n"
			}
			http.Error(w, msg, http.StatusNotFound)
		})
		return
	}
	mux.Handle("/", consoleHandler())
	mux.HandleFunc("GET /console/stats", c.serveStats)
	mux.HandleFunc("GET /console/check", c.serveCheck)
}

// consoleStats is the answer of GET /console/stats: one node's figures.
// Counters only grow; the page turns them into rates.
type consoleStats struct {
	Version     string         `json:"version"`
	Node        string         `json:"node"`
	UptimeS     int64          `json:"uptime_s"`
	Auth        string         `json:"auth"`
	Presence    bool           `json:"presence"`
	PubSub      string         `json:"pubsub"`
	Draining    bool           `json:"draining"`
	Connections map[string]int `json:"connections"`
	// Rooms counts the events rooms with members on this node.
	Rooms int `json:"rooms"`
	// Nodes counts the live nodes of the cluster (nil with --pubsub memory,
	// or when Redis did not answer).
	Nodes    *int64  `json:"nodes"`
	RedisUp  *bool   `json:"redis_up,omitempty"`
	Received int64   `json:"messages_received"`
	Sent     int64   `json:"messages_sent"`
	Time     float64 `json:"time"` // Unix seconds, for rates
}

// stats collects the figures of GET /console/stats.
func (c *console) stats(ctx context.Context) consoleStats {
	st := c.endpoint.Stats()
	s := consoleStats{
		Version:     buildVersion(),
		UptimeS:     int64(time.Since(c.started) / time.Second),
		Auth:        c.cfg.Auth,
		Presence:    c.cfg.Presence,
		PubSub:      c.cfg.PubSub,
		Draining:    c.endpoint.Draining(),
		Connections: map[string]int{string(server.TransportWebSocket): int(st.Connections()), string(server.TransportLongPoll): int(st.LongPollSessions())},
		Rooms:       len(c.events.Topics()),
		Time:        float64(time.Now().UnixMilli()) / 1000,
	}
	for _, t := range transports {
		in, out := st.Messages(t)
		s.Received += in
		s.Sent += out
	}
	if c.redis == nil {
		s.Node, _ = os.Hostname()
		return s
	}
	s.Node = c.redis.NodeID()
	up := c.redis.Stats().Up
	s.RedisUp = &up
	if up {
		// The member set of channels/pubsub/redis (nodes.go: "<prefix>:nodes").
		ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		defer cancel()
		if n, err := c.redis.Client().SCard(ctx, c.redis.Key("nodes")).Result(); err == nil {
			s.Nodes = &n
		}
	}
	return s
}

func (c *console) serveStats(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if msg := c.refuseStats(r); msg != "" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"reason": "unauthorized", "message": msg})
		return
	}
	writeJSON(w, http.StatusOK, c.stats(r.Context()))
}

// refuseStats says why r may not read the figures, or "": they are for
// whoever may publish through the ingress, by the same rules.
func (c *console) refuseStats(r *http.Request) string {
	access := c.exposure.ingress
	if access.anonymous {
		return ""
	}
	token, ok := ingress.BearerToken(r)
	if ok && access.token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(access.token)) == 1 {
		return ""
	}
	if ok && c.connect != nil {
		if _, err := c.connect(r.Context(), &server.ConnectRequest{Params: map[string]string{"token": token}, Header: r.Header, RemoteAddr: r.RemoteAddr, URI: r.URL, Transport: "console"}); err == nil {
			return ""
		}
	}
	switch {
	case access.token == "" && c.connect == nil:
		return "the figures need credentials on a public address and none are configured: set " + ingressTokenEnv + " or --auth phoenix-token (or --ingress open)"
	case !ok:
		return "a token is required: the ingress token or a Phoenix.Token (Authorization: Bearer)"
	}
	return "the token was refused"
}

// serveCheck answers what a socket connect from the page would get:
// {"ok":true}, or {"ok":false,"reason":...} for an origin --check-origin
// refuses or a token --auth refuses ("retry":true while draining). The
// page sends its origin as the "origin" parameter and its token as a
// bearer. It tells no more than a refused connect attempt would, plus the
// reason the server logs (token missing, expired or invalid).
func (c *console) serveCheck(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	answer := map[string]any{"ok": true, "auth": c.cfg.Auth}
	if origin := r.URL.Query().Get("origin"); origin != "" && c.cfg.CheckOrigin != "off" {
		if allow, err := server.AllowOrigins(strings.Split(c.cfg.CheckOrigin, ",")); err == nil && !allow(origin) {
			answer["ok"], answer["reason"] = false, "origin "+origin+" is not allowed by --check-origin"
		}
	}
	if c.connect != nil && answer["ok"] == true {
		token, _ := ingress.BearerToken(r)
		_, err := c.connect(r.Context(), &server.ConnectRequest{Params: map[string]string{"token": token}, Header: r.Header, RemoteAddr: r.RemoteAddr, URI: r.URL, Transport: "console"})
		var refusal *server.Refusal
		switch {
		case errors.As(err, &refusal):
			answer["ok"], answer["reason"] = false, refusal.Reason
		case err != nil:
			answer["ok"], answer["reason"] = false, "refused"
		}
	}
	if c.endpoint.Draining() {
		// Not a refusal: another node, or this one restarted, will take it.
		answer["ok"], answer["reason"], answer["retry"] = false, "the server is shutting down", true
	}
	writeJSON(w, http.StatusOK, answer)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
