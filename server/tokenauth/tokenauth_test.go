package tokenauth_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
	"github.com/fawkes-rt/fawkes/server/tokenauth"
)

func verifier(t *testing.T) *phxtoken.Verifier {
	t.Helper()
	v, err := phxtoken.NewVerifier(strings.Repeat("abcdefgh", 8), "user socket", phxtoken.Config{})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func sign(t *testing.T, v *phxtoken.Verifier, data any, signedAt time.Time) string {
	t.Helper()
	tok, err := v.Sign(data, signedAt, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestConnectHookTakesTheTokenDataAsSocketID(t *testing.T) {
	v := verifier(t)
	hook := tokenauth.ConnectHook(tokenauth.Config{Verifier: v, MaxAge: time.Hour})
	for name, req := range map[string]*server.ConnectRequest{
		"token param": {Params: map[string]string{"token": sign(t, v, "user:42", time.Time{})}},
		"authToken wins over the param": {
			Params:    map[string]string{"token": "garbage"},
			AuthToken: sign(t, v, "user:42", time.Time{}), HasAuthToken: true,
		},
	} {
		res, err := hook(context.Background(), req)
		if err != nil || res.ID != "user:42" {
			t.Errorf("%s: got %+v, %v; want id user:42", name, res, err)
			continue
		}
		if data, ok := tokenauth.Data(&channels.Conn{Assigns: res.Assigns}); !ok || data != "user:42" {
			t.Errorf("%s: Data = %v, %v", name, data, ok)
		}
	}
}

func TestConnectHookRefusesBadTokensWith403(t *testing.T) {
	v := verifier(t)
	hook := tokenauth.ConnectHook(tokenauth.Config{Verifier: v, MaxAge: time.Hour})
	for name, c := range map[string]struct {
		params map[string]string
		reason string
	}{
		"missing":  {nil, "token missing"},
		"expired":  {map[string]string{"token": sign(t, v, 1, time.Now().Add(-2*time.Hour))}, "token expired"},
		"tampered": {map[string]string{"token": sign(t, v, 1, time.Time{}) + "x"}, "token invalid"},
	} {
		_, err := hook(context.Background(), &server.ConnectRequest{Params: c.params})
		var refusal *server.Refusal
		if !errors.As(err, &refusal) || refusal.Status != http.StatusForbidden || refusal.Reason != c.reason {
			t.Errorf("%s: got %v, want a 403 refusal %q", name, err, c.reason)
		}
	}
}

func TestConnectHookIdentify(t *testing.T) {
	v := verifier(t)
	hook := tokenauth.ConnectHook(tokenauth.Config{Verifier: v, MaxAge: time.Hour, Param: "t",
		Identify: func(data any) (server.ConnectResult, error) {
			if tokenauth.ID(data) == "7" {
				return server.ConnectResult{}, &server.Refusal{Status: http.StatusTooManyRequests, Reason: "rate limited"}
			}
			return server.ConnectResult{ID: "users_socket:" + tokenauth.ID(data)}, nil
		}})
	res, err := hook(context.Background(), &server.ConnectRequest{Params: map[string]string{"t": sign(t, v, map[any]any{phxtoken.Atom("user_id"): 42}, time.Time{})}})
	if err != nil || res.ID != "users_socket:42" {
		t.Errorf("got %+v, %v; want id users_socket:42", res, err)
	}
	_, err = hook(context.Background(), &server.ConnectRequest{Params: map[string]string{"t": sign(t, v, int64(7), time.Time{})}})
	var refusal *server.Refusal
	if !errors.As(err, &refusal) || refusal.Status != http.StatusTooManyRequests {
		t.Errorf("got %v, want Identify's 429 refusal", err)
	}
}

func TestID(t *testing.T) {
	for _, c := range []struct {
		data any
		want string
	}{
		{"u1", "u1"}, {int64(42), "42"}, {map[any]any{"id": "a", "user_id": "b"}, "a"},
		{map[any]any{"user_id": int64(3)}, "3"}, {map[any]any{"name": "x"}, ""}, {nil, ""}, {1.5, ""},
	} {
		if got := tokenauth.ID(c.data); got != c.want {
			t.Errorf("ID(%v) = %q, want %q", c.data, got, c.want)
		}
	}
}
