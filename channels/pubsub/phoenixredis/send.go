package phoenixredis

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// sendTimeout bounds one attempt to publish a batch.
const sendTimeout = 2 * time.Second

// maxBatch is the most messages one pipeline carries.
const maxBatch = 128

// queue is the bounded, ordered queue of broadcasts for the Phoenix
// channel. Encoding waits for the sending goroutine, off the publisher's.
type queue struct {
	mu      sync.RWMutex // guards closing ch against push
	ch      chan *pubsub.Broadcast
	closed  bool
	drained chan struct{} // closed when the sender has published all it will
}

func newQueue(n int) *queue {
	return &queue{ch: make(chan *pubsub.Broadcast, n), drained: make(chan struct{})}
}

// push queues b; it reports false when the queue is full or closed.
func (q *queue) push(b *pubsub.Broadcast) bool {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		return false
	}
	select {
	case q.ch <- b:
		return true
	default:
		return false
	}
}

func (q *queue) len() int { return len(q.ch) }

// close ends the queue; it reports false when it was closed already.
func (q *queue) close() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return false
	}
	q.closed = true
	close(q.ch)
	return true
}

// send encodes queued broadcasts and publishes them in order, pipelining
// what is ready, each batch after the registration of this node's name.
func (p *PubSub) send() {
	defer p.wg.Done()
	defer close(p.queue.drained)
	batch := make([]*pubsub.Broadcast, 0, maxBatch)
	msgs := make([][]byte, 0, maxBatch)
	for b := range p.queue.ch {
		batch = append(batch[:0], b)
	fill:
		for len(batch) < maxBatch {
			select {
			case more, ok := <-p.queue.ch:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		msgs = msgs[:0]
		for _, b := range batch {
			m, err := appendBroadcast(nil, p.nodeAtom, b)
			if err != nil {
				p.stats.unencodable.Add(1)
				p.warn.log(&p.log, "unencodable", "broadcast has no Elixir form; not sent to the Elixir nodes", b.Topic, err)
				continue
			}
			if p.cfg.CompressionLevel > 0 {
				m = etf.Compress(m, p.cfg.CompressionLevel)
			}
			msgs = append(msgs, m)
		}
		clear(batch)
		if len(msgs) > 0 {
			p.publish(msgs)
		}
	}
}

// publish publishes one batch. A batch that fails before reaching Redis
// is sent again until it succeeds or the PubSub closes; one that may have
// reached Redis is dropped, so that no Elixir node gets it twice.
func (p *PubSub) publish(msgs [][]byte) {
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.ctx, sendTimeout)
		pipe := p.client.Pipeline()
		pipe.HSet(ctx, p.namesKey, p.cfg.NodeName, p.NodeID())
		for _, m := range msgs {
			pipe.Publish(ctx, p.channel, m)
		}
		_, err := pipe.Exec(ctx)
		cancel()
		switch {
		case err == nil:
			p.stats.sent.Add(int64(len(msgs)))
			return
		case p.ctx.Err() != nil || !notSent(err):
			p.stats.failed.Add(int64(len(msgs)))
			p.stats.dropped.Add(int64(len(msgs)))
			p.warn.log(&p.log, "publish", "publish on the phoenix channel failed; these broadcasts may not reach the Elixir nodes", "", err)
			return
		}
		p.stats.retried.Add(1)
		p.warn.log(&p.log, "retry", "cannot reach redis to publish on the phoenix channel; retrying", "", err)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
}

// notSent reports whether err says the commands never left this process:
// no connection could be had.
func notSent(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial" || errors.Is(err, goredis.ErrPoolTimeout)
}
