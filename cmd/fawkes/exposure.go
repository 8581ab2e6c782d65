package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

// Safe defaults on a public address (issue 16): what the server lets an
// anonymous party do depends on whether --addr reaches beyond loopback.
// On loopback (make run) everything stays open, as a developer expects; on
// any other address the HTTP ingress wants credentials unless the operator
// opens it with --ingress open, and every protection left off is named in
// a warning at start.

// ingressMode is the --ingress setting: who may POST /events/{room}.
type ingressMode string

const (
	// ingressAuto: credentials when any are configured (the ingress token,
	// a Phoenix.Token with --auth phoenix-token); with none, anonymous
	// publishing on a loopback --addr only, and none on a public one.
	ingressAuto ingressMode = "auto"
	// ingressToken: credentials always, even on loopback.
	ingressToken ingressMode = "token"
	// ingressOpen: anyone who reaches the port, credentials or not.
	ingressOpen ingressMode = "open"
)

// ingressUsage is the --ingress line of --help.
const ingressUsage = "who may POST /events/{room}: `mode` auto (the ingress token or, with --auth phoenix-token, a Phoenix.Token; with neither, anyone on a loopback --addr and no one on a public one), token (credentials even on loopback) or open (anyone)"

// String implements flag.Value; the zero value is auto.
func (m *ingressMode) String() string {
	if *m == "" {
		return string(ingressAuto)
	}
	return string(*m)
}

// Set implements flag.Value.
func (m *ingressMode) Set(s string) error {
	switch ingressMode(s) {
	case ingressAuto, ingressToken, ingressOpen:
		*m = ingressMode(s)
		return nil
	}
	return errors.New("want auto, token or open")
}

// exposure is what the server lets anonymous parties do on its listen
// address: who may publish through the ingress, and the protections left
// off, each with the warning to log at start.
type exposure struct {
	public   bool          // --addr reaches beyond loopback
	ingress  ingressAccess // who may POST /events/{room}
	warnings []warning
}

// warning is a protection left off on a public address.
type warning struct {
	setting string // the flag or variable that would turn it on
	message string
}

// ingressAccess is who may publish through the ingress.
type ingressAccess struct {
	token     string                                   // FAWKES_INGRESS_TOKEN
	authorize func(r *http.Request, room string) error // a Phoenix.Token bearer (--auth phoenix-token)
	anonymous bool
}

// apply sets the credentials of an ingress.Config.
func (a *ingressAccess) apply(c *ingress.Config) {
	c.Token, c.Authorize, c.Anonymous = a.token, a.authorize, a.anonymous
}

// newExposure decides who may publish through the ingress for cfg and
// lists the protections that are off on a public address. It fails for
// --ingress token without any credentials configured.
func newExposure(cfg *config, getenv func(string) string) (*exposure, error) {
	e := &exposure{public: !isLoopbackAddr(cfg.Addr)}
	e.ingress.token = getenv(ingressTokenEnv)
	if cfg.Auth == "phoenix-token" {
		authorize, err := phoenixTokenPublisher(cfg, getenv)
		if err != nil {
			return nil, err
		}
		e.ingress.authorize = authorize
	}
	credentials := e.ingress.token != "" || e.ingress.authorize != nil
	switch cfg.Ingress {
	case ingressOpen:
		e.ingress.anonymous = true
	case ingressToken:
		if !credentials {
			return nil, fmt.Errorf("--ingress token needs %s or --auth phoenix-token", ingressTokenEnv)
		}
	default:
		e.ingress.anonymous = !credentials && !e.public
	}
	if cfg.Pprof != "" && !isLoopbackAddr(cfg.Pprof) {
		e.warn("pprof", "pprof serves profiles and the command line to anyone who reaches --pprof "+cfg.Pprof+"; give it a loopback address such as 127.0.0.1:6060")
	}
	if !e.public {
		return e, nil
	}
	if cfg.CheckOrigin == "off" {
		e.warn("check-origin", "the origin check is off: a page on any web site can open sockets here from its visitors' browsers; set --check-origin to the origins of your pages")
	}
	if cfg.Auth == "none" {
		e.warn("auth", "anyone who reaches this address can connect and join every room; set --auth phoenix-token to require a Phoenix.Token")
	}
	if cfg.Console == consoleOn {
		figures := "its figures (/console/stats) need the ingress's credentials"
		if e.ingress.anonymous {
			figures = "and so are its figures (/console/stats)"
		}
		e.warn("console", "the console at / (a publish form) is served to anyone who reaches this address, "+figures+"; --console auto serves it on loopback only")
	}
	switch {
	case e.ingress.anonymous:
		e.warn("ingress", "anyone who reaches this address can publish to every room with POST /events/{room}; set "+ingressTokenEnv+" or --auth phoenix-token, and --ingress auto")
	case !credentials:
		e.warn("ingress", "POST /events/{room} refuses every request (401): no credentials are configured on a public address; set "+ingressTokenEnv+", or --auth phoenix-token, or --ingress open to let anyone publish")
	}
	return e, nil
}

func (e *exposure) warn(setting, message string) {
	e.warnings = append(e.warnings, warning{setting, message})
}

// logWarnings logs one warning per protection that is off.
func (e *exposure) logWarnings(log zerolog.Logger, addr string) {
	for _, w := range e.warnings {
		log.Warn().Str("addr", addr).Str("setting", w.setting).Msg(w.message)
	}
}

// isLoopbackAddr reports whether a listen address (host:port) listens on a
// loopback address only. It resolves the host as net.Listen does (the
// first address, IPv4 first); an empty or unspecified host ("", 0.0.0.0,
// [::]) listens on every interface, and an address that does not resolve
// is taken as public.
func isLoopbackAddr(addr string) bool {
	a, err := net.ResolveTCPAddr("tcp", addr)
	return err == nil && a.IP != nil && a.IP.IsLoopback()
}

// phoenixTokenPublisher returns the ingress's Authorize hook for --auth
// phoenix-token: a Phoenix.Token bearer that would let a socket connect
// (same secret, salt and max age) may publish to the rooms that socket
// could join (--join-policy).
func phoenixTokenPublisher(cfg *config, getenv func(string) string) (func(*http.Request, string) error, error) {
	secret := getenv(secretKeyBaseEnv)
	if secret == "" {
		return nil, fmt.Errorf("--auth phoenix-token needs %s (the Phoenix app's secret_key_base)", secretKeyBaseEnv)
	}
	verifier, err := phxtoken.NewVerifier(secret, cfg.TokenSalt, phxtoken.Config{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", secretKeyBaseEnv, err)
	}
	var opts []phxtoken.VerifyOption
	if cfg.TokenMaxAge != 0 {
		opts = append(opts, phxtoken.WithMaxAge(time.Duration(cfg.TokenMaxAge)))
	}
	join, err := joinPolicy(cfg.JoinPolicy)
	if err != nil {
		return nil, err
	}
	return func(r *http.Request, room string) error {
		token, ok := ingress.BearerToken(r)
		if !ok {
			return &ingress.Refusal{Message: "a bearer token is required (Authorization: Bearer <token>): the ingress token or a Phoenix.Token"}
		}
		data, err := verifier.Verify(token, opts...)
		if err != nil {
			// The reason only: tokens are credentials and never logged.
			return &ingress.Refusal{Message: tokenFailure(err)}
		}
		if join == nil {
			return nil
		}
		id, rooms := tokenIdentity(data)
		conn := &channels.Conn{ID: id, Assigns: map[string]any{assignTokenData: data, assignRooms: rooms}, Transport: "http"}
		if join(events.JoinRequest{Topic: events.TopicPrefix + room, Room: room, Payload: []byte("{}"), Conn: conn}) != nil {
			return &ingress.Refusal{Status: http.StatusForbidden, Message: "the token does not allow this room (--join-policy " + cfg.JoinPolicy + ")"}
		}
		return nil
	}, nil
}
