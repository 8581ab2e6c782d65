package server

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
)

// ConnectRequest is what the connect hook sees of a new connection.
type ConnectRequest struct {
	// Params are the query values, all strings, vsn included. For a key given
	// more than once the last value wins, as in Plug.
	Params map[string]string
	// Header holds the request headers.
	Header http.Header
	// RemoteAddr is the peer address.
	RemoteAddr string
	// URI is the request URI.
	URI *url.URL
	// AuthToken is the phoenix.js authToken, from the Sec-WebSocket-Protocol
	// entry "base64url.bearer.phx.<base64>" or the LongPoll
	// X-Phoenix-AuthToken header; HasAuthToken says whether one was sent.
	AuthToken    string
	HasAuthToken bool
	// Transport is "websocket" or "longpoll".
	Transport string
}

// ConnectResult is an accepted connection's identity.
type ConnectResult struct {
	// ID is the socket id; "" is anonymous. A "disconnect" broadcast on it
	// closes every connection with that id.
	ID string
	// Assigns are attached to the connection; channels read them.
	Assigns map[string]any
}

// ConnectFunc decides a connection, like Phoenix's connect/3 and id/1.
// Returning an error refuses it: a *Refusal picks the HTTP status, any
// other error gives 403. tokenauth.ConnectHook is the one for Phoenix.Token.
//
// Concurrency: it runs on the goroutine of the HTTP request that opens the
// connection (the upgrade, or the LongPoll GET that opens a session), for
// many requests at once: it must be safe for concurrent use. It may block
// (a database lookup), which delays that connection only; ctx ends when
// the request does.
type ConnectFunc func(ctx context.Context, req *ConnectRequest) (ConnectResult, error)

// Refusal refuses a connection with an HTTP status (WebSocket) and a reason
// for the logs. LongPoll always answers {"status":403}.
type Refusal struct {
	// Status is the HTTP status; zero means 403.
	Status int
	// Reason is logged, never sent.
	Reason string
}

// Error implements error.
func (r *Refusal) Error() string {
	return "connection refused (" + strconv.Itoa(r.status()) + "): " + r.Reason
}

func (r *Refusal) status() int {
	if r.Status == 0 {
		return http.StatusForbidden
	}
	return r.Status
}

// queryParams returns the query values with the last value of each key.
func queryParams(q url.Values) map[string]string {
	params := make(map[string]string, len(q))
	for k, vs := range q {
		params[k] = vs[len(vs)-1]
	}
	return params
}
