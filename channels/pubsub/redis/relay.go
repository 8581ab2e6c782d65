package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
)

// replyTimeout bounds publishing an answer to the caller's node.
const replyTimeout = 2 * time.Second

// defaultCallWait is how long a handler may take when the caller's context
// has no deadline.
const defaultCallWait = time.Minute

// errNoHandler is Call's error when the node has no handler for the kind.
var errNoHandler = errors.New("redis pubsub: the node has no handler for this kind of request")

// relay is the Relay side of a PubSub: the handlers of this node and the
// calls waiting for an answer.
type relay struct {
	nextID atomic.Uint64

	mu       sync.Mutex
	handlers map[string]func(ctx context.Context, req []byte) []byte
	waiting  map[uint64]chan answer
}

type answer struct {
	status clusterwire.ReplyStatus
	body   []byte
}

func (r *relay) init() {
	r.handlers = make(map[string]func(context.Context, []byte) []byte)
	r.waiting = make(map[uint64]chan answer)
}

// answer hands a reply to its call, if it still waits.
func (r *relay) answer(id uint64, status clusterwire.ReplyStatus, body []byte) {
	r.mu.Lock()
	ch := r.waiting[id]
	delete(r.waiting, id)
	r.mu.Unlock()
	if ch != nil {
		ch <- answer{status: status, body: body}
	}
}

// Handle implements pubsub.Relay.
func (p *PubSub) Handle(kind string, h func(ctx context.Context, req []byte) []byte) {
	p.relay.mu.Lock()
	defer p.relay.mu.Unlock()
	p.relay.handlers[kind] = h
}

// Call implements pubsub.Relay. The request goes straight to the node's
// Redis channel, not through the broadcast queue; no subscriber on that
// channel means no such node.
func (p *PubSub) Call(ctx context.Context, node, kind string, req []byte) ([]byte, error) {
	if _, ok := clusterwire.ParseNodeID(node); !ok {
		return nil, fmt.Errorf("node %q: %w", node, pubsub.ErrUnknownNode)
	}
	var wait time.Duration
	if dl, ok := ctx.Deadline(); ok {
		wait = max(time.Until(dl), time.Millisecond)
	}
	id := p.relay.nextID.Add(1)
	ch := make(chan answer, 1)
	p.relay.mu.Lock()
	p.relay.waiting[id] = ch
	p.relay.mu.Unlock()
	defer func() {
		p.relay.mu.Lock()
		delete(p.relay.waiting, id)
		p.relay.mu.Unlock()
	}()
	env := clusterwire.AppendRequest(nil, p.node, clusterwire.Request{ID: id, Wait: wait, Handler: kind, Body: req})
	n, err := p.publishDirect(ctx, p.nodeChannel(node), env)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, fmt.Errorf("node %s: %w", node, pubsub.ErrUnknownNode)
	}
	select {
	case a := <-ch:
		if a.status == clusterwire.ReplyNoHandler {
			return nil, fmt.Errorf("node %s, %q: %w", node, kind, errNoHandler)
		}
		return a.body, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.ctx.Done():
		return nil, errClosed
	}
}

// publishDirect publishes env on channel at once, bounded by ctx even if
// Redis stalls, and returns how many subscribers received it.
func (p *PubSub) publishDirect(ctx context.Context, channel string, env []byte) (int64, error) {
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := p.client.Publish(ctx, channel, env).Result()
		done <- result{n, err}
	}()
	select {
	case r := <-done:
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// serveRequest runs the handler of r on its own goroutine and publishes the
// answer to the caller's node.
func (p *PubSub) serveRequest(from clusterwire.NodeID, r clusterwire.Request) {
	p.relay.mu.Lock()
	h := p.relay.handlers[r.Handler]
	p.relay.mu.Unlock()
	wait := defaultCallWait
	if r.Wait > 0 {
		wait = r.Wait
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		status, body := clusterwire.ReplyOK, []byte(nil)
		if h == nil {
			status = clusterwire.ReplyNoHandler
		} else {
			ctx, cancel := context.WithTimeout(p.ctx, wait)
			body = h(ctx, r.Body)
			cancel()
		}
		ctx, cancel := context.WithTimeout(p.ctx, replyTimeout)
		defer cancel()
		if _, err := p.publishDirect(ctx, p.nodeChannel(from.String()), clusterwire.AppendReply(nil, p.node, clusterwire.Reply{ID: r.ID, Status: status, Body: body})); err != nil {
			p.log.Debug().Err(err).Str("kind", r.Handler).Msg("relay answer not sent")
		}
	}()
}
