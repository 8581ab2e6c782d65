// Package wire holds the few byte-level pieces fawkes-bench needs on both
// sides of a socket: locating the fields of a Phoenix V2 JSON message
// without decoding it, and reading and writing WebSocket frames.
//
// Nothing here validates JSON: the load generator trusts the server it
// measures, and the reference server trusts the load generator. What it
// cannot parse it reports as malformed, and the caller counts that.
package wire

import (
	"bytes"
	"errors"
	"math"
)

// ErrMalformed means a message is not a V2 JSON array whose first four
// elements are null or strings.
var ErrMalformed = errors.New("wire: malformed V2 message")

// Message is a V2 JSON message [join_ref, ref, topic, event, payload] as
// slices of the frame it was scanned from. String fields hold the raw
// bytes between the quotes (escapes are left as they are); a JSON null is
// a nil slice. Payload is the raw JSON value. The slices alias the frame:
// they are valid only until the frame's buffer is reused.
type Message struct {
	JoinRef, Ref, Topic, Event []byte
	Payload                    []byte
}

// Scan locates the fields of a V2 JSON message. It reads the four header
// elements and takes everything up to the closing bracket as the payload,
// so its cost does not grow with the payload's structure.
func Scan(b []byte) (Message, error) {
	var m Message
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return m, ErrMalformed
	}
	i++
	fields := [4]*[]byte{&m.JoinRef, &m.Ref, &m.Topic, &m.Event}
	for _, f := range fields {
		i = skipSpace(b, i)
		var ok bool
		if *f, i, ok = scanNullOrString(b, i); !ok {
			return m, ErrMalformed
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ',' {
			return m, ErrMalformed
		}
		i++
	}
	end := len(b) - 1
	for end > i && isSpace(b[end]) {
		end--
	}
	if end <= i || b[end] != ']' {
		return m, ErrMalformed
	}
	m.Payload = bytes.TrimSpace(b[i:end])
	if len(m.Payload) == 0 {
		return m, ErrMalformed
	}
	return m, nil
}

func scanNullOrString(b []byte, i int) ([]byte, int, bool) {
	if i+4 <= len(b) && string(b[i:i+4]) == "null" {
		return nil, i + 4, true
	}
	if i >= len(b) || b[i] != '"' {
		return nil, i, false
	}
	start := i + 1
	for j := start; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return b[start:j], j + 1, true
		}
	}
	return nil, i, false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// Uint parses a decimal ref such as "42". It returns false for anything
// else, including refs fawkes-bench did not choose.
func Uint(ref []byte) (uint64, bool) {
	if len(ref) == 0 || len(ref) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range ref {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// ReplyStatus returns the "status" of a phx_reply payload, or nil. It looks
// for the key anywhere in the payload, so a response that itself carries a
// "status" key can mislead it; Phoenix replies carry status at the top.
func ReplyStatus(payload []byte) []byte {
	v, _ := findStringOrNumber(payload, `"status"`)
	return v
}

// FindInt returns the integer value of the first `"key": 123` or
// `"key": "123"` in b, where key is given with its quotes. It is how a
// subscriber finds the send time in an event without decoding it.
func FindInt(b []byte, quotedKey string) (int64, bool) {
	v, ok := findStringOrNumber(b, quotedKey)
	if !ok {
		return 0, false
	}
	return parseInt(v)
}

// FindIntHint is FindInt that first looks for the key at offset *hint and
// records there where it found it. A subscriber receives the same bytes for
// every delivery of an event, so the key is nearly always where it was the
// last time and the search costs a comparison instead of a scan of the
// event. hint is owned by the caller (one per reading goroutine).
func FindIntHint(b []byte, quotedKey string, hint *int) (int64, bool) {
	if h := *hint; h > 0 && h+len(quotedKey) <= len(b) && string(b[h:h+len(quotedKey)]) == quotedKey {
		if v, ok := valueAfterKey(b, h+len(quotedKey)); ok {
			return parseInt(v)
		}
	}
	for off := 0; ; {
		k := bytes.Index(b[off:], []byte(quotedKey))
		if k < 0 {
			return 0, false
		}
		at := off + k
		off = at + len(quotedKey)
		if v, ok := valueAfterKey(b, off); ok {
			*hint = at
			return parseInt(v)
		}
	}
}

// parseInt parses an optionally negative decimal int64 without allocating
// (strconv.ParseInt(string(v)) allocates the string).
func parseInt(v []byte) (int64, bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0') // 19 digits fit in a uint64
	}
	if n > math.MaxInt64 {
		return 0, false
	}
	if neg {
		return -int64(n), true
	}
	return int64(n), true
}

// valueAfterKey returns the string contents or number that follows a key
// ending just before i (`: "123"` or `: 123`); false when b[i:] does not
// start with a colon, i.e. the key text was a value.
func valueAfterKey(b []byte, i int) ([]byte, bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return nil, false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '"' {
		v, _, ok := scanNullOrString(b, i)
		return v, ok
	}
	j := i
	for j < len(b) && (b[j] == '-' || b[j] >= '0' && b[j] <= '9') {
		j++
	}
	return b[i:j], j > i
}

func findStringOrNumber(b []byte, quotedKey string) ([]byte, bool) {
	for off := 0; ; {
		k := bytes.Index(b[off:], []byte(quotedKey))
		if k < 0 {
			return nil, false
		}
		off += k + len(quotedKey)
		if i := skipSpace(b, off); i >= len(b) || b[i] != ':' {
			continue // the key text was a value, not a key
		}
		return valueAfterKey(b, off)
	}
}
