package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/protocol"
)

// maxLongPollBatch is the number of ndjson lines a POST may carry; the rest
// are ignored, as in Phoenix >= 1.7.22.
const maxLongPollBatch = 100

// serveLongPoll handles {mount}/longpoll (docs/protocol.md §6). Every answer but
// a preflight is HTTP 200 with the real status in the JSON body.
func (e *Endpoint) serveLongPoll(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "no-store") // on every answer, errors and preflights too
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
		h.Set("Access-Control-Allow-Methods", "get, post, options")
		h.Set("Access-Control-Max-Age", "3600")
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodGet, http.MethodPost:
	default:
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if origin := r.Header.Get("Origin"); origin != "" && e.cfg.CheckOrigin != nil && !e.cfg.CheckOrigin(origin) {
		e.stats.refused.Add(1)
		e.warn(&e.log, "origin refused").Str("origin", origin).Str("transport", string(TransportLongPoll)).Msg("origin refused")
		writeLongPoll(w, http.StatusForbidden, "", nil)
		return
	}
	token := longPollToken(r)
	s, owner := e.sessions.route(token)
	switch {
	case owner != "" && r.Method == http.MethodGet:
		e.forwardGet(w, r, owner, token)
	case owner != "":
		e.forwardPost(w, r, owner, token)
	case r.Method == http.MethodGet:
		e.longPollGet(w, r, s)
	default:
		e.longPollPost(w, r, s)
	}
}

// longPollToken returns the session token: the X-Phoenix-Longpoll-Token
// header first, else the last "token" query value (phoenix.js <= 1.8.12
// appends it after the app's own params, which may hold a "token" too).
func longPollToken(r *http.Request) string {
	if t := r.Header.Get("X-Phoenix-Longpoll-Token"); t != "" {
		return t
	}
	if ts := r.URL.Query()["token"]; len(ts) > 0 {
		return ts[len(ts)-1]
	}
	return ""
}

func (e *Endpoint) longPollGet(w http.ResponseWriter, r *http.Request, s *lpSession) {
	if s == nil {
		e.longPollOpen(w, r)
		return
	}
	s.get(r.Context().Done()).write(w)
}

// longPollOpen answers a GET that names no live session: it opens one and
// answers {"status":410,"token":..,"messages":[]}, or {"status":403} when
// the connection is refused.
func (e *Endpoint) longPollOpen(w http.ResponseWriter, r *http.Request) {
	token, hasToken := "", false
	if vs, ok := r.Header["X-Phoenix-Authtoken"]; ok && len(vs) > 0 {
		token, hasToken = vs[0], true
	}
	acc, status := e.accept(httpOpening{r}, TransportLongPoll, token, hasToken)
	if status != 0 {
		writeLongPoll(w, http.StatusForbidden, "", nil)
		return
	}
	if r.Context().Err() != nil {
		// The client left while the connect hook ran: nobody would ever
		// learn the token, so the session would only wait to expire.
		return
	}
	s := e.startSession(acc)
	if s == nil {
		writeLongPoll(w, http.StatusForbidden, "", nil)
		return
	}
	writeLongPoll(w, http.StatusGone, s.token, []string{})
}

func (e *Endpoint) longPollPost(w http.ResponseWriter, r *http.Request, s *lpSession) {
	if s == nil {
		lpNoSessionPost.write(w)
		return
	}
	body, ok := e.readLongPollBody(w, r, &s.log)
	if !ok {
		return
	}
	s.post(r.Context(), r.Header.Get("Content-Type"), body).write(w)
}

// lpNoSessionPost is the answer to a POST that names no live session.
var lpNoSessionPost = lpAnswer{status: http.StatusGone}

// readLongPollBody reads a POST body of at most LongPollMaxBody bytes. On
// false the request is answered (413) or the client is gone.
func (e *Endpoint) readLongPollBody(w http.ResponseWriter, r *http.Request, log *zerolog.Logger) ([]byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, e.cfg.LongPollMaxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			e.stats.tooBig.Add(1)
			e.warn(log, "longpoll body too big").Int64("limit", e.cfg.LongPollMaxBody).Msg("longpoll body too big")
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
		}
		return nil, false // else the client went away
	}
	return body, true
}

// lpAnswer is the JSON body of a LongPoll answer. The node that owns a
// session computes it, and the node the client asked writes it.
type lpAnswer struct {
	status   int
	token    string   // "" leaves the key out
	messages []string // nil leaves the key out
}

func (a lpAnswer) write(w http.ResponseWriter) { writeLongPoll(w, a.status, a.token, a.messages) }

// get is a poll: it waits up to the window (or until done is closed) for
// queued frames and takes them.
func (s *lpSession) get(done <-chan struct{}) lpAnswer {
	frames, ok := s.poll(done)
	switch {
	case !ok:
		// The session ended while this GET waited: phoenix.js holding a token
		// treats 410 as "session gone" and reconnects.
		return lpAnswer{status: http.StatusGone, messages: []string{}}
	case len(frames) == 0:
		return lpAnswer{status: http.StatusNoContent, token: s.token, messages: []string{}}
	default:
		return lpAnswer{status: http.StatusOK, token: s.token, messages: frames}
	}
}

// post decodes a POST body and hands its messages, in order, to the
// session's channels, as Phoenix's socket process hands them to channel
// processes: it answers {"status":200} once every message is queued on its
// channel's lane (or answered, for heartbeats and messages the Mux refuses
// itself), not once handled, so a slow channel holds up neither the POST
// nor the client's next one; replies go to the poll queue. When the
// session's queues are full (channels.Mux bounds them), the POST waits for
// room, up to the window or until ctx ends; past that it answers
// {"status":408} and the message it waited on and the lines after it are
// dropped, as Phoenix stops a batch at a dispatch that timed out.
// phoenix.js reconnects on any status but 200.
func (s *lpSession) post(ctx context.Context, contentType string, body []byte) lpAnswer {
	e := s.e
	msgs, err := decodeLongPollBody(s.ser, contentType, body, e.cfg.MaxMessageBytes)
	if err != nil {
		// As a malformed WebSocket frame closes the connection (1011), a
		// malformed POST ends the session; phoenix.js reconnects on any
		// status other than 200.
		e.stats.malformed.Add(1)
		e.warn(&s.log, "malformed longpoll message; ending session").Err(err).Msg("malformed longpoll message; ending session")
		s.end(CloseMalformed)
		return lpAnswer{status: http.StatusBadRequest}
	}
	ctx, cancel := context.WithTimeout(ctx, e.cfg.LongPollWindow)
	defer cancel()
	for i, m := range msgs {
		if s.mux.DispatchContext(ctx, m) != nil {
			s.countIn(i)
			return lpAnswer{status: http.StatusRequestTimeout}
		}
	}
	s.countIn(len(msgs))
	return lpAnswer{status: http.StatusOK}
}

// decodeLongPollBody splits a POST body into messages: an ndjson body holds
// up to 100 lines, each a V2 JSON text message when it starts with "[" and
// standard base64 of a binary push otherwise; any other body is one text
// message.
func decodeLongPollBody(ser protocol.Serializer, contentType string, body []byte, maxMessage int64) ([]protocol.Message, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt != "application/x-ndjson" {
		if int64(len(body)) > maxMessage {
			return nil, errors.New("message over the size limit")
		}
		m, err := ser.Decode(body, false)
		if err != nil {
			return nil, err
		}
		return []protocol.Message{m}, nil
	}
	var msgs []protocol.Message
	for len(body) > 0 && len(msgs) < maxLongPollBatch {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if int64(len(line)) > maxMessage*4/3+4 {
			return nil, errors.New("line " + strconv.Itoa(len(msgs)+1) + " over the size limit")
		}
		binary := line[0] != '['
		if binary {
			raw := make([]byte, base64.StdEncoding.DecodedLen(len(line)))
			n, err := base64.StdEncoding.Decode(raw, line)
			if err != nil {
				return nil, errors.New("line " + strconv.Itoa(len(msgs)+1) + " is neither a JSON array nor base64: " + err.Error())
			}
			line = raw[:n]
		}
		m, err := ser.Decode(line, binary)
		if err != nil {
			return nil, err
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
}

// writeLongPoll writes every LongPoll answer: HTTP 200 with
// {"status":..,"token":..,"messages":[..]}, where each message is a frame's
// text as a JSON string. token is left out when empty, messages when nil.
func writeLongPoll(w http.ResponseWriter, status int, token string, messages []string) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	n := 64 + len(token)
	for _, m := range messages {
		n += len(m) + len(m)/8 + 3
	}
	buf := make([]byte, 0, n)
	buf = append(buf, `{"status":`...)
	buf = strconv.AppendInt(buf, int64(status), 10)
	if token != "" {
		buf = append(buf, `,"token":`...)
		buf = appendJSONText(buf, token)
	}
	if messages != nil {
		buf = append(buf, `,"messages":[`...)
		for i, m := range messages {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendJSONText(buf, m)
		}
		buf = append(buf, ']')
	}
	buf = append(buf, '}')
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf)
}

// appendJSONText appends s as a JSON string.
func appendJSONText(dst []byte, s string) []byte {
	b, _ := json.Marshal(s) // a string always marshals
	return append(dst, b...)
}
