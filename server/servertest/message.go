package servertest

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// EventReply is the event of every reply.
const EventReply = "phx_reply"

// Message is one message the server sent: a reply, a push or a broadcast.
type Message struct {
	// JoinRef and Ref are the refs as strings; "" stands for null, and a
	// number ref (a V1 client may send one) is its JSON text. A push
	// carries its channel's join_ref and no ref, a broadcast neither, a
	// reply both (the ref of the message it answers); V1 has no join_ref.
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
	// Raw is the message as it arrived: the bytes of the WebSocket text or
	// binary message, or the string of the LongPoll "messages" entry. Tests
	// of the serializer compare it byte for byte, or as JSON (a ref's JSON
	// type, "1" or 1, shows only here).
	Raw []byte
	// Received is when the client read the message off the connection, for
	// latency figures.
	Received time.Time
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

// String returns the JSON text the message came in, or the message as a
// V2 JSON frame with its binary payload in hex.
func (m Message) String() string {
	if !m.Binary && m.Raw != nil {
		return string(m.Raw)
	}
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
