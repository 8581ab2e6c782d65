package pubsub

import (
	"context"
	"errors"
	"time"
)

// The interfaces below are implemented by a PubSub that spans several nodes
// (the Redis adapter). Code that wants cluster behaviour checks for them
// with a type assertion, and behaves as on one node when they are missing:
// on one node every call would be local anyway.

// ErrUnknownNode is returned (wrapped) by Relay.Call when no live node has
// the id, so no answer can come: the caller should act as if what it was
// looking for on that node is gone.
var ErrUnknownNode = errors.New("pubsub: no live node with that id")

// Relay carries requests from one node to another, for state that lives on
// exactly one node (a LongPoll session, say). A request reaches the node
// named in Call and its answer comes back to the caller.
type Relay interface {
	// NodeID returns this node's id: non-empty, of the characters
	// A-Z a-z 0-9 _ -, unique in the cluster for the life of the process.
	NodeID() string
	// Call sends req to the handler of kind on node and returns its answer.
	// It returns an error wrapping ErrUnknownNode when no live node has that
	// id, and ctx's error when ctx ends first. It is safe for concurrent
	// use and may be called from any goroutine; it blocks until the answer.
	Call(ctx context.Context, node, kind string, req []byte) ([]byte, error)
	// Handle sets the handler of requests of kind that other nodes send to
	// this one; a later Handle for the same kind replaces it. Each request
	// runs h on a goroutine of its own; ctx ends when the caller can no
	// longer receive the answer (its deadline passed, or the Relay closes).
	// h may block (a LongPoll GET waits for messages) and may publish.
	Handle(kind string, h func(ctx context.Context, req []byte) []byte)
}

// Leaser hands out cluster-wide leases: a named right that at most one node
// holds at a time, such as "send this room's heartbeat".
type Leaser interface {
	// Lease asks for each name in names for ttl, renewing the leases this
	// node already holds. held[i] reports whether this node holds names[i]
	// now. On error (the cluster cannot be reached) held is nil: the caller
	// decides what a node cut off from the others should do.
	Lease(ctx context.Context, names []string, ttl time.Duration) (held []bool, err error)
	// Release gives up the leases on names this node holds, so that
	// another node may take them at once. Errors are ignored: a lease
	// that is not released expires after its ttl.
	Release(ctx context.Context, names []string)
}

// LocalPublisher is implemented by a PubSub that can deliver a broadcast to
// this node's subscribers only, without sending it to the other nodes.
type LocalPublisher interface {
	// PublishLocal delivers b to this node's subscribers of b.Topic but
	// b.Except, as Publish does, and sends it nowhere else.
	PublishLocal(b *Broadcast) error
}
