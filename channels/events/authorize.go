package events

import "github.com/fawkes-rt/fawkes/channels"

// ReasonUnauthorized is the reason of a refused join, unless the
// authorization hook gives its own.
const ReasonUnauthorized = "unauthorized"

// JoinRequest is what the authorization hook decides on.
type JoinRequest struct {
	// Topic is the topic joined ("events:lobby", "events:<room>").
	Topic string
	// Room is the part after "events:" ("lobby" for the lobby).
	Room string
	// Payload is the join payload, a raw JSON object ({} when the client
	// sent something else).
	Payload []byte
	// Conn describes the connection: its connect params and assigns.
	Conn *channels.Conn
}

// RefusedError is an authorization refusal whose Reason the client sees,
// as {"reason": Reason}. Any other error from the hook is shown as
// "unauthorized", so that internal details never reach the client. It is
// channels.RefusedError, so that one policy serves this hook and a route's
// channels.Authorize alike.
type RefusedError = channels.RefusedError

// Refuse returns a *RefusedError with the public reason given, as
// channels.Refuse.
func Refuse(reason string) error { return channels.Refuse(reason) }
