package phoenixredis

import (
	"context"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// sendTimeout bounds one attempt to publish a batch.
const sendTimeout = 2 * time.Second

// maxBatch is the most messages one pipeline carries.
const maxBatch = 128

// send encodes queued broadcasts and publishes them in order, pipelining
// what is ready, each batch after the registration of this node's name.
func (p *PubSub) send() {
	defer p.wg.Done()
	defer p.queue.Finish()
	batch := make([]*pubsub.Broadcast, 0, maxBatch)
	msgs := make([][]byte, 0, maxBatch)
	for {
		var ok bool
		if batch, ok = p.queue.Next(batch, maxBatch); !ok {
			return
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
