package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/server"
)

// The spec's Phoenix.Token vectors (secret_key_base "abcdefgh" x 8, salt
// "user socket"); all expired unless verified with max_age infinity.
const (
	specSecret      = "abcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefghabcdefgh"
	tokenUser42     = "SFMyNTY.g2gDbQAAAAd1c2VyOjQybgYAAGjlz4sBYgABUYA.WmSMerRggmj2qSPGLa6lPsfc52fbn49MjIm13KtAchE"
	tokenInt123456  = "SFMyNTY.g2gDYgAB4kBuBgAAaOXPiwFiAAFRgA.zZGVe5G6pGFKAkgNeD8dFcwJUZfukfIVBto0lYXqNkk"
	tokenNilOTP25   = "SFMyNTY.g2gDZAADbmlsbgYAAGjlz4sBYgABUYA.bPPt0_7q0HS6wIEuj1XdUHiFcy0wixmJdzlJL-fv3jc"
	tokenUser42Flip = "SFMyNTY.g2gDbQAAAAd1c2VyOjQzbgYAAGjlz4sBYgABUYA.WmSMerRggmj2qSPGLa6lPsfc52fbn49MjIm13KtAchE"
)

func tokenConfig(t *testing.T, args ...string) *config {
	t.Helper()
	cfg, err := parseConfig(append([]string{"--auth", "phoenix-token"}, args...), specEnv, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func specEnv(name string) string {
	if name == secretKeyBaseEnv {
		return specSecret
	}
	return ""
}

func TestPhoenixTokenPolicy(t *testing.T) {
	connect, err := connectPolicy(tokenConfig(t, "--token-max-age", "infinity"), specEnv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		req     server.ConnectRequest
		wantID  string
		refused string
	}{
		{"token param", server.ConnectRequest{Params: map[string]string{"token": tokenUser42}}, "user:42", ""},
		{"authToken wins over the param", server.ConnectRequest{Params: map[string]string{"token": "junk"}, AuthToken: tokenInt123456, HasAuthToken: true}, "123456", ""},
		{"nil data is anonymous", server.ConnectRequest{Params: map[string]string{"token": tokenNilOTP25}}, "", ""},
		{"tampered", server.ConnectRequest{Params: map[string]string{"token": tokenUser42Flip}}, "", "token invalid"},
		{"missing", server.ConnectRequest{Params: map[string]string{}}, "", "token missing"},
		{"garbage", server.ConnectRequest{Params: map[string]string{"token": "abc"}}, "", "token invalid"},
	} {
		res, err := connect(context.Background(), &tc.req)
		if tc.refused != "" {
			var ref *server.Refusal
			if !errors.As(err, &ref) || ref.Status != http.StatusForbidden || ref.Reason != tc.refused {
				t.Errorf("%s: got %v, want a 403 refusal %q", tc.name, err, tc.refused)
			}
			if err != nil && strings.Contains(err.Error(), "SFMyNTY") {
				t.Errorf("%s: the refusal leaks the token: %v", tc.name, err)
			}
			continue
		}
		if err != nil || res.ID != tc.wantID {
			t.Errorf("%s: got id %q, err %v; want %q", tc.name, res.ID, err, tc.wantID)
		}
	}
}

func TestPhoenixTokenExpiredWithDefaultMaxAge(t *testing.T) {
	connect, err := connectPolicy(tokenConfig(t), specEnv)
	if err != nil {
		t.Fatal(err)
	}
	_, err = connect(context.Background(), &server.ConnectRequest{Params: map[string]string{"token": tokenUser42}})
	var ref *server.Refusal
	if !errors.As(err, &ref) || ref.Reason != "token expired" {
		t.Fatalf("got %v, want the 2023 token refused as expired", err)
	}
}

func TestPhoenixTokenNeedsSecret(t *testing.T) {
	_, err := connectPolicy(tokenConfig(t), func(string) string { return "" })
	if err == nil || !strings.Contains(err.Error(), secretKeyBaseEnv) {
		t.Fatalf("got %v, want an error naming %s", err, secretKeyBaseEnv)
	}
}

func TestTokenIdentityFromMap(t *testing.T) {
	id, rooms := tokenIdentity(map[any]any{"user_id": int64(7), "rooms": []any{"a", "b", int64(3)}})
	if id != "7" || strings.Join(rooms, ",") != "a,b" {
		t.Fatalf("got %q %q", id, rooms)
	}
}

func TestTokenRoomsJoinPolicy(t *testing.T) {
	authorize, err := joinPolicy("token-rooms")
	if err != nil {
		t.Fatal(err)
	}
	conn := &channels.Conn{Assigns: map[string]any{assignRooms: []string{"sales"}}}
	if err := authorize(events.JoinRequest{Topic: "events:sales", Room: "sales", Conn: conn}); err != nil {
		t.Errorf("named room refused: %v", err)
	}
	if err := authorize(events.JoinRequest{Topic: "events:lobby", Room: "lobby", Conn: conn}); err == nil {
		t.Error("a room the token does not name was allowed")
	}
	if err := authorize(events.JoinRequest{Topic: "events:sales", Room: "sales", Conn: &channels.Conn{}}); err == nil {
		t.Error("a connection without token rooms was allowed")
	}
	if open, _ := joinPolicy("open"); open != nil {
		t.Error("open policy should allow everything (nil hook)")
	}
}
