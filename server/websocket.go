package server

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"

	"github.com/gobwas/ws"

	"github.com/fawkes-rt/fawkes/protocol"
)

// subprotocolPhoenix is echoed whenever the client offers it: browsers fail
// the handshake if they offered subprotocols and none was selected.
const subprotocolPhoenix = "phoenix"

// serveWebSocket handles GET {mount}/websocket.
func (e *Endpoint) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if reason := checkUpgradeRequest(r); reason != "" {
		e.stats.refused.Add(1)
		http.Error(w, reason, http.StatusBadRequest)
		return
	}
	offered, authToken, hasToken, err := parseProtocols(r.Header.Values("Sec-Websocket-Protocol"))
	if err != nil {
		e.stats.refused.Add(1)
		http.Error(w, "invalid auth token in Sec-WebSocket-Protocol", http.StatusBadRequest)
		return
	}
	acc, status := e.accept(httpOpening{r}, TransportWebSocket, authToken, hasToken)
	if status != 0 {
		w.WriteHeader(status)
		return
	}
	up := ws.HTTPUpgrader{Protocol: func(p string) bool { return p == subprotocolPhoenix && offered }}
	conn, rw, _, err := up.Upgrade(r, w)
	if err != nil {
		e.stats.refused.Add(1)
		e.log.Debug().Err(err).Msg("websocket upgrade failed")
		return
	}
	var br *bufio.Reader
	if rw != nil {
		br = rw.Reader
	}
	e.startWebSocket(unwrapConn(conn), br, acc)
}

// checkUpgradeRequest returns why r is not a WebSocket upgrade, or "".
func checkUpgradeRequest(r *http.Request) string {
	switch {
	case !headerHasToken(r.Header, "Connection", "upgrade"):
		return "missing Connection: upgrade header"
	case !headerHasToken(r.Header, "Upgrade", "websocket"):
		return "missing Upgrade: websocket header"
	case r.Header.Get("Sec-Websocket-Version") != "13":
		return "Sec-WebSocket-Version must be 13"
	case r.Header.Get("Sec-Websocket-Key") == "":
		return "missing Sec-WebSocket-Key header"
	}
	return ""
}

func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// accepted is the outcome of the checks every transport runs before a
// connection starts.
type accepted struct {
	ser    protocol.Serializer
	params map[string]string
	result ConnectResult
}

// opening is the request that opens a connection, as accept reads it: a
// net/http request (httpOpening) or an upgrade read by the UpgradeListener
// (fastOpening).
type opening interface {
	origin() string // the first Origin header, or ""
	rawQuery() string
	remoteAddr() string
	context() context.Context
	// connectRequest returns the hook's request with Header, RemoteAddr
	// and URI set; it is made only when there is a hook.
	connectRequest() *ConnectRequest
}

// httpOpening is a net/http request as an opening.
type httpOpening struct{ r *http.Request }

func (o httpOpening) origin() string           { return o.r.Header.Get("Origin") }
func (o httpOpening) rawQuery() string         { return o.r.URL.RawQuery }
func (o httpOpening) remoteAddr() string       { return o.r.RemoteAddr }
func (o httpOpening) context() context.Context { return o.r.Context() }
func (o httpOpening) connectRequest() *ConnectRequest {
	return &ConnectRequest{Header: o.r.Header, RemoteAddr: o.r.RemoteAddr, URI: o.r.URL}
}

// accept runs the origin check, serializer negotiation and connect hook.
// It returns a non-zero HTTP status when the connection is refused.
func (e *Endpoint) accept(r opening, transport Transport, authToken string, hasToken bool) (accepted, int) {
	if e.draining.Load() {
		return accepted{}, http.StatusServiceUnavailable
	}
	if e.cfg.CheckOrigin != nil {
		if origin := r.origin(); origin != "" && !e.cfg.CheckOrigin(origin) {
			e.stats.refused.Add(1)
			e.warn(&e.log, "origin refused").Str("origin", origin).Str("transport", string(transport)).Msg("origin refused")
			return accepted{}, http.StatusForbidden
		}
	}
	params := e.params.get(r.rawQuery()) // shared: never handed out to be modified
	ser, err := protocol.Negotiate(params["vsn"])
	if err != nil {
		e.stats.refused.Add(1)
		e.log.Info().Err(err).Str("transport", string(transport)).Msg("serializer version refused")
		return accepted{}, http.StatusForbidden
	}
	res := ConnectResult{}
	if e.cfg.Connect != nil {
		req := r.connectRequest()
		req.Params, req.AuthToken, req.HasAuthToken, req.Transport = maps.Clone(params), authToken, hasToken, string(transport)
		res, err = e.callConnect(r.context(), req)
		if err != nil {
			e.stats.refused.Add(1)
			status := http.StatusForbidden
			var ref *Refusal
			if errors.As(err, &ref) {
				status = ref.status()
			}
			e.log.Info().Err(err).Str("transport", string(transport)).Str("remote", req.RemoteAddr).Msg("connection refused by connect hook")
			return accepted{}, status
		}
	}
	return accepted{ser: ser, params: params, result: res}, 0
}

// callConnect runs the connect hook; a panic refuses the connection.
func (e *Endpoint) callConnect(ctx context.Context, req *ConnectRequest) (res ConnectResult, err error) {
	defer func() {
		if p := recover(); p != nil {
			e.log.Error().Interface("panic", p).Msg("connect hook panicked")
			err = &Refusal{Status: http.StatusInternalServerError, Reason: "connect hook panicked"}
		}
	}()
	return e.cfg.Connect(ctx, req)
}
