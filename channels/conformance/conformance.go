// Package conformance is a channel that exercises every part of the
// protocol on demand, for testing clients and servers against each other.
// The fawkes binary mounts it on "conformance:*" with
// --conformance-channels; the JS tests and cmd/fawkes-conform use it, and
// docs/conformance.md is its catalogue for client authors (what each
// command makes the server do, and what a correct client does then).
//
// Join payload keys (all optional): "refuse" (object) refuses the join with
// that response; "crash" (true) panics in Join; "delay_ms" (number, at most
// MaxDelay) waits that long before answering; "times" (number) limits
// refuse, crash and delay_ms to the first that many joins of the topic
// (counted per topic, across connections, since the process started), so
// that a client's rejoin succeeds; "reply" (object) is the ok response;
// "push" (object) is pushed as event "after_join" right after joining.
//
// Events: "echo" replies ok with the payload; "reply" replies with the
// payload's "status" and "response"; "push" pushes "pushed" with the
// payload, then replies ok; "push_binary" pushes "binary_pushed" with the
// bytes of the payload's "hex" as a binary frame, then replies ok;
// "broadcast" and "broadcast_from" broadcast "broadcasted" with the
// payload, then reply ok; "broadcast_binary" broadcasts the bytes of "hex"
// as a binary "broadcasted"; "crash" panics; "stop" replies ok and stops
// (phx_close); "stop_error" stops as crashed (phx_error); "reply_later"
// replies ok {} after the payload's "delay_ms" (default 10 ms); "received"
// replies {"events":[...]} with the events this join received before it;
// "disconnect" replies ok and then has the server close every connection
// of this socket id (1001), or replies error on an anonymous socket. A
// binary payload on event "inspect" is answered with a JSON reply
// {"size":n,"hex":"..."}; on any other event it is echoed as a binary reply
// and a binary "binary_pushed" push. Anything else replies error
// {"reason":"unknown event"}.
package conformance

import (
	"encoding/hex"
	"encoding/json"
	"strconv"
	"sync"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// MaxDelay bounds the "delay_ms" of a join or of "reply_later".
const MaxDelay = 30 * time.Second

// maxReceived bounds the events a channel remembers for "received".
const maxReceived = 100

// Channel is the conformance channel.
type Channel struct {
	mu       sync.Mutex
	received []string // event names, in arrival order, for "received"
}

// New returns a Channel; it is a channels.Factory.
func New(string) channels.Channel { return &Channel{} }

type joinOptions struct {
	Refuse  json.RawMessage `json:"refuse"`
	Crash   bool            `json:"crash"`
	DelayMS float64         `json:"delay_ms"`
	Times   int             `json:"times"`
	Reply   json.RawMessage `json:"reply"`
	Push    json.RawMessage `json:"push"`
}

// joinCounts counts the joins of each topic that asked for a limited
// misbehaviour ("times"). It forgets everything past maxCountedTopics
// topics, which only a test suite running far longer than usual reaches.
var joinCounts = struct {
	sync.Mutex
	n map[string]int
}{n: map[string]int{}}

const maxCountedTopics = 10_000

// misbehave reports whether this join of topic is one of the first times.
func misbehave(topic string, times int) bool {
	if times <= 0 {
		return true
	}
	joinCounts.Lock()
	defer joinCounts.Unlock()
	if len(joinCounts.n) >= maxCountedTopics {
		clear(joinCounts.n)
	}
	joinCounts.n[topic]++
	return joinCounts.n[topic] <= times
}

// Join implements channels.Channel.
func (*Channel) Join(s *channels.Socket, payload []byte) channels.Reply {
	var opt joinOptions
	_ = json.Unmarshal(payload, &opt) // non-object payloads mean no options
	limited := opt.Crash || len(opt.Refuse) > 0 || opt.DelayMS > 0
	if limited && misbehave(s.Topic(), opt.Times) {
		time.Sleep(delay(opt.DelayMS))
		switch {
		case opt.Crash:
			panic("conformance: crash requested in join")
		case len(opt.Refuse) > 0:
			return channels.Error(opt.Refuse)
		}
	}
	if len(opt.Push) > 0 {
		_ = s.Push("after_join", opt.Push)
	}
	return channels.OK(opt.Reply)
}

// delay converts a "delay_ms" value, bounded by MaxDelay.
func delay(ms float64) time.Duration {
	d := time.Duration(ms * float64(time.Millisecond))
	return max(0, min(d, MaxDelay))
}

// HandleIn implements channels.Channel.
func (c *Channel) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	seen := c.record(in.Event)
	ok := channels.Replied(channels.OK(nil))
	if in.Binary {
		if in.Event == "inspect" {
			resp := `{"size":` + strconv.Itoa(len(in.Payload)) + `,"hex":"` + hex.EncodeToString(in.Payload) + `"}`
			return channels.Replied(channels.OK([]byte(resp)))
		}
		_ = s.PushBinary("binary_pushed", in.Payload)
		return channels.Replied(channels.Reply{Status: "ok", Response: in.Payload, Binary: true})
	}
	switch in.Event {
	case "echo":
		return channels.Replied(channels.OK(in.Payload))
	case "reply":
		var r struct {
			Status   string          `json:"status"`
			Response json.RawMessage `json:"response"`
		}
		if json.Unmarshal(in.Payload, &r) != nil || r.Status == "" || len(r.Response) > 0 && !isObject(r.Response) {
			return invalid(`"reply" wants {"status": string, "response": object}`)
		}
		return channels.Replied(channels.Reply{Status: r.Status, Response: r.Response})
	case "push":
		_ = s.Push("pushed", in.Payload)
		return ok
	case "push_binary", "broadcast_binary":
		b, err := hexField(in.Payload)
		if err != nil {
			return invalid(`"` + in.Event + `" wants {"hex": "<bytes in hex>"}`)
		}
		if in.Event == "push_binary" {
			_ = s.PushBinary("binary_pushed", b)
			return ok
		}
		bc := pubsub.NewBroadcast(s.Topic(), "broadcasted", b)
		bc.Binary = true
		_ = s.PubSub().Publish(bc)
		return ok
	case "broadcast":
		_ = s.Broadcast("broadcasted", in.Payload)
		return ok
	case "broadcast_from":
		_ = s.BroadcastFrom("broadcasted", in.Payload)
		return ok
	case "crash":
		panic("conformance: crash requested")
	case "stop":
		ok.Stop = channels.StopNormal
		return ok
	case "stop_error":
		return channels.Result{Stop: channels.StopError}
	case "reply_later":
		var opt struct {
			DelayMS *float64 `json:"delay_ms"`
		}
		_ = json.Unmarshal(in.Payload, &opt)
		wait := 10 * time.Millisecond
		if opt.DelayMS != nil {
			wait = delay(*opt.DelayMS)
		}
		ref := in.Ref
		time.AfterFunc(wait, func() { _ = s.ReplyTo(ref, channels.OK(nil)) })
		return channels.NoReply()
	case "received":
		b, _ := json.Marshal(struct {
			Events []string `json:"events"`
		}{seen})
		return channels.Replied(channels.OK(b))
	case "disconnect":
		id := s.Conn().ID
		if id == "" {
			return channels.Replied(channels.Error([]byte(`{"reason":"anonymous socket"}`)))
		}
		// After the reply has gone out: the close must not overtake it.
		time.AfterFunc(10*time.Millisecond, func() {
			_ = s.PubSub().Publish(pubsub.NewBroadcast(id, channels.EventDisconnect, []byte(`{}`)))
		})
		return ok
	}
	return channels.Replied(channels.Error([]byte(`{"reason":"unknown event"}`)))
}

// record remembers event and returns the events received before it.
func (c *Channel) record(event string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := append([]string{}, c.received...)
	if len(c.received) < maxReceived {
		c.received = append(c.received, event)
	}
	return before
}

// invalid is the error reply to a command with a payload it cannot use.
func invalid(message string) channels.Result {
	b, _ := json.Marshal(map[string]string{"reason": "invalid payload", "message": message})
	return channels.Replied(channels.Error(b))
}

func isObject(raw json.RawMessage) bool {
	var m map[string]json.RawMessage
	return json.Unmarshal(raw, &m) == nil && m != nil
}

func hexField(payload []byte) ([]byte, error) {
	var p struct {
		Hex *string `json:"hex"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.Hex == nil {
		return nil, strconv.ErrSyntax
	}
	return hex.DecodeString(*p.Hex)
}

// Terminate implements channels.Channel.
func (*Channel) Terminate(*channels.Socket, channels.Reason) {}
