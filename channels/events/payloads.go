package events

import (
	"encoding/json"
	"time"
)

// Event names of the channel.
const (
	EventCloudEvent  = "cloudevent"
	EventPing        = "ping"
	EventPong        = "pong"
	EventSubscribe   = "subscribe"
	EventUnsubscribe = "unsubscribe"
	EventHeartbeat   = "heartbeat"
	EventError       = "error"
)

// Reasons of error replies besides those of validation and subscriptions.
const (
	ReasonUnknownEvent       = "unknown_event"
	ReasonBinaryNotSupported = "binary_not_supported"
)

// timestampLayout is RFC 3339 in UTC with exactly six fractional digits,
// as Elixir's DateTime.to_iso8601 of a microsecond timestamp.
const timestampLayout = "2006-01-02T15:04:05.000000Z"

// timestampPayload returns {"timestamp":T} for t.
func timestampPayload(t time.Time) []byte {
	b := make([]byte, 0, len(`{"timestamp":""}`)+len(timestampLayout))
	b = append(b, `{"timestamp":"`...)
	b = appendTimestamp(b, t)
	return append(b, `"}`...)
}

// appendTimestamp appends t in timestampLayout. It is AppendFormat for this
// one layout without reading the layout: a ping's pong and reply carry a
// timestamp, and AppendFormat's layout parsing was ~2% of the server's CPU
// under request/response load.
func appendTimestamp(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	hour, minute, sec := t.Clock()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, timestampLayout)
	}
	b = appendDigits(b, year, 4)
	b = append(b, '-')
	b = appendDigits(b, int(month), 2)
	b = append(b, '-')
	b = appendDigits(b, day, 2)
	b = append(b, 'T')
	b = appendDigits(b, hour, 2)
	b = append(b, ':')
	b = appendDigits(b, minute, 2)
	b = append(b, ':')
	b = appendDigits(b, sec, 2)
	b = append(b, '.')
	b = appendDigits(b, t.Nanosecond()/1000, 6)
	return append(b, 'Z')
}

// appendDigits appends the n low decimal digits of v (v >= 0), zero-padded.
func appendDigits(b []byte, v, n int) []byte {
	b = append(b, "000000"[:n]...)
	for i := len(b) - 1; i >= len(b)-n; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
	return b
}

// reasonPayload returns {"reason":reason,"message":message}, or only the
// reason when message is "".
func reasonPayload(reason, message string) []byte {
	return mustJSON(struct {
		Reason  string `json:"reason"`
		Message string `json:"message,omitempty"`
	}{reason, message})
}

// invalidEventPayload returns the E of docs/events-channel.md for err.
func invalidEventPayload(err *InvalidEventError) []byte {
	return mustJSON(struct {
		Reason  string    `json:"reason"`
		Message string    `json:"message"`
		Errors  []Problem `json:"errors"`
	}{ReasonInvalidCloudEvent, err.Sentence(), err.Problems})
}

// eventTypesPayload returns {"event_types":[...]}.
func eventTypesPayload(patterns []string) []byte {
	if patterns == nil {
		patterns = []string{}
	}
	return mustJSON(struct {
		EventTypes []string `json:"event_types"`
	}{patterns})
}

// idPayload returns {"id":<the id's JSON token as received>}.
func idPayload(idToken []byte) []byte {
	b := make([]byte, 0, len(`{"id":}`)+len(idToken))
	b = append(b, `{"id":`...)
	b = append(b, idToken...)
	return append(b, '}')
}

// mustJSON marshals values that cannot fail to marshal (strings, slices of
// strings and Problems).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
