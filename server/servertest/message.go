package servertest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// EventReply is the event of every reply.
const EventReply = "phx_reply"

// Message is one message the server sent: a reply, a push or a broadcast.
type Message struct {
	// JoinRef and Ref are the refs as strings; "" stands for null. A push
	// carries its channel's join_ref and no ref, a broadcast neither, a
	// reply both (the ref of the message it answers).
	JoinRef, Ref string
	// Topic and Event name the message; a reply's event is "phx_reply".
	Topic, Event string
	// Payload is the raw JSON payload (for a reply, the whole
	// {"status":..,"response":..}), or the raw bytes of a binary frame (for
	// a binary reply, the response alone).
	Payload json.RawMessage
	// Binary reports a binary frame.
	Binary bool
	// Status is the status of a binary reply (JSON replies keep it in
	// Payload; see Reply).
	Status string
}

// Decode unmarshals the payload into v, with encoding/json.
func (m Message) Decode(v any) error {
	if m.Binary {
		return errors.New("servertest: Decode of a binary message")
	}
	return json.Unmarshal(m.Payload, v)
}

// IsBroadcast reports whether m has neither join_ref nor ref, as a
// broadcast that went to every subscriber in the same bytes.
func (m Message) IsBroadcast() bool { return m.JoinRef == "" && m.Ref == "" && m.Event != EventReply }

// Reply returns m as a reply, and whether it is one.
func (m Message) Reply() (Reply, bool) {
	if m.Event != EventReply {
		return Reply{}, false
	}
	if m.Binary {
		return Reply{Status: m.Status, Response: m.Payload, Binary: true}, true
	}
	var r struct {
		Status   string          `json:"status"`
		Response json.RawMessage `json:"response"`
	}
	if err := json.Unmarshal(m.Payload, &r); err != nil {
		return Reply{}, false
	}
	return Reply{Status: r.Status, Response: r.Response}, true
}

// String returns the message as the V2 JSON frame it came in (binary
// payloads in hex).
func (m Message) String() string {
	ref := func(s string) string {
		if s == "" {
			return "null"
		}
		q, _ := json.Marshal(s)
		return string(q)
	}
	payload := string(m.Payload)
	if m.Binary {
		payload = fmt.Sprintf("<binary %s % x>", m.Status, []byte(m.Payload))
	}
	return fmt.Sprintf("[%s,%s,%q,%q,%s]", ref(m.JoinRef), ref(m.Ref), m.Topic, m.Event, payload)
}

// Reply is the answer to a message the client sent.
type Reply struct {
	// Status is "ok", "error", or a custom status.
	Status string
	// Response is the raw JSON response ({} when the server gave none), or
	// raw bytes when Binary.
	Response json.RawMessage
	// Binary reports a binary reply.
	Binary bool
}

// OK reports whether the status is "ok".
func (r Reply) OK() bool { return r.Status == "ok" }

// Decode unmarshals the response into v, with encoding/json.
func (r Reply) Decode(v any) error {
	if r.Binary {
		return errors.New("servertest: Decode of a binary reply")
	}
	return json.Unmarshal(r.Response, v)
}

// Reason returns the "reason" of the response, as phoenix.js's
// receive("error", ({reason}) => ...) reads it, or "".
func (r Reply) Reason() string {
	var v struct {
		Reason string `json:"reason"`
	}
	_ = r.Decode(&v)
	return v.Reason
}

// String returns the reply as "status response".
func (r Reply) String() string {
	if r.Binary {
		return fmt.Sprintf("%s <binary % x>", r.Status, []byte(r.Response))
	}
	return r.Status + " " + string(r.Response)
}

// decodeText parses a V2 JSON frame from the server.
func decodeText(data []byte) (Message, error) {
	var arr []json.RawMessage
	if err := json.Unmarshal(data, &arr); err != nil || len(arr) != 5 {
		return Message{}, fmt.Errorf("servertest: not a V2 frame: %.80s", data)
	}
	var m Message
	for i, dst := range []*string{&m.JoinRef, &m.Ref, &m.Topic, &m.Event} {
		if bytes.Equal(arr[i], []byte("null")) {
			continue
		}
		if err := json.Unmarshal(arr[i], dst); err != nil {
			return Message{}, fmt.Errorf("servertest: field %d of %.80s: %v", i, data, err)
		}
	}
	m.Payload = arr[4]
	return m, nil
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
	m := Message{Binary: true, Payload: rest}
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

// encodeText returns the V2 JSON frame of a client message.
func encodeText(joinRef, ref, topic, event string, payload []byte) []byte {
	q := func(s string) []byte {
		if s == "" {
			return []byte("null")
		}
		b, _ := json.Marshal(s)
		return b
	}
	t, _ := json.Marshal(topic)
	e, _ := json.Marshal(event)
	out := []byte{'['}
	out = append(append(out, q(joinRef)...), ',')
	out = append(append(out, q(ref)...), ',')
	out = append(append(out, t...), ',')
	out = append(append(out, e...), ',')
	out = append(out, payload...)
	return append(out, ']')
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
