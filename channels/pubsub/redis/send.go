package redis

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
)

// sendTimeout bounds one attempt to publish a batch.
const sendTimeout = 2 * time.Second

// maxBatch is the most broadcasts one pipeline carries.
const maxBatch = 128

// outgoing is a broadcast waiting for Redis, with the commands that must
// run right before its PUBLISH (see PublishWith).
type outgoing struct {
	b      *pubsub.Broadcast
	before func(ctx context.Context, pipe goredis.Pipeliner)
}

// send publishes queued broadcasts in order, pipelining what is ready, and
// numbers them. A batch that fails is sent again until it succeeds or the
// PubSub closes: receivers drop the copies Redis may have executed already.
func (p *PubSub) send() {
	defer p.wg.Done()
	defer p.queue.Finish()
	var seq uint64
	batch := make([]outgoing, 0, maxBatch)
	envs := make([][]byte, 0, maxBatch)
	for {
		var ok bool
		if batch, ok = p.queue.Next(batch, maxBatch); !ok {
			return
		}
		envs = envs[:0]
		for _, o := range batch {
			if o.b == nil {
				envs = append(envs, nil) // commands only
				continue
			}
			seq++
			envs = append(envs, clusterwire.AppendBroadcast(nil, p.node, seq, o.b))
		}
		if !p.publishBatch(batch, envs) {
			p.stats.dropped.Add(int64(published(batch)))
		}
		clear(batch)
	}
}

// publishBatch publishes one batch, again and again until it succeeds; it
// returns false if the PubSub closed first.
func (p *PubSub) publishBatch(batch []outgoing, envs [][]byte) bool {
	var failingSince time.Time
	backoff := 50 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(p.ctx, sendTimeout)
		pipe := p.client.Pipeline()
		for i, o := range batch {
			if o.before != nil {
				o.before(ctx, pipe)
			}
			if o.b != nil {
				pipe.Publish(ctx, p.topicChannel(o.b.Topic), envs[i])
			}
		}
		_, err := pipe.Exec(ctx)
		cancel()
		if err == nil {
			p.stats.published.Add(int64(published(batch)))
			if !failingSince.IsZero() {
				p.log.Info().Dur("failing_ms", time.Since(failingSince)).Int("queued", p.queue.Len()).
					Msg("redis publish recovered; queued broadcasts are on their way to the other nodes")
			}
			return true
		}
		if p.ctx.Err() != nil {
			p.log.Warn().Err(err).Int("broadcasts", len(batch)).Msg("redis pubsub closed before these broadcasts reached the other nodes")
			return false
		}
		if failingSince.IsZero() {
			failingSince = time.Now()
			p.log.Warn().Err(err).Int("queued", p.queue.Len()).
				Msg("redis publish failing; broadcasts for other nodes wait in the queue and are retried")
		}
		p.stats.retried.Add(1)
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
		}
		backoff = min(2*backoff, time.Second)
	}
}

// published counts the broadcasts in batch (entries with commands only are
// not).
func published(batch []outgoing) int {
	n := 0
	for _, o := range batch {
		if o.b != nil {
			n++
		}
	}
	return n
}
