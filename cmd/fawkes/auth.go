package main

import (
	"fmt"
	"slices"
	"time"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
	"github.com/fawkes-rt/fawkes/server/tokenauth"
)

// Assign keys the connect policies set and the join policies read.
const (
	assignTokenData = tokenauth.AssignData // the verified Phoenix.Token data
	assignRooms     = "rooms"              // []string: rooms the token names
)

// secretKeyBaseEnv holds the Phoenix secret_key_base. It is read from the
// environment only, so that it never shows in a process listing.
const secretKeyBaseEnv = "FAWKES_SECRET_KEY_BASE"

// tokenMaxAge is the --token-max-age flag: a duration, "infinity", or 0 for
// the max age embedded in the token.
type tokenMaxAge time.Duration

func (m *tokenMaxAge) String() string {
	switch d := time.Duration(*m); d {
	case phxtoken.Infinity:
		return "infinity"
	case 0:
		return "0"
	default:
		return d.String()
	}
}

func (m *tokenMaxAge) Set(s string) error {
	if s == "infinity" {
		*m = tokenMaxAge(phxtoken.Infinity)
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want a duration such as 24h, 0 (the token's own max age) or infinity")
	}
	*m = tokenMaxAge(d)
	return nil
}

// connectPolicy returns the connect hook of --auth: nil for "none"; for
// "phoenix-token", the library's tokenauth.ConnectHook (a valid
// Phoenix.Token in the authToken or the "token" connect param; the token's
// data is the socket id), whose assigns add the rooms the token names.
func connectPolicy(cfg *config, getenv func(string) string) (server.ConnectFunc, error) {
	switch cfg.Auth {
	case "none":
		return nil, nil
	case "phoenix-token":
	default:
		return nil, fmt.Errorf("--auth %q: want none or phoenix-token", cfg.Auth)
	}
	secret := getenv(secretKeyBaseEnv)
	if secret == "" {
		return nil, fmt.Errorf("--auth phoenix-token needs %s (the Phoenix app's secret_key_base)", secretKeyBaseEnv)
	}
	verifier, err := phxtoken.NewVerifier(secret, cfg.TokenSalt, phxtoken.Config{})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", secretKeyBaseEnv, err)
	}
	maxAge := time.Duration(cfg.TokenMaxAge)
	return tokenauth.ConnectHook(tokenauth.Config{Verifier: verifier, MaxAge: maxAge, Identify: func(data any) (server.ConnectResult, error) {
		id, rooms := tokenIdentity(data)
		return server.ConnectResult{ID: id, Assigns: map[string]any{assignTokenData: data, assignRooms: rooms}}, nil
	}}), nil
}

// tokenFailure names why a token was refused, for logs (never the token).
func tokenFailure(err error) string { return tokenauth.Failure(err) }

// tokenIdentity reads the socket id and rooms from a token's data: the id
// as tokenauth.ID reads it (a string or an integer, or a map's "id" or
// "user_id"), and the rooms from a map's "rooms" (a list of strings).
func tokenIdentity(data any) (id string, rooms []string) {
	if m, ok := data.(map[any]any); ok {
		if list, ok := m["rooms"].([]any); ok {
			for _, r := range list {
				if s, ok := r.(string); ok {
					rooms = append(rooms, s)
				}
			}
		}
	}
	return tokenauth.ID(data), rooms
}

// joinPolicy returns the events channel's join authorization of
// --join-policy: nil (everyone may join every room) for "open"; for
// "token-rooms", only rooms the connection's token names (lobby included).
func joinPolicy(name string) (func(events.JoinRequest) error, error) {
	switch name {
	case "open":
		return nil, nil
	case "token-rooms":
		return func(req events.JoinRequest) error {
			rooms, _ := req.Conn.Assigns[assignRooms].([]string)
			if slices.Contains(rooms, req.Room) {
				return nil
			}
			return events.Refuse(events.ReasonUnauthorized)
		}, nil
	}
	return nil, fmt.Errorf("--join-policy %q: want open or token-rooms", name)
}
