package server

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"net/http"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// A LongPoll session lives on the node that opened it; with a Relay its
// token names that node. A GET or POST that a balancer sends elsewhere is
// forwarded to the owner, which runs it as if it had arrived there and
// sends back the JSON answer's fields, which the node the client asked
// writes unchanged. This is how Phoenix finds a session's process through
// PubSub, so no sticky sessions are needed.

// Relay kinds of the forwarded requests.
const (
	relayLongPollGet  = "longpoll.get"
	relayLongPollPost = "longpoll.post"
)

// lpForwardMargin is how much longer than the window a forwarded GET may
// take before the cluster counts as stalled: the owner answers within the
// window, plus two relay trips. Phoenix waits pubsub_timeout_ms = 2 s for a
// session's process. A POST gets the same margin, so that the owner's own
// 408 (the session's queues stayed full for the window) comes back
// unchanged instead of losing a race with the caller's deadline.
const lpForwardMargin = 2 * time.Second

// handleRelay registers the handlers of forwarded LongPoll requests.
func (e *Endpoint) handleRelay() {
	e.cfg.Relay.Handle(relayLongPollGet, e.relayed(lpMethodGet))
	e.cfg.Relay.Handle(relayLongPollPost, e.relayed(lpMethodPost))
}

// relayed returns the handler of forwarded requests of method: it runs on
// the node that owns the session, on a goroutine of the Relay's.
func (e *Endpoint) relayed(method byte) func(ctx context.Context, req []byte) []byte {
	return func(ctx context.Context, req []byte) []byte {
		q, err := decodeLPRequest(req)
		if err == nil && q.method != method {
			err = errors.New("method does not match the relay kind")
		}
		if err != nil {
			// No answer: the caller answers as for an unknown session.
			e.warn(&e.log, "malformed forwarded longpoll request").Err(err).Msg("malformed forwarded longpoll request")
			return nil
		}
		s := e.sessions.lookup(q.token)
		switch {
		case s == nil:
			return appendLPAnswer(nil, lpAnswer{}, true)
		case method == lpMethodGet:
			// ctx ends when the caller's client goes away (or the call
			// times out). If that happens after poll took frames off the
			// queue, the answer carrying them has nowhere to go and they
			// are lost; the session lives on. A GET on this node has the
			// same window between taking frames and writing them to a
			// client that has just left, and so has Phoenix.
			return appendLPAnswer(nil, s.get(ctx.Done()), false)
		default:
			return appendLPAnswer(nil, s.post(ctx, q.contentType, q.body), false)
		}
	}
}

// forwardGet sends a GET to the node that owns its session and writes that
// node's answer. When the owner is gone or cannot be reached in time the
// session counts as gone: the GET opens a new session here (410 with a new
// token), as Phoenix does when a session's process does not answer.
func (e *Endpoint) forwardGet(w http.ResponseWriter, r *http.Request, owner, token string) {
	// The call ends with the client's request, so a client that leaves
	// frees the owner's poll at once (see relayed for what that can lose).
	a, noSession, err := e.forward(r.Context(), owner, relayLongPollGet, lpRequest{method: lpMethodGet, token: token})
	switch {
	case err != nil && r.Context().Err() != nil:
		// The client went away: nobody to answer.
	case err != nil || noSession:
		e.longPollOpen(w, r)
	default:
		a.write(w)
	}
}

// forwardPost reads a POST body, checking its size here, sends it to the
// node that owns its session and writes that node's answer. When the owner
// is gone or cannot be reached in time it answers as for an unknown
// session: {"status":410}.
func (e *Endpoint) forwardPost(w http.ResponseWriter, r *http.Request, owner, token string) {
	body, ok := e.readLongPollBody(w, r, &e.log)
	if !ok {
		return
	}
	q := lpRequest{method: lpMethodPost, token: token, contentType: r.Header.Get("Content-Type"), body: body}
	a, noSession, err := e.forward(r.Context(), owner, relayLongPollPost, q)
	if err != nil || noSession {
		lpNoSessionPost.write(w)
		return
	}
	a.write(w)
}

// forward calls the owner of a session with q, bounded by the window plus
// lpForwardMargin, and counts and logs the outcome. noSession reports that
// the owner has no such session.
func (e *Endpoint) forward(ctx context.Context, owner, kind string, q lpRequest) (a lpAnswer, noSession bool, err error) {
	e.stats.lpForwarded.Add(1)
	start := time.Now()
	callCtx, cancel := context.WithTimeout(ctx, e.cfg.LongPollWindow+lpForwardMargin)
	defer cancel()
	b, err := e.cfg.Relay.Call(callCtx, owner, kind, appendLPRequest(nil, q))
	if err == nil {
		a, noSession, err = decodeLPAnswer(b)
	}
	took := time.Since(start)
	e.log.Debug().Str("node", owner).Str("kind", kind).Int("status", a.status).Bool("no_session", noSession).
		Dur("took_ms", took).Err(err).Msg("longpoll request forwarded")
	switch {
	case err == nil, ctx.Err() != nil: // done, or the client went away
	case errors.Is(err, pubsub.ErrUnknownNode):
		e.stats.lpOwnerGone.Add(1)
		e.warn(&e.log, "longpoll session owner gone").Str("node", owner).Str("kind", kind).Msg("longpoll session owner gone")
	default:
		e.stats.lpForwardFailed.Add(1)
		e.warn(&e.log, "longpoll forward failed").Str("node", owner).Str("kind", kind).Dur("took_ms", took).Err(err).Msg("longpoll forward failed")
	}
	return a, noSession, err
}

// validNodeID reports whether id is a node id as pubsub.Relay defines it:
// non-empty, of A-Z a-z 0-9 _ - (so it never holds the "." that separates
// a token's parts).
func validNodeID(id string) bool {
	if id == "" {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// The forwarded request and answer, version 1. Lengths and numbers are
// unsigned varints (encoding/binary, shortest form only); strings are
// length-prefixed.
//
//	request: version=1, method ('G' or 'P'), token, content type, body (the rest)
//	answer:  version=1, flags, status, token, [count, count × message]
//
// Answer flags: lpHasMessages means a "messages" key (the count and
// messages follow, maybe zero of them); lpNoSession means the owner has no
// such session (the other fields are empty). A node that reads another
// version answers nothing or fails the call, which the caller treats as an
// unknown session: during a rolling upgrade that changes the format a
// client reconnects once.
const (
	lpRelayVersion = 1

	lpMethodGet  = 'G'
	lpMethodPost = 'P'

	lpHasMessages = 1 << 0
	lpNoSession   = 1 << 1
)

// lpRequest is a forwarded GET or POST.
type lpRequest struct {
	method      byte // lpMethodGet or lpMethodPost
	token       string
	contentType string
	body        []byte
}

var errLPRelayFormat = errors.New("malformed forwarded longpoll message")

func appendLPRequest(dst []byte, q lpRequest) []byte {
	dst = append(dst, lpRelayVersion, q.method)
	dst = appendLPString(dst, q.token)
	dst = appendLPString(dst, q.contentType)
	return append(dst, q.body...)
}

// decodeLPRequest decodes a forwarded request. The body is a copy: its
// messages' payloads outlive the handler (they wait on their channels'
// lanes), and the Relay may reuse b.
func decodeLPRequest(b []byte) (lpRequest, error) {
	if len(b) < 2 || b[0] != lpRelayVersion {
		return lpRequest{}, errLPRelayFormat
	}
	q := lpRequest{method: b[1]}
	if q.method != lpMethodGet && q.method != lpMethodPost {
		return lpRequest{}, errLPRelayFormat
	}
	d := lpDecoder{b: b[2:]}
	q.token = d.string()
	q.contentType = d.string()
	if d.bad {
		return lpRequest{}, errLPRelayFormat
	}
	q.body = bytes.Clone(d.b)
	return q, nil
}

func appendLPAnswer(dst []byte, a lpAnswer, noSession bool) []byte {
	var flags byte
	if a.messages != nil {
		flags |= lpHasMessages
	}
	if noSession {
		flags |= lpNoSession
	}
	dst = append(dst, lpRelayVersion, flags)
	dst = binary.AppendUvarint(dst, uint64(a.status))
	dst = appendLPString(dst, a.token)
	if a.messages != nil {
		dst = binary.AppendUvarint(dst, uint64(len(a.messages)))
		for _, m := range a.messages {
			dst = appendLPString(dst, m)
		}
	}
	return dst
}

func decodeLPAnswer(b []byte) (a lpAnswer, noSession bool, err error) {
	if len(b) < 2 || b[0] != lpRelayVersion || b[1]&^(lpHasMessages|lpNoSession) != 0 {
		return lpAnswer{}, false, errLPRelayFormat
	}
	flags := b[1]
	d := lpDecoder{b: b[2:]}
	status := d.uvarint()
	a.token = d.string()
	if flags&lpHasMessages != 0 {
		n := d.uvarint()
		if n > uint64(len(d.b)) { // each message takes at least its length byte
			return lpAnswer{}, false, errLPRelayFormat
		}
		a.messages = make([]string, 0, n)
		for i := uint64(0); i < n && !d.bad; i++ {
			a.messages = append(a.messages, d.string())
		}
	}
	// A status is an HTTP status (Phoenix uses 200, 204, 400, 403, 408 and
	// 410), or none with lpNoSession.
	validStatus := status >= 100 && status <= 999 || status == 0 && flags&lpNoSession != 0
	if d.bad || len(d.b) != 0 || !validStatus {
		return lpAnswer{}, false, errLPRelayFormat
	}
	a.status = int(status)
	return a, flags&lpNoSession != 0, nil
}

func appendLPString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// lpDecoder reads varints and length-prefixed strings; bad is set, and
// zero values returned, once the input runs short or is malformed.
type lpDecoder struct {
	b   []byte
	bad bool
}

func (d *lpDecoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 { // short, or longer than needed
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *lpDecoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
