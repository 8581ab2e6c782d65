package server_test

// The HTTP side of a connection: what is refused before the upgrade, with
// which status, and what the connect hook sees. Every test runs on both
// ways an upgrade is answered (forEachUpgradePath), with the same
// expectations.

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// httpGet sends a plain HTTP request (no WebSocket client) and returns the
// status and body.
func httpRequest(t *testing.T, srv *servertest.Server, method string, header http.Header) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, srv.HTTP.URL+"/socket/websocket?vsn=2.0.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := srv.HTTP.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func upgradeHeader() http.Header {
	return http.Header{
		"Connection":            {"Upgrade"},
		"Upgrade":               {"websocket"},
		"Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
	}
}

func TestUpgradeNonGET(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		srv := startServer(t, server.Config{})
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodOptions} {
			status, body := httpRequest(t, srv, method, upgradeHeader())
			if status != http.StatusBadRequest || body != "" {
				t.Errorf("%s: got %d %q, want 400 with an empty body", method, status, body)
			}
		}
	})
}

func TestUpgradeNotWebSocket(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		srv := startServer(t, server.Config{})
		for _, tc := range []struct {
			name   string
			header http.Header
			reason string
		}{
			{"plain GET", http.Header{}, "Connection"},
			{"no Upgrade", http.Header{"Connection": {"Upgrade"}}, "Upgrade"},
			{"wrong version", http.Header{"Connection": {"keep-alive, Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"8"}}, "Version"},
			{"no key", http.Header{"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}}, "Key"},
		} {
			status, body := httpRequest(t, srv, http.MethodGet, tc.header)
			if status != http.StatusBadRequest || !strings.Contains(body, tc.reason) {
				t.Errorf("%s: got %d %q, want 400 with a reason mentioning %q", tc.name, status, body, tc.reason)
			}
		}
		if n := srv.Stats().Refused(); n != 4 {
			t.Errorf("Stats().Refused() = %d, want 4", n)
		}
	})
}

func TestUpgradeVsn(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		srv := startServer(t, server.Config{})
		for _, tc := range []struct {
			vsn    string
			status int
		}{
			{"2.0.0", http.StatusSwitchingProtocols},
			{"2.0.5", http.StatusSwitchingProtocols},
			{"1.0.0", http.StatusSwitchingProtocols},
			{"", http.StatusSwitchingProtocols}, // no vsn: 1.0.0
			{"2.1.0", http.StatusForbidden},
			{"3.0.0", http.StatusForbidden},
			{"123.1.1", http.StatusForbidden},
			{"abc", http.StatusForbidden},
		} {
			status, body, _ := dialRaw(t, srv, dialect{name: tc.vsn, vsn: tc.vsn})
			if status != tc.status || body != "" {
				t.Errorf("vsn %q: got %d %q, want %d with an empty body", tc.vsn, status, body, tc.status)
			}
		}
	})
}

func TestUpgradeOriginCheck(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		check, err := server.AllowOrigins([]string{"//*.example.com", "https://app.example", "//host:888"})
		if err != nil {
			t.Fatal(err)
		}
		srv := startServer(t, server.Config{CheckOrigin: check})
		for _, tc := range []struct {
			origin string
			status int
		}{
			{"", http.StatusSwitchingProtocols}, // no Origin: native clients
			{"https://example.com", http.StatusSwitchingProtocols},
			{"http://a.example.com", http.StatusSwitchingProtocols},
			{"https://a.b.example.com:4000", http.StatusSwitchingProtocols},
			{"https://badexample.com", http.StatusForbidden},
			{"https://example.com.evil", http.StatusForbidden},
			{"https://app.example", http.StatusSwitchingProtocols},
			{"https://app.example:443", http.StatusSwitchingProtocols},
			{"http://app.example", http.StatusForbidden},
			{"https://app.example:8443", http.StatusForbidden},
			{"https://sub.app.example", http.StatusForbidden},
			{"http://host:888", http.StatusSwitchingProtocols},
			{"https://host:888", http.StatusSwitchingProtocols},
			{"http://host", http.StatusForbidden},
			{"null", http.StatusForbidden},
			{"file://", http.StatusForbidden},
		} {
			var opts []servertest.Option
			if tc.origin != "" {
				opts = append(opts, servertest.Header("Origin", tc.origin))
			}
			status, body, _ := dialRaw(t, srv, v2, opts...)
			if status != tc.status || body != "" {
				t.Errorf("Origin %q: got %d %q, want %d with an empty body", tc.origin, status, body, tc.status)
			}
		}
	})
}

func TestConnectHookRefusal(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		srv := startServer(t, server.Config{
			Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
				switch req.Params["as"] {
				case "error":
					return server.ConnectResult{}, errors.New("no")
				case "refusal":
					return server.ConnectResult{}, &server.Refusal{Reason: "no"}
				case "rate_limit":
					return server.ConnectResult{}, &server.Refusal{Status: http.StatusTooManyRequests, Reason: "rate limit"}
				case "panic":
					panic("connect hook bug")
				}
				return server.ConnectResult{}, nil
			},
		})
		for as, want := range map[string]int{
			"ok":         http.StatusSwitchingProtocols,
			"error":      http.StatusForbidden,
			"refusal":    http.StatusForbidden,
			"rate_limit": http.StatusTooManyRequests,
			"panic":      http.StatusInternalServerError,
		} {
			status, body, _ := dialRaw(t, srv, v2, servertest.Params("as", as))
			if status != want || body != "" {
				t.Errorf("%s: got %d %q, want %d with an empty body", as, status, body, want)
			}
		}
		if n := srv.Stats().Refused(); n != 4 {
			t.Errorf("Stats().Refused() = %d, want 4", n)
		}
	})
}

func TestConnectHookSeesRequest(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		reqs := make(chan *server.ConnectRequest, 1)
		srv := startServer(t, server.Config{
			Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
				reqs <- req
				return server.ConnectResult{}, nil
			},
		})
		c := dial(t, srv, v2,
			servertest.Params("token", "first"), servertest.Params("token", "last"), servertest.Params("user[id]", "7"), servertest.Params("empty", ""),
			servertest.Header("X-Custom", "yes"),
			servertest.Subprotocols("phoenix", "base64url.bearer.phx.bXktc2VjcmV0LXRva2Vu"))
		req := <-reqs
		want := map[string]string{"token": "last", "user[id]": "7", "empty": "", "vsn": "2.0.0"}
		if diff := cmp.Diff(want, req.Params); diff != "" {
			t.Errorf("Params (-want +got):\n%s", diff)
		}
		if got := req.Header.Get("X-Custom"); got != "yes" {
			t.Errorf("Header X-Custom = %q, want yes", got)
		}
		if !req.HasAuthToken || req.AuthToken != "my-secret-token" {
			t.Errorf("AuthToken = %q (%v), want my-secret-token", req.AuthToken, req.HasAuthToken)
		}
		if req.Transport != "websocket" || req.URI.Path != "/socket/websocket" || req.RemoteAddr == "" {
			t.Errorf("Transport %q, URI %v, RemoteAddr %q", req.Transport, req.URI, req.RemoteAddr)
		}
		if c.Protocol() != "phoenix" {
			t.Errorf("selected subprotocol %q, want phoenix", c.Protocol())
		}
		c.sync()
	})
}

func TestAuthTokenEncodings(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		tokens := make(chan string, 1)
		srv := startServer(t, server.Config{
			Connect: func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
				if req.HasAuthToken {
					tokens <- req.AuthToken
				} else {
					tokens <- "(none)"
				}
				return server.ConnectResult{}, nil
			},
		})
		for _, tc := range []struct {
			name, protocol, token string
		}{
			{"phoenix.js (standard, no padding)", "base64url.bearer.phx.bXktc2VjcmV0LXRva2Vu", "my-secret-token"},
			{"standard alphabet", "base64url.bearer.phx.+/8", "\xfb\xff"},
			{"URL alphabet", "base64url.bearer.phx.-_8", "\xfb\xff"},
			{"padding", "base64url.bearer.phx.bXk=", "my"},
			{"none", "", "(none)"},
			// Phoenix reads a token only when exactly one entry carries one.
			{"two bearer entries", "base64url.bearer.phx.YQ, base64url.bearer.phx.Yg", "(none)"},
		} {
			protocols := []string{"phoenix"}
			if tc.protocol != "" {
				protocols = append(protocols, tc.protocol)
			}
			status, _, protocol := dialRaw(t, srv, v2, servertest.Subprotocols(protocols...))
			if status != http.StatusSwitchingProtocols {
				t.Errorf("%s: status %d, want 101", tc.name, status)
				continue
			}
			if got := <-tokens; got != tc.token {
				t.Errorf("%s: token %q, want %q", tc.name, got, tc.token)
			}
			if protocol != "phoenix" {
				t.Errorf("%s: selected subprotocol %q, want phoenix", tc.name, protocol)
			}
		}
		for _, bad := range [][]string{
			{"phoenix", "base64url.bearer.phx.b@d!"},
			{"phoenix", "base64url.bearer.phx.+-"}, // mixed alphabets
		} {
			status, body, _ := dialRaw(t, srv, v2, servertest.Subprotocols(bad...))
			if status != http.StatusBadRequest {
				t.Errorf("%q: got %d %q, want 400", bad, status, body)
			}
		}
		select {
		case tok := <-tokens:
			t.Errorf("connect hook ran for an invalid token, got %q", tok)
		default:
		}
	})
}

func TestSubprotocolEcho(t *testing.T) {
	forEachUpgradePath(t, func(t *testing.T, startServer startFunc) {
		srv := startServer(t, server.Config{})
		for _, tc := range []struct {
			offered []string
			want    string
		}{
			{nil, ""},
			{[]string{"phoenix"}, "phoenix"},
			{[]string{"other", "phoenix"}, "phoenix"},
			{[]string{"other"}, ""},
			{[]string{"base64url.bearer.phx.YQ"}, ""},
		} {
			status, _, protocol := dialRaw(t, srv, v2, servertest.Subprotocols(tc.offered...))
			if status != http.StatusSwitchingProtocols || protocol != tc.want {
				t.Errorf("offered %q: got %d, protocol %q; want 101, %q", tc.offered, status, protocol, tc.want)
			}
		}
	})
}
