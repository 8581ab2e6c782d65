package ingress

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/fawkes-rt/fawkes/channels/events"
)

// Limits of GET {mount}/{room}?limit=N.
const (
	DefaultHistoryLimit = 100
	MaxHistoryLimit     = 1000
)

// Reasons of the history's error answers.
const (
	ReasonInvalidLimit = "invalid_limit"
	ReasonInvalidAfter = "invalid_after"
	ReasonUnknownEvent = "unknown_event"
	ReasonHistoryOff   = "history_off"
)

// MaxHistoryIDBytes bounds the after parameter, as the events channel
// bounds a join's last_event_id.
const MaxHistoryIDBytes = events.DefaultMaxLastEventIDBytes

const (
	historyContentType = "application/cloudevents-batch+json"
	// historyReadTimeout bounds a read, so that a stalled Redis does not
	// hold the request until the client gives up.
	historyReadTimeout = 5 * time.Second
)

// HistoryReader reads a room's history; *events.Service implements it.
type HistoryReader interface {
	// ReadHistory returns the events of room after the event with id after
	// (from the oldest kept when after is ""), at most limit, oldest
	// first. It returns events.ErrNoHistory when no history is kept. It is
	// called on the request's goroutine, concurrently with anything.
	ReadHistory(ctx context.Context, room, after string, limit int) (events.Page, error)
}

// serveHistory answers GET {mount}/{room}?after=<id>&limit=N:
//
//	200 [<event>,...]   the events after <id> (from the oldest kept without
//	                    after), at most N (default 100, at most 1000), oldest
//	                    first, each exactly as broadcast, as a CloudEvents
//	                    JSON batch (application/cloudevents-batch+json); when
//	                    N left newer ones out, a Link header rel="next"
//	                    gives the URL of the next page
//	400                 limit not an integer from 1 to 1000 (invalid_limit),
//	                    after empty or over 256 bytes (invalid_after)
//	404                 no event <id> in the history: it expired, was pushed
//	                    out, or never was; read from the oldest, or reload
//	                    (unknown_event). Or the server keeps no history
//	                    (history_off)
//	503                 the history could not be read
func (h *Handler) serveHistory(w http.ResponseWriter, r *http.Request, room string) {
	q := r.URL.Query()
	limit := DefaultHistoryLimit
	if s, ok := q["limit"]; ok {
		n, err := strconv.Atoi(s[0])
		if err != nil || n < 1 || n > MaxHistoryLimit {
			writeError(w, http.StatusBadRequest, ReasonInvalidLimit, fmt.Sprintf("limit must be an integer from 1 to %d", MaxHistoryLimit))
			return
		}
		limit = n
	}
	after, hasAfter := q.Get("after"), q.Has("after")
	if hasAfter && (after == "" || len(after) > MaxHistoryIDBytes) {
		writeError(w, http.StatusBadRequest, ReasonInvalidAfter, fmt.Sprintf("after must be the id of an event, 1 to %d bytes", MaxHistoryIDBytes))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyReadTimeout)
	defer cancel()
	page, err := h.cfg.History.ReadHistory(ctx, room, after, limit)
	switch {
	case errors.Is(err, events.ErrNoHistory):
		writeError(w, http.StatusNotFound, ReasonHistoryOff, "this server keeps no history (--history-size 0)")
		return
	case err != nil:
		h.log.Warn().Err(err).Str("room", room).Msg("ingress: history not read")
		writeError(w, http.StatusServiceUnavailable, ReasonUnavailable, "the history could not be read")
		return
	case !page.Found:
		writeError(w, http.StatusNotFound, ReasonUnknownEvent, fmt.Sprintf("no event %q in the history of %s: it expired, was pushed out, or never was", after, room))
		return
	}
	size := 2
	for _, rec := range page.Events {
		size += len(rec.Raw) + 1
	}
	body := make([]byte, 0, size)
	body = append(body, '[')
	for i, rec := range page.Events {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, rec.Raw...)
	}
	body = append(body, ']')
	if page.More && len(page.Events) > 0 {
		next := url.URL{Path: r.URL.Path, RawQuery: url.Values{"after": {page.Events[len(page.Events)-1].ID}, "limit": {strconv.Itoa(limit)}}.Encode()}
		w.Header().Set("Link", "<"+next.String()+`>; rel="next"`)
	}
	w.Header().Set("Content-Type", historyContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	h.log.Debug().Str("room", room).Int("events", len(page.Events)).Msg("ingress: history read")
}
