package servertest

import (
	"net/http"
	"net/url"
	"time"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	params       url.Values
	token        string
	hasToken     bool
	header       http.Header
	longPoll     bool
	timeout      time.Duration
	vsn          string
	subprotocols []string // nil: "phoenix" and the AuthToken's
}

// Params adds connect params, as key, value pairs: phoenix.js's
// new Socket(url, {params: {...}}). The vsn param is always added last, as
// phoenix.js does (see Vsn).
func Params(kv ...string) Option {
	return func(o *options) {
		for i := 0; i+1 < len(kv); i += 2 {
			o.params.Add(kv[i], kv[i+1])
		}
	}
}

// AuthToken sends token as phoenix.js's authToken option does: in the
// Sec-WebSocket-Protocol header ("base64url.bearer.phx.<base64>"), or as
// the X-Phoenix-AuthToken header over LongPoll.
func AuthToken(token string) Option {
	return func(o *options) { o.token, o.hasToken = token, true }
}

// Header adds a request header to the connect request (Origin, say).
func Header(key, value string) Option {
	return func(o *options) { o.header.Add(key, value) }
}

// Subprotocols offers exactly these WebSocket subprotocols, in this order,
// instead of "phoenix" and the AuthToken's: for tests of the negotiation.
// None offers no Sec-WebSocket-Protocol header at all.
func Subprotocols(p ...string) Option {
	return func(o *options) { o.subprotocols = append([]string{}, p...) }
}

// Vsn sets the vsn connect param, which picks the serializer: "2.0.0" (the
// default, phoenix.js's) speaks V2 arrays; "1.0.0", "" (no vsn param,
// which Phoenix reads as 1.0.0) and any other value speak V1 JSON objects,
// which have no binary frames and whose replies carry no join_ref.
func Vsn(v string) Option { return func(o *options) { o.vsn = v } }

// LongPoll connects over the LongPoll transport instead of WebSocket.
func LongPoll() Option { return func(o *options) { o.longPoll = true } }

// Timeout sets how long the client's waits last before they fail the
// test. Zero means DefaultTimeout.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }
