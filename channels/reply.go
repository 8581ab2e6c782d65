package channels

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Typed replies: the response as a Go value or as an error's public
// reason, instead of raw JSON bytes. In Elixir and in Go:
//
//	{:reply, {:ok, %{id: id}}, socket}             channels.Replied(channels.OKJSON(map[string]string{"id": id}))
//	{:reply, {:error, %{reason: "bad"}}, socket}   channels.Replied(channels.ErrorReason("bad"))
//	{:error, %{reason: "unauthorized"}}  (join/3)  channels.ErrorReason("unauthorized")

// ErrNotObject is the encoding error of a reply, push or broadcast whose Go
// value does not encode to a JSON object: Phoenix payloads are objects.
var ErrNotObject = errors.New("channels: payload must encode to a JSON object")

// JSON returns a reply with status whose response is v encoded with
// encoding/json; v must encode to a JSON object (a struct, a map, a
// json.RawMessage holding an object). A nil v means {}.
//
// Encoding happens here. When it fails the Reply carries the error, and
// the Mux treats it as Phoenix treats a reply it cannot encode: a Join
// returning it is refused with "join crashed", a HandleIn result crashes
// the channel (phx_error), and Socket.ReplyTo returns the error. Either way
// the error is logged with the topic and event.
func JSON(status string, v any) Reply {
	b, err := EncodeObject(v)
	return Reply{Status: status, Response: b, err: err}
}

// OKJSON returns an "ok" reply whose response is v as JSON (see JSON).
func OKJSON(v any) Reply { return JSON(StatusOK, v) }

// ErrorJSON returns an "error" reply whose response is v as JSON (see JSON).
func ErrorJSON(v any) Reply { return JSON(StatusError, v) }

// ErrorReason returns an "error" reply {"reason": reason}: Phoenix's
// {:error, %{reason: reason}}, which phoenix.js hands to
// receive("error", ({reason}) => ...).
func ErrorReason(reason string) Reply {
	return Reply{Status: StatusError, Response: reasonObject(reason)}
}

// ErrorFrom returns the "error" reply for err: {"reason": r}, where r is
// the Reason of the first *RefusedError in err's chain, or fallback when
// there is none, so that internal details (a database error, say) never
// reach the client. A nil err gives fallback too.
func ErrorFrom(err error, fallback string) Reply {
	return ErrorReason(PublicReason(err, fallback))
}

// OKUnless returns an empty "ok" reply when err is nil, else
// ErrorFrom(err, fallback): the reply of an action that may fail, as
// {:reply, :ok, socket} after a broadcast!.
func OKUnless(err error, fallback string) Reply {
	if err != nil {
		return ErrorFrom(err, fallback)
	}
	return OK(nil)
}

// Reply statuses phoenix.js's receive("ok") and receive("error") match.
// Any other string is a valid custom status.
const (
	StatusOK    = "ok"
	StatusError = "error"
)

// Join outcomes the Mux reports to Hooks.Joined for the joins it refuses
// itself, besides the reply statuses above. They never reach a client: the
// client gets an "error" reply.
const (
	JoinUnmatched = "unmatched" // no route for the topic
	JoinTooMany   = "too_many"  // the connection is at MaxChannels
	JoinCrashed   = "crashed"   // the channel's Join panicked
)

// Err returns the error met while encoding the reply's response (see
// JSON), or nil.
func (r Reply) Err() error { return r.err }

// EncodeObject encodes v as a JSON object with encoding/json, for a push,
// reply or broadcast payload. A nil v gives {}; a json.RawMessage or
// []byte is taken as JSON text and only checked. It returns ErrNotObject
// (wrapped) when v encodes to anything but an object.
func EncodeObject(v any) ([]byte, error) {
	var b []byte
	switch v := v.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		b = v
	case []byte:
		b = v
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return nil, err
		}
	}
	if !isJSONObject(b) {
		return nil, fmt.Errorf("%w (got %.40q)", ErrNotObject, b)
	}
	return b, nil
}

// isJSONObject reports whether b is a valid JSON object (surrounding space
// allowed).
func isJSONObject(b []byte) bool {
	i := 0
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i < len(b) && b[i] == '{' && json.Valid(b)
}

// reasonObject returns {"reason": reason}.
func reasonObject(reason string) []byte {
	q, _ := json.Marshal(reason) // a string always encodes
	out := make([]byte, 0, len(q)+len(`{"reason":}`))
	out = append(out, `{"reason":`...)
	out = append(out, q...)
	return append(out, '}')
}
