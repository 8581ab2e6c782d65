package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
)

// errStalled is the cause of an outage in which Redis stopped answering.
var errStalled = errors.New("no answer to ping")

// receive keeps a subscription to this node's channel and the wanted
// topics, and hands what arrives on it out: broadcasts to the local
// subscribers, requests and replies to the relay. When the subscription
// fails or Redis stops answering, it opens a new one, with backoff.
func (p *PubSub) receive() {
	defer p.wg.Done()
	backoff := 100 * time.Millisecond
	loggedFirst := false
	for p.ctx.Err() == nil {
		conn := p.client.Subscribe(p.ctx)
		topics := p.subs.attach(conn)
		channels := append(p.topicChannels(topics), p.nodeChannel(p.nodeS))
		ctx, cancel := context.WithTimeout(p.ctx, subscribeTimeout)
		err := conn.Subscribe(ctx, channels...)
		cancel()
		if err == nil {
			err = p.readSubscription(conn)
			backoff = 100 * time.Millisecond
		}
		p.subs.detach()
		_ = conn.Close()
		if p.ctx.Err() != nil {
			return
		}
		p.wentDown(err)
		if !loggedFirst && !p.health.everUp() {
			loggedFirst = true
			p.log.Warn().Err(err).Msg("cannot reach redis yet; serving this node's members only and retrying")
		}
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// reconnectAfter is how long a subscription that gets no answer is kept
// before a new one is opened: long enough to ride out a stalled Redis
// without losing what it executes meanwhile, short enough to leave a dead
// connection that no error ended.
func reconnectAfter(stallAfter time.Duration) time.Duration {
	return max(10*stallAfter, 30*time.Second)
}

// wentDown records an outage, logging and counting its start once.
func (p *PubSub) wentDown(cause error) {
	if p.health.setDown(time.Now(), cause) {
		p.stats.outages.Add(1)
		p.log.Warn().Err(cause).Msg("redis unreachable; broadcasts reach this node's members only until it is back")
	}
}

// readSubscription reads conn until it fails or Redis stops answering.
func (p *PubSub) readSubscription(conn *goredis.PubSub) error {
	pingEvery := p.cfg.StallAfter / 3
	var lastHeard = time.Now()
	var pingSent time.Time
	nodeChannel := p.nodeChannel(p.nodeS)
	topicPrefix := p.cfg.Prefix + ":t:"
	for {
		msg, err := conn.ReceiveTimeout(p.ctx, pingEvery)
		now := time.Now()
		if err != nil {
			if p.ctx.Err() != nil {
				return p.ctx.Err()
			}
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() {
				return err
			}
			if !pingSent.IsZero() && now.Sub(pingSent) >= p.cfg.StallAfter {
				// Unreachable: say so, but keep the connection as long as it
				// stands, since whatever Redis executes meanwhile (other
				// nodes' publishes) reaches it in order once Redis answers
				// again; a new subscription would miss it.
				p.wentDown(errStalled)
				if now.Sub(pingSent) >= reconnectAfter(p.cfg.StallAfter) {
					return errStalled
				}
				continue
			}
			if pingSent.IsZero() && now.Sub(lastHeard) >= pingEvery {
				ctx, cancel := context.WithTimeout(p.ctx, pingEvery)
				err := conn.Ping(ctx)
				cancel()
				if err != nil {
					return err
				}
				pingSent = now
			}
			continue
		}
		if !pingSent.IsZero() && !p.health.up.Load() {
			p.cameUp(now) // answering again after a stall
		}
		lastHeard, pingSent = now, time.Time{}
		switch m := msg.(type) {
		case *goredis.Message:
			p.handleMessage(m.Payload)
		case *goredis.Subscription:
			if m.Kind != "subscribe" {
				break
			}
			if m.Channel == nodeChannel {
				p.cameUp(now)
			} else if topic, ok := strings.CutPrefix(m.Channel, topicPrefix); ok {
				p.subs.confirm(topic)
			}
		}
	}
}

// cameUp records that the subscription is live, and logs a recovery.
func (p *PubSub) cameUp(now time.Time) {
	down, recovered, ok := p.health.setUp(now)
	switch {
	case !ok:
	case recovered:
		p.log.Info().Dur("down_ms", down).Msg("redis reachable again; broadcasts reach the other nodes again")
		p.nodes.runResubscribed(p)
	default:
		p.log.Info().Str("node", p.nodeS).Msg("connected to redis")
	}
}

// handleMessage takes one message from Redis.
func (p *PubSub) handleMessage(payload string) {
	e, err := clusterwire.DecodeEnvelope([]byte(payload))
	if err != nil {
		p.malformed(err)
		return
	}
	switch p.dedup.Accept(e, time.Now()) {
	case clusterwire.Echo:
		return // our own, delivered locally already
	case clusterwire.Duplicate:
		p.stats.duplicates.Add(1)
		return
	}
	switch e.Kind {
	case clusterwire.KindBroadcast:
		b, err := e.Broadcast()
		if err != nil {
			p.malformed(err)
			return
		}
		p.stats.received.Add(1)
		_ = p.local.Publish(b)
	case clusterwire.KindRequest:
		r, err := e.Request()
		if err != nil {
			p.malformed(err)
			return
		}
		p.serveRequest(e.Node, r)
	case clusterwire.KindReply:
		r, err := e.Reply()
		if err != nil {
			p.malformed(err)
			return
		}
		p.relay.answer(r.ID, r.Status, r.Body)
	default:
		p.malformed(clusterwire.ErrMalformed)
	}
}

func (p *PubSub) malformed(err error) {
	if p.stats.malformed.Add(1) <= 10 {
		p.log.Warn().Err(err).Msg("malformed message from redis; ignored")
	}
}
