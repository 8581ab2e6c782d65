package channels

import "errors"

// ReasonUnauthorized is the reason a join refused by an Authorizer gives
// the client, unless the refusal is a *RefusedError with its own.
const ReasonUnauthorized = "unauthorized"

// JoinRequest is what an Authorizer decides on.
type JoinRequest struct {
	// Topic is the topic joined.
	Topic string
	// Payload is the join payload, raw JSON as the client sent it.
	Payload []byte
	// Conn describes the connection: its socket id, connect params and
	// the assigns of the connect hook (a verified token's data, say).
	Conn *Conn
}

// Authorizer decides a join before the channel exists: nil allows it; an
// error refuses it with {"reason":"unauthorized"}, or with the Reason of a
// *RefusedError (see Refuse). Mount one with Authorize:
//
//	router.Handle("room:*", newRoom, channels.Authorize(canJoin))
//
// Concurrency: it runs on the goroutine that handles the joining
// channel's messages, before the channel's Join, and may block as a Join
// may (see Channel). It may be called for many connections at once: it
// must be safe for concurrent use. A panic refuses the join with
// "join crashed".
type Authorizer func(req JoinRequest) error

// RouteOption adjusts one route of a Router (see Router.Handle).
type RouteOption func(*route)

// Authorize makes every join of the route go through allow first. A
// refused join never creates its channel; the client gets the error reply
// that ErrorFrom(err, ReasonUnauthorized) builds. Several Authorize
// options on one route run in order, and the first refusal wins.
func Authorize(allow Authorizer) RouteOption {
	return func(r *route) { r.authorize = append(r.authorize, allow) }
}

// Intercept restricts the channel's Filter to broadcasts of the events
// named, Phoenix's intercept ["new_msg"]: the others go to the client
// without a call. Without Intercept, a Filter sees every broadcast on its
// topic. It has no effect on a channel that is not a Filter.
func Intercept(events ...string) RouteOption {
	return func(r *route) { r.intercept = append(r.intercept, events...) }
}

// RefusedError is a refusal whose Reason the client may see, as
// {"reason": Reason}. Any other error is shown to the client as a fixed
// reason ("unauthorized" for joins), so that internal details never leak.
type RefusedError struct {
	// Reason is the public reason, e.g. "room_full".
	Reason string
}

// Error returns the refusal as text.
func (e *RefusedError) Error() string { return "refused: " + e.Reason }

// Refuse returns a *RefusedError with the public reason given.
func Refuse(reason string) error { return &RefusedError{Reason: reason} }

// PublicReason returns the Reason of the first *RefusedError in err's
// chain that has one, or fallback.
func PublicReason(err error, fallback string) string {
	var refused *RefusedError
	if errors.As(err, &refused) && refused.Reason != "" {
		return refused.Reason
	}
	return fallback
}

// authorizeJoin runs the route's Authorizers; the first refusal wins.
func authorizeJoin(allow []Authorizer, req JoinRequest) error {
	for _, a := range allow {
		if err := a(req); err != nil {
			return err
		}
	}
	return nil
}
