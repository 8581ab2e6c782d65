package protocol

import (
	"bytes"
	"strings"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

type v2JSON struct{}

func (v2JSON) Version() Version { return V2 }

// Decode parses [join_ref, ref, topic, event, payload] (extra trailing
// elements are ignored) or, when binary, a kind-0 push frame.
//
// Topic, event and refs share one string allocation; the payload aliases data.
func (v2JSON) Decode(data []byte, binary bool) (Message, error) {
	if binary {
		return decodeBinaryPush(data)
	}
	if err := validUTF8(data); err != nil {
		return Message{}, err
	}
	i := jsontext.SkipSpace(data, 0)
	if i >= len(data) {
		return Message{}, errorf(CodeNotJSON, "empty frame")
	}
	if data[i] != '[' {
		if _, err := scanner.Value(data, i); err != nil {
			return Message{}, jsonError(err)
		}
		return Message{}, errorf(CodeShape, "V2 message must be a JSON array")
	}
	var el [5][]byte
	n := 0
	end, err := scanner.Elements(data, i, func(v []byte) {
		if n < len(el) {
			el[n] = v
		}
		n++
	})
	if err != nil {
		return Message{}, jsonError(err)
	}
	if n == 0 {
		return Message{}, errorf(CodeTooFewElements, "got 0")
	}
	if jsontext.SkipSpace(data, end) != len(data) {
		return Message{}, errorf(CodeNotJSON, "data after the array")
	}
	if n < 5 {
		return Message{}, errorf(CodeTooFewElements, "got "+itoa(n))
	}
	for f, name := range [...]string{2: "topic", 3: "event"} {
		if name != "" && el[f][0] != '"' {
			return Message{}, errorf(CodeFieldType, name+" must be a string")
		}
	}
	// One allocation for everything before the payload.
	var b strings.Builder
	b.Grow(len(el[0]) + len(el[1]) + len(el[2]) + len(el[3]))
	var at [5]int // where field f starts in header
	for f, tok := range el[:4] {
		b.Write(tok)
		at[f+1] = b.Len()
	}
	header := b.String()
	field := func(f int) string { return header[at[f]:at[f+1]] }
	escaped := func(f int) bool { return bytes.IndexByte(el[f], '\\') >= 0 }
	str := func(f int) string {
		if escaped(f) {
			u, _ := jsontext.Unquote(el[f])
			return u
		}
		s := field(f)
		return s[1 : len(s)-1]
	}
	ref := func(f int) Ref {
		s := field(f)
		if s[0] == '"' && !escaped(f) {
			return StringRef(s[1 : len(s)-1])
		}
		return RawRef(s)
	}
	return Message{
		Kind:    Push,
		JoinRef: ref(0),
		Ref:     ref(1),
		Topic:   str(2),
		Event:   str(3),
		Payload: el[4],
	}, nil
}

// Append encodes m as a V2 JSON array, or as a binary frame if m.Binary.
// It grows dst at most once.
func (v2JSON) Append(dst []byte, m *Message) ([]byte, error) {
	if m.Binary {
		return appendBinary(dst, m)
	}
	if err := checkObjectPayload(m.Payload); err != nil {
		return dst, err
	}
	payload := payloadOrEmpty(m.Payload)
	event := m.Event
	if m.Kind == Reply {
		event = EventReply
	}
	size := 6 + m.JoinRef.jsonLen() + m.Ref.jsonLen() + jsontext.QuotedLen(m.Topic) + jsontext.QuotedLen(event) + len(payload)
	if m.Kind == Reply {
		size += len(`{"response":,"status":}`) + jsontext.QuotedLen(m.Status)
	}
	dst = grow(dst, size)
	dst = append(dst, '[')
	dst = m.JoinRef.appendJSON(dst)
	dst = append(dst, ',')
	dst = m.Ref.appendJSON(dst)
	dst = append(dst, ',')
	dst = jsontext.AppendQuote(dst, m.Topic)
	dst = append(dst, ',')
	dst = jsontext.AppendQuote(dst, event)
	dst = append(dst, ',')
	dst = appendPayload(dst, m, payload)
	return append(dst, ']'), nil
}

// appendPayload appends the payload, wrapped as {"response":..,"status":..}
// for replies (keys in the order Phoenix emits them).
func appendPayload(dst []byte, m *Message, payload []byte) []byte {
	if m.Kind != Reply {
		return append(dst, payload...)
	}
	dst = append(dst, `{"response":`...)
	dst = append(dst, payload...)
	dst = append(dst, `,"status":`...)
	dst = jsontext.AppendQuote(dst, m.Status)
	return append(dst, '}')
}

func grow(dst []byte, n int) []byte {
	if cap(dst)-len(dst) >= n {
		return dst
	}
	out := make([]byte, len(dst), len(dst)+n)
	copy(out, dst)
	return out
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
