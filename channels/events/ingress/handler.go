package ingress

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

// DefaultMaxBodyBytes is the default limit of a request body.
const DefaultMaxBodyBytes = 1 << 20

// Reasons of the error answers, besides events.ReasonInvalidCloudEvent and
// events.ReasonInvalidTopic.
const (
	ReasonUnauthorized         = "unauthorized"
	ReasonForbidden            = "forbidden"
	ReasonMethodNotAllowed     = "method_not_allowed"
	ReasonUnsupportedMediaType = "unsupported_media_type"
	ReasonTooLarge             = "too_large"
	ReasonInvalidBatch         = "invalid_batch"
	ReasonUnavailable          = "unavailable"
)

// Publisher is where a Handler publishes; *events.Service implements it.
type Publisher interface {
	// Validate checks one CloudEvent in the JSON format.
	Validate(event []byte) (events.Event, error)
	// Broadcast sends a valid event to the members of room.
	Broadcast(room string, event []byte) error
}

// Config configures a Handler. Only Events is required.
type Config struct {
	// Events validates and publishes the events.
	Events Publisher
	// Token, if set, is a bearer token that lets a request publish
	// (Authorization: Bearer <token>, compared in constant time).
	Token string
	// Authorize, if set, decides every request that does not carry Token,
	// for a valid room: nil lets it publish; a *Refusal answers with its
	// status and message; any other error answers 401. It runs on the
	// request's goroutine before the body is read. The fawkes binary
	// accepts a Phoenix.Token bearer here, with the rights its sockets
	// get. Nil means no other credentials than Token.
	Authorize func(r *http.Request, room string) error
	// Anonymous lets requests without credentials publish. Zero (false)
	// means every request needs Token or the consent of Authorize, so
	// that a Handler configured with neither refuses every request (401):
	// an ingress nobody secured publishes nothing.
	Anonymous bool
	// MaxBodyBytes bounds a request body; a larger one gets 413. Zero means
	// DefaultMaxBodyBytes (1 MiB). Each event is also bounded by the
	// events service's own limit (a 400 naming the event).
	MaxBodyBytes int64
	// History, if set, answers GET {mount}/{room}?after=<id>&limit=N with
	// the room's history (see history.go), behind the same credentials as
	// a POST; *events.Service implements it. Nil means GET is not allowed
	// (405).
	History HistoryReader
	// Logger receives one debug line per request. Nil means no logging.
	Logger *zerolog.Logger
}

// Handler is the HTTP ingress: POST {mount}/{room}, and with
// Config.History GET {mount}/{room} (history.go). It is safe for
// concurrent use.
//
// Answers (JSON bodies; errors are {"reason":..,"message":..} and, for
// invalid events, the events channel's "errors" list):
//
//	202 {"ids":[...]}   every event was valid and was published, in order
//	400                 an invalid event (reason invalid_cloudevent, errors
//	                    as the channel lists them; in batch mode "events"
//	                    lists {"index","errors"} per invalid event and none
//	                    is published), or a body that is not a JSON array
//	                    in batch mode (invalid_batch)
//	401                 no valid credentials (Token, Authorize), and the
//	                    Handler is not Anonymous
//	403                 credentials that Authorize refused for the room
//	404                 a room that is not a valid room name (the URL names
//	                    no room that can exist, like any unknown path: it is
//	                    not worth a retry)
//	405                 a method other than POST
//	413                 a body over MaxBodyBytes
//	415                 a content type that is neither structured, batch nor
//	                    binary mode (no ce-specversion header), or a charset
//	                    other than UTF-8 in structured or batch mode
//	503                 the pub/sub refused the broadcast
type Handler struct {
	cfg       Config
	tokenHash [32]byte
	log       zerolog.Logger
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	h := &Handler{cfg: cfg, log: zerolog.Nop()}
	if cfg.Logger != nil {
		h.log = *cfg.Logger
	}
	if cfg.Token != "" {
		h.tokenHash = sha256.Sum256([]byte(cfg.Token))
	}
	return h
}

// mode is how a request carries its events.
type mode uint8

const (
	modeUnknown mode = iota
	modeBinary
	modeStructured
	modeBatch
)

func (m mode) String() string {
	return [...]string{"unknown", "binary", "structured", "batch"}[m]
}

// ServeHTTP implements http.Handler. The room is r.PathValue("room").
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	get := r.Method == http.MethodGet && h.cfg.History != nil
	if r.Method != http.MethodPost && !get {
		allow, use := http.MethodPost, "use POST"
		if h.cfg.History != nil {
			allow, use = "GET, POST", "use POST to publish, GET to read the history"
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, ReasonMethodNotAllowed, use)
		return
	}
	room := r.PathValue("room")
	if !events.ValidRoom(room) {
		writeError(w, http.StatusNotFound, events.ReasonInvalidTopic, "a room is 1 to 128 characters of A-Z a-z 0-9 . _ ~ : @ -")
		return
	}
	if refused := h.authorize(r, room); refused != nil {
		if refused.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="fawkes"`)
		}
		reason := ReasonUnauthorized
		if refused.Status == http.StatusForbidden {
			reason = ReasonForbidden
		}
		writeError(w, refused.Status, reason, refused.Message)
		return
	}
	if get {
		h.serveHistory(w, r, room)
		return
	}
	m, msg := requestMode(r.Header)
	if m == modeUnknown {
		writeError(w, http.StatusUnsupportedMediaType, ReasonUnsupportedMediaType, msg)
		return
	}
	if r.ContentLength > h.cfg.MaxBodyBytes {
		h.tooLarge(w)
		return
	}
	body, err := readBody(w, r, h.cfg.MaxBodyBytes)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.tooLarge(w)
			return
		}
		h.log.Debug().Err(err).Msg("ingress: reading the body failed")
		writeError(w, http.StatusBadRequest, "bad_request", "the body could not be read")
		return
	}
	var list [][]byte
	switch m {
	case modeStructured:
		list = [][]byte{body}
	case modeBinary:
		ev, invalid := binaryEvent(r.Header, body)
		if invalid != nil {
			writeInvalid(w, invalid)
			return
		}
		list = [][]byte{ev}
	case modeBatch:
		var ok bool
		if list, ok = batchEvents(body); !ok {
			writeError(w, http.StatusBadRequest, ReasonInvalidBatch, "the body must be a JSON array of CloudEvents")
			return
		}
	}
	ids, ok := h.validate(w, m, list)
	if !ok {
		return
	}
	for i, ev := range list {
		if err := h.cfg.Events.Broadcast(room, ev); err != nil {
			h.log.Warn().Err(err).Str("room", room).Int("published", i).Int("events", len(list)).Msg("ingress: broadcast failed")
			writeError(w, http.StatusServiceUnavailable, ReasonUnavailable, fmt.Sprintf("publishing failed after %d of %d events", i, len(list)))
			return
		}
	}
	h.log.Debug().Str("room", room).Str("mode", m.String()).Int("events", len(list)).Msg("ingress: published")
	writeJSON(w, http.StatusAccepted, struct {
		IDs []string `json:"ids"`
	}{ids})
}

// readBody reads the body of r, up to max bytes, into a buffer of the
// announced Content-Length: io.ReadAll grows from 512 bytes by a quarter
// at a time, allocating about five times a large body.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= max {
		buf.Grow(int(n) + bytes.MinRead) // ReadFrom wants MinRead free before EOF
	}
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, max))
	return buf.Bytes(), err
}

// batchEvents returns the elements of a batch body, a JSON array, as slices
// of it (nothing is copied), or false when body is not one.
func batchEvents(body []byte) (list [][]byte, ok bool) {
	t := trimSpace(body)
	if len(t) == 0 || t[0] != '[' {
		return nil, false
	}
	end, err := jsontext.Scanner{}.Elements(t, 0, func(ev []byte) {
		if len(list) == cap(list) {
			// Double: append grows large slices by a quarter, which
			// allocates five times the final size in all, not two.
			list = slices.Grow(list, len(list))
		}
		list = append(list, ev)
	})
	return list, err == nil && end == len(t)
}

// maxListedInvalid bounds the invalid events a batch answer lists. Each
// has every problem the events channel finds, and a batch of 1 MiB of {}
// would otherwise be answered with 60 MiB of problems (issue 16); the
// first ones tell a publisher what is wrong.
const maxListedInvalid = 16

// validate checks every event first, so that a batch is all or nothing. In
// a batch with more than maxListedInvalid invalid events, it stops at the
// next one.
func (h *Handler) validate(w http.ResponseWriter, m mode, list [][]byte) ([]string, bool) {
	var ids []string // grown as events pass: a batch that fails early needs none
	type indexed struct {
		Index  int              `json:"index"`
		Errors []events.Problem `json:"errors"`
	}
	var bad []indexed
	more := false
	for i, ev := range list {
		valid, err := h.cfg.Events.Validate(ev)
		var invalid *events.InvalidEventError
		switch {
		case errors.As(err, &invalid) && m != modeBatch:
			writeInvalid(w, invalid)
			return nil, false
		case errors.As(err, &invalid) && len(bad) == maxListedInvalid:
			more = true
		case errors.As(err, &invalid):
			bad = append(bad, indexed{i, invalid.Problems})
		case err != nil:
			writeError(w, http.StatusBadRequest, events.ReasonInvalidCloudEvent, err.Error())
			return nil, false
		default:
			ids = append(ids, valid.ID)
		}
		if more {
			break
		}
	}
	if len(bad) > 0 {
		msg := fmt.Sprintf("%d of the %d events are not valid CloudEvents; none was published.", len(bad), len(list))
		if more {
			msg = fmt.Sprintf("More than %d of the %d events are not valid CloudEvents; the first %d are listed, and none was published.", len(bad), len(list), len(bad))
		}
		writeJSON(w, http.StatusBadRequest, struct {
			Reason  string    `json:"reason"`
			Message string    `json:"message"`
			Events  []indexed `json:"events"`
		}{events.ReasonInvalidCloudEvent, msg, bad})
		return nil, false
	}
	if ids == nil {
		ids = []string{} // {"ids":[]} for an empty batch
	}
	return ids, true
}

// Refusal is the error a Config.Authorize hook returns to choose the
// answer to a request it refuses.
type Refusal struct {
	// Status is http.StatusUnauthorized (no valid credentials) or
	// http.StatusForbidden (valid credentials that do not allow the room).
	// Zero means 401.
	Status int
	// Message is the answer's message, sent to the client: it must not
	// contain the credentials. Zero means a generic one.
	Message string
}

// Error implements error.
func (r *Refusal) Error() string {
	return "ingress: refused (" + strconv.Itoa(r.Status) + "): " + r.Message
}

// Messages of the 401 answers.
const (
	msgNeedsToken  = "a valid bearer token is required (Authorization: Bearer <token>)"
	msgNoneAllowed = "this ingress takes no events: no credentials are configured on the server"
)

// authorize returns why r may not publish to room, or nil.
func (h *Handler) authorize(r *http.Request, room string) *Refusal {
	if h.cfg.Token != "" {
		if token, ok := BearerToken(r); ok {
			got := sha256.Sum256([]byte(token))
			// Hashes are compared, so that the length does not leak either.
			if subtle.ConstantTimeCompare(got[:], h.tokenHash[:]) == 1 {
				return nil
			}
		}
	}
	switch {
	case h.cfg.Anonymous:
		return nil
	case h.cfg.Authorize != nil:
		err := h.cfg.Authorize(r, room)
		if err == nil {
			return nil
		}
		refused := &Refusal{Status: http.StatusUnauthorized, Message: msgNeedsToken}
		var ref *Refusal
		if errors.As(err, &ref) {
			if ref.Status == http.StatusForbidden {
				refused.Status = http.StatusForbidden
			}
			if ref.Message != "" {
				refused.Message = ref.Message
			}
		}
		h.log.Debug().Int("status", refused.Status).Str("room", room).Str("why", refused.Message).Msg("ingress: refused")
		return refused
	case h.cfg.Token != "":
		return &Refusal{Status: http.StatusUnauthorized, Message: msgNeedsToken}
	}
	return &Refusal{Status: http.StatusUnauthorized, Message: msgNoneAllowed}
}

// BearerToken returns the token of r's "Authorization: Bearer <token>"
// header (the scheme in any case, spaces around the token trimmed), and
// whether there is one.
func BearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (h *Handler) tooLarge(w http.ResponseWriter) {
	writeError(w, http.StatusRequestEntityTooLarge, ReasonTooLarge, "the body is over the limit of "+strconv.FormatInt(h.cfg.MaxBodyBytes, 10)+" bytes")
}

// The event-format media types of the CloudEvents HTTP binding.
const (
	formatPrefix    = "application/cloudevents"
	formatJSON      = "application/cloudevents+json"
	formatJSONBatch = "application/cloudevents-batch+json"
)

// eventFormat returns the lower-cased media type of contentType, its
// parameters cut off, as sdk-go's format.Lookup compares it (the ingress
// tests check both agree). The library is a test oracle only: the binary
// does not link it for these three comparisons.
func eventFormat(contentType string) string {
	if i := strings.IndexByte(contentType, ';'); i >= 0 {
		contentType = contentType[:i]
	}
	return strings.ToLower(strings.TrimSpace(contentType))
}

// requestMode tells the binding mode from the headers, or why none fits.
// Structured and batch mode are recognized by their media type, as
// sdk-go's HTTP binding does. Binary mode is recognized by a
// ce-specversion header of any value: sdk-go's Message.ReadEncoding only
// sees binary mode for a specversion it knows, so "2.0" would be an
// unknown encoding (our 415); here it is binary mode and events.Validate
// answers 400 naming specversion.
func requestMode(h http.Header) (mode, string) {
	contentType := h.Get("Content-Type")
	if f := eventFormat(contentType); f == formatJSON || f == formatJSONBatch {
		if _, params, err := mime.ParseMediaType(contentType); err == nil {
			if cs := params["charset"]; cs != "" && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "utf8") {
				return modeUnknown, "the JSON event formats are UTF-8; charset " + cs + " is not supported"
			}
		}
		if f == formatJSONBatch {
			return modeBatch, ""
		}
		return modeStructured, ""
	}
	if _, ok := h["Ce-Specversion"]; ok {
		return modeBinary, ""
	}
	if strings.HasPrefix(strings.ToLower(contentType), formatPrefix) {
		return modeUnknown, "unsupported event format " + contentType + ": use application/cloudevents+json or application/cloudevents-batch+json"
	}
	return modeUnknown, "not a CloudEvent: send binary mode (ce-specversion and the other ce-* headers), or application/cloudevents+json or application/cloudevents-batch+json"
}

func writeInvalid(w http.ResponseWriter, err *events.InvalidEventError) {
	writeJSON(w, http.StatusBadRequest, struct {
		Reason  string           `json:"reason"`
		Message string           `json:"message"`
		Errors  []events.Problem `json:"errors"`
	}{events.ReasonInvalidCloudEvent, err.Sentence(), err.Problems})
}

func writeError(w http.ResponseWriter, status int, reason, message string) {
	writeJSON(w, status, struct {
		Reason  string `json:"reason"`
		Message string `json:"message"`
	}{reason, message})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"reason":"internal"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte{'\n'}) // appended to b, it could copy a large answer
}
