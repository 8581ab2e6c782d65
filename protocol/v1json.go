package protocol

import "bytes"

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
	i := skipSpace(data, 0)
	if i >= len(data) {
		return Message{}, errorf(CodeNotJSON, "empty frame")
	}
	end, err := scanValue(data, i, 0)
	if err != nil {
		return Message{}, err
	}
	if skipSpace(data, end) != len(data) {
		return Message{}, errorf(CodeNotJSON, "data after the object")
	}
	switch data[i] {
	case '{':
	case '[':
		return Message{}, errorf(CodeV2OnV1, "connect with vsn=2.0.0 to send arrays")
	default:
		return Message{}, errorf(CodeShape, "V1 message must be a JSON object")
	}
	var m Message
	var seen [5]bool // topic, event, payload, ref, join_ref
	// Topic and event are typed once the last of duplicate keys is known:
	// the last one wins, as in Jason and encoding/json.
	var topic, event []byte
	// The object is valid JSON: walk its members.
	i = skipSpace(data, i+1)
	for i < len(data) && data[i] == '"' {
		kend, kesc, _ := scanString(data, i)
		key := string(data[i+1 : kend-1])
		if kesc {
			key, _ = unquoteJSON(data[i:kend])
		}
		vstart := skipSpace(data, skipSpace(data, kend)+1)
		vend, _ := scanValue(data, vstart, 1)
		val := data[vstart:vend]
		switch key {
		case "topic":
			topic, seen[0] = val, true
		case "event":
			event, seen[1] = val, true
		case "payload":
			m.Payload, seen[2] = val, true
		case "ref":
			m.Ref, seen[3] = rawOrStringRef(val), true
		case "join_ref":
			m.JoinRef, seen[4] = rawOrStringRef(val), true
		}
		i = skipSpace(data, vend)
		if data[i] == ',' {
			i = skipSpace(data, i+1)
		}
	}
	for k, name := range [...]string{"topic", "event", "payload", "ref"} {
		if !seen[k] {
			return Message{}, errorf(CodeMissingKey, name)
		}
	}
	var ok bool
	if m.Topic, ok = unquoteJSON(topic); !ok {
		return Message{}, errorf(CodeFieldType, "topic must be a string")
	}
	if m.Event, ok = unquoteJSON(event); !ok {
		return Message{}, errorf(CodeFieldType, "event must be a string")
	}
	return m, nil
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
	size := len(`{"event":,"payload":,"ref":,"topic":}`) + jsonStringLen(event) + len(payload) + m.Ref.jsonLen() + jsonStringLen(m.Topic)
	if m.Kind == Reply {
		size += len(`{"response":,"status":}`) + jsonStringLen(m.Status)
	}
	dst = grow(dst, size)
	dst = append(dst, `{"event":`...)
	dst = appendJSONString(dst, event)
	dst = append(dst, `,"payload":`...)
	dst = appendPayload(dst, m, payload)
	dst = append(dst, `,"ref":`...)
	dst = m.Ref.appendJSON(dst)
	dst = append(dst, `,"topic":`...)
	dst = appendJSONString(dst, m.Topic)
	return append(dst, '}'), nil
}
