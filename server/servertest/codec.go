package servertest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// codec is the serializer a client speaks: V2 arrays (and binary frames),
// or V1 objects.
type codec struct{ v1 bool }

// codecFor returns the serializer of a vsn param (see Vsn).
func codecFor(vsn string) codec { return codec{v1: !strings.HasPrefix(vsn, "2.")} }

// decodeText parses a JSON frame from the server.
func (cd codec) decodeText(data []byte) (Message, error) {
	var m Message
	var err error
	if cd.v1 {
		m, err = decodeV1(data)
	} else {
		m, err = decodeV2(data)
	}
	m.Raw = data
	return m, err
}

// decodeV2 parses [join_ref, ref, topic, event, payload].
func decodeV2(data []byte) (Message, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) != 5 {
		return Message{}, fmt.Errorf("servertest: not a V2 frame: %.80s", data)
	}
	var m Message
	var err error
	if m.JoinRef, err = refText(arr[0]); err == nil {
		m.Ref, err = refText(arr[1])
	}
	if err == nil {
		err = json.Unmarshal(arr[2], &m.Topic)
	}
	if err == nil {
		err = json.Unmarshal(arr[3], &m.Event)
	}
	if err != nil {
		return Message{}, fmt.Errorf("servertest: V2 frame %.80s: %v", data, err)
	}
	m.Payload = arr[4]
	return m, nil
}

// decodeV1 parses {"topic", "event", "payload", "ref"} (and "join_ref",
// which a V1 server does not send).
func decodeV1(data []byte) (Message, error) {
	var obj struct {
		Topic, Event string
		Payload      json.RawMessage
		Ref          json.RawMessage
		JoinRef      json.RawMessage `json:"join_ref"`
	}
	if err := json.Unmarshal(data, &obj); err != nil || obj.Payload == nil {
		return Message{}, fmt.Errorf("servertest: not a V1 frame: %.80s", data)
	}
	m := Message{Topic: obj.Topic, Event: obj.Event, Payload: obj.Payload}
	var err error
	if m.Ref, err = refText(obj.Ref); err == nil {
		m.JoinRef, err = refText(obj.JoinRef)
	}
	if err != nil {
		return Message{}, fmt.Errorf("servertest: V1 frame %.80s: %v", data, err)
	}
	return m, nil
}

// refText returns a ref as Message holds it: "" for null or absent, a
// string's value, a number's JSON text.
func refText(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", nil
	case raw[0] == '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", fmt.Errorf("ref %s is neither a string nor a number", raw)
	}
	return n.String(), nil
}

// encodeText returns the JSON frame of a client message, with payload
// as given; "" refs are null.
func (cd codec) encodeText(joinRef, ref, topic, event string, payload []byte) []byte {
	q := func(s string) []byte {
		if s == "" {
			return []byte("null")
		}
		b, _ := json.Marshal(s)
		return b
	}
	t, _ := json.Marshal(topic)
	e, _ := json.Marshal(event)
	var out []byte
	if cd.v1 {
		out = append(append(append(out, `{"topic":`...), t...), `,"event":`...)
		out = append(append(out, e...), `,"payload":`...)
		out = append(append(out, payload...), `,"ref":`...)
		out = append(append(out, q(ref)...), `,"join_ref":`...)
		return append(append(out, q(joinRef)...), '}')
	}
	out = append(out, '[')
	for _, f := range [][]byte{q(joinRef), q(ref), t, e} {
		out = append(append(out, f...), ',')
	}
	out = append(out, payload...)
	return append(out, ']')
}

// Kinds of V2 binary frames from the server.
const (
	kindPush      = 0
	kindReply     = 1
	kindBroadcast = 2
)

// decodeBinary parses a V2 binary frame from the server.
func decodeBinary(data []byte) (Message, error) {
	bad := fmt.Errorf("servertest: malformed binary frame % x", data)
	if len(data) == 0 {
		return Message{}, bad
	}
	var n int
	switch data[0] {
	case kindPush:
		n = 3
	case kindReply:
		n = 4
	case kindBroadcast:
		n = 2
	default:
		return Message{}, bad
	}
	if len(data) < 1+n {
		return Message{}, bad
	}
	fields := make([]string, n)
	rest := data[1+n:]
	for i := range n {
		l := int(data[1+i])
		if len(rest) < l {
			return Message{}, bad
		}
		fields[i], rest = string(rest[:l]), rest[l:]
	}
	m := Message{Binary: true, Payload: rest, Raw: data}
	switch data[0] {
	case kindPush:
		m.JoinRef, m.Topic, m.Event = fields[0], fields[1], fields[2]
	case kindReply:
		m.JoinRef, m.Ref, m.Topic, m.Status, m.Event = fields[0], fields[1], fields[2], fields[3], EventReply
	case kindBroadcast:
		m.Topic, m.Event = fields[0], fields[1]
	}
	return m, nil
}

// encodeBinary returns the V2 binary push frame of a client message.
func encodeBinary(joinRef, ref, topic, event string, payload []byte) ([]byte, error) {
	fields := []string{joinRef, ref, topic, event}
	out := []byte{kindPush}
	for _, f := range fields {
		if len(f) > 255 {
			return nil, fmt.Errorf("servertest: %q is over 255 bytes", f)
		}
		out = append(out, byte(len(f)))
	}
	for _, f := range fields {
		out = append(out, f...)
	}
	return append(out, payload...), nil
}

// encodePayload returns v as a JSON payload: nil is {}, a json.RawMessage
// or []byte is taken as JSON text, anything else goes through
// encoding/json.
func encodePayload(v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return []byte("{}"), nil
	case json.RawMessage:
		return v, nil
	case []byte:
		return v, nil
	case string:
		return []byte(v), nil
	}
	return json.Marshal(v)
}
