// Package conformance is a channel that exercises every part of the
// protocol on demand, for testing clients and servers against each other.
// The fawkes binary mounts it on "conformance:*" with
// --conformance-channels; the JS tests use it.
//
// Join payload keys (all optional): "refuse" (object) refuses the join with
// that response; "crash" (true) panics in Join; "reply" (object) is the ok
// response; "push" (object) is pushed as event "after_join" right after
// joining.
//
// Events: "echo" replies ok with the payload; "push" pushes "pushed" with the
// payload, then replies ok; "broadcast" and "broadcast_from" broadcast
// "broadcasted" with the payload, then reply ok; "crash" panics; "stop"
// replies ok and stops (phx_close); "stop_error" stops as crashed
// (phx_error); "reply_later" replies ok {} after 10 ms; a binary payload
// is echoed as a binary reply and a binary "binary_pushed" push; anything
// else replies error {"reason":"unknown event"}.
package conformance

import (
	"encoding/json"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
)

// Channel is the conformance channel.
type Channel struct{}

// New returns a Channel; it is a channels.Factory.
func New(string) channels.Channel { return &Channel{} }

type joinOptions struct {
	Refuse json.RawMessage `json:"refuse"`
	Crash  bool            `json:"crash"`
	Reply  json.RawMessage `json:"reply"`
	Push   json.RawMessage `json:"push"`
}

// Join implements channels.Channel.
func (*Channel) Join(s *channels.Socket, payload []byte) channels.Reply {
	var opt joinOptions
	_ = json.Unmarshal(payload, &opt) // non-object payloads mean no options
	switch {
	case opt.Crash:
		panic("conformance: crash requested in join")
	case len(opt.Refuse) > 0:
		return channels.Error(opt.Refuse)
	}
	if len(opt.Push) > 0 {
		_ = s.Push("after_join", opt.Push)
	}
	return channels.OK(opt.Reply)
}

// HandleIn implements channels.Channel.
func (*Channel) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	ok := channels.Replied(channels.OK(nil))
	if in.Binary {
		_ = s.PushBinary("binary_pushed", in.Payload)
		return channels.Replied(channels.Reply{Status: "ok", Response: in.Payload, Binary: true})
	}
	switch in.Event {
	case "echo":
		return channels.Replied(channels.OK(in.Payload))
	case "push":
		_ = s.Push("pushed", in.Payload)
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
		ref := in.Ref
		time.AfterFunc(10*time.Millisecond, func() { _ = s.ReplyTo(ref, channels.OK(nil)) })
		return channels.NoReply()
	}
	return channels.Replied(channels.Error([]byte(`{"reason":"unknown event"}`)))
}

// Terminate implements channels.Channel.
func (*Channel) Terminate(*channels.Socket, channels.Reason) {}
