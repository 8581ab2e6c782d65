package protocol

import (
	"bytes"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

type v1JSON struct{}

func (v1JSON) Version() Version { return V1 }

// Decode parses {"topic","event","payload","ref"[,"join_ref"]}. All four
// keys are required; unknown keys are ignored. Binary frames are refused.
func (v1JSON) Decode(data []byte, binary bool) (Message, error) {
	if binary {
		return Message{}, errorf(CodeBinaryUnsupported, "V1 has no binary frames")
	}
	if err := validUTF8(data); err != nil {
		return Message{}, err
	}
	i := jsontext.SkipSpace(data, 0)
	if i >= len(data) {
		return Message{}, errorf(CodeNotJSON, "empty frame")
	}
	var m Message
	var seen [5]bool // topic, event, payload, ref, join_ref
	// Topic and event are typed once the last of duplicate keys is known:
	// the last one wins, as in Jason and encoding/json.
	var topic, event []byte
	var end int
	var err error
	if data[i] == '{' {
		end, err = scanner.Members(data, i, func(key, val []byte) {
			f := v1Field(key)
			if f < 0 {
				return
			}
			seen[f] = true
			switch f {
			case 0:
				topic = val
			case 1:
				event = val
			case 2:
				m.Payload = val
			case 3:
				m.Ref = rawOrStringRef(val)
			case 4:
				m.JoinRef = rawOrStringRef(val)
			}
		})
	} else {
		end, err = scanner.Value(data, i)
	}
	if err != nil {
		return Message{}, jsonError(err)
	}
	if jsontext.SkipSpace(data, end) != len(data) {
		return Message{}, errorf(CodeNotJSON, "data after the object")
	}
	switch data[i] {
	case '{':
	case '[':
		return Message{}, errorf(CodeV2OnV1, "connect with vsn=2.0.0 to send arrays")
	default:
		return Message{}, errorf(CodeShape, "V1 message must be a JSON object")
	}
	for k, name := range [...]string{"topic", "event", "payload", "ref"} {
		if !seen[k] {
			return Message{}, errorf(CodeMissingKey, name)
		}
	}
	var ok bool
	if m.Topic, ok = jsontext.Unquote(topic); !ok {
		return Message{}, errorf(CodeFieldType, "topic must be a string")
	}
	if m.Event, ok = jsontext.Unquote(event); !ok {
		return Message{}, errorf(CodeFieldType, "event must be a string")
	}
	return m, nil
}

// v1Field returns the index in Decode's seen of the field a member key
// token names, or -1.
func v1Field(key []byte) int {
	name := key[1 : len(key)-1]
	if bytes.IndexByte(name, '\\') >= 0 {
		s, _ := jsontext.Unquote(key)
		name = []byte(s)
	}
	switch string(name) {
	case "topic":
		return 0
	case "event":
		return 1
	case "payload":
		return 2
	case "ref":
		return 3
	case "join_ref":
		return 4
	}
	return -1
}

// rawOrStringRef keeps a ref token verbatim unless it is a string without
// escapes, which the encoder reproduces byte for byte. (Comparing lengths is
// not enough: "\b\/\/\/\/" and "\u0008////" have the same length.)
func rawOrStringRef(tok []byte) Ref {
	if len(tok) >= 2 && tok[0] == '"' && bytes.IndexByte(tok, '\\') < 0 {
		return StringRef(string(tok[1 : len(tok)-1]))
	}
	return RawRef(string(tok))
}

// Append encodes m as {"event","payload","ref","topic"} (Phoenix's key
// order). V1 never emits join_ref and always emits ref.
func (v1JSON) Append(dst []byte, m *Message) ([]byte, error) {
	if m.Binary {
		return dst, errorf(CodeBinaryUnsupported, "V1 has no binary frames")
	}
	if err := checkObjectPayload(m.Payload); err != nil {
		return dst, err
	}
	payload := payloadOrEmpty(m.Payload)
	event := m.Event
	if m.Kind == Reply {
		event = EventReply
	}
	size := len(`{"event":,"payload":,"ref":,"topic":}`) + jsontext.QuotedLen(event) + len(payload) + m.Ref.jsonLen() + jsontext.QuotedLen(m.Topic)
	if m.Kind == Reply {
		size += len(`{"response":,"status":}`) + jsontext.QuotedLen(m.Status)
	}
	dst = grow(dst, size)
	dst = append(dst, `{"event":`...)
	dst = jsontext.AppendQuote(dst, event)
	dst = append(dst, `,"payload":`...)
	dst = appendPayload(dst, m, payload)
	dst = append(dst, `,"ref":`...)
	dst = m.Ref.appendJSON(dst)
	dst = append(dst, `,"topic":`...)
	dst = jsontext.AppendQuote(dst, m.Topic)
	return append(dst, '}'), nil
}
