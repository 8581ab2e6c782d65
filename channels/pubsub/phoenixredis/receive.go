package phoenixredis

import (
	"bytes"
	"context"
	"errors"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
)

// pingEvery is how long the subscription may be silent before the node
// pings Redis over it; stallAfter how long a ping may go unanswered before
// the subscription is opened anew.
const (
	pingEvery  = time.Second
	stallAfter = 30 * time.Second
)

var errStalled = errors.New("no answer to ping")

// receive keeps a subscription to the Phoenix channel and takes what
// arrives on it, opening a new one, with backoff, when it fails.
func (p *PubSub) receive() {
	defer p.wg.Done()
	backoff := 100 * time.Millisecond
	for p.ctx.Err() == nil {
		conn := p.client.Subscribe(p.ctx)
		ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
		err := conn.Subscribe(ctx, p.channel)
		cancel()
		if err == nil {
			err = p.read(conn)
			backoff = 100 * time.Millisecond
		}
		_ = conn.Close()
		if p.ctx.Err() != nil {
			return
		}
		if p.up.Swap(false) {
			p.stats.outages.Add(1)
			p.log.Warn().Err(err).Str("channel", p.channel).Msg("subscription to the phoenix channel lost; broadcasts of the Elixir nodes miss this node until it is back")
		}
		select {
		case <-time.After(backoff):
		case <-p.ctx.Done():
			return
		}
		backoff = min(2*backoff, 2*time.Second)
	}
}

// read reads conn until it fails or Redis stops answering.
func (p *PubSub) read(conn *goredis.PubSub) error {
	lastHeard := time.Now()
	var pingSent time.Time
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
			if !pingSent.IsZero() && now.Sub(pingSent) >= stallAfter {
				return errStalled
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
		lastHeard, pingSent = now, time.Time{}
		switch m := msg.(type) {
		case *goredis.Message:
			p.take([]byte(m.Payload))
		case *goredis.Subscription:
			if m.Kind == "subscribe" && !p.up.Swap(true) {
				p.log.Info().Str("channel", p.channel).Str("node_name", p.cfg.NodeName).Msg("bridging to the phoenix nodes")
			}
		}
	}
}

// take handles one message of the Phoenix channel.
func (p *PubSub) take(data []byte) {
	why, err := p.classify(data)
	p.stats.received[why].Add(1)
	switch why {
	case SkipMalformed:
		p.warn.log(&p.log, why.String(), "malformed message on the phoenix channel; ignored", "", err)
	case SkipUnrepresentable:
		p.warn.log(&p.log, why.String(), "broadcast from an Elixir node with no JSON form; not delivered", "", err)
	case SkipUnverified:
		p.warn.log(&p.log, why.String(), "cannot tell whether the sender is a Fawkes node; broadcast not delivered", "", err)
	}
}

// classify decides what becomes of a message, and delivers it to this
// node's subscribers when it is for them.
func (p *PubSub) classify(data []byte) (SkipReason, error) {
	b, why, err := p.classifier.classify(data)
	if why == Delivered {
		_ = p.PublishLocal(b)
	}
	return why, err
}

// classifier decides what a node does with a message of the Phoenix
// channel.
type classifier struct {
	self          string
	maxInflated   int
	hasSubscriber func(topic []byte) bool
	isFawkes      func(name []byte) (bool, error)
	skip          func(topic, event string) bool
}

// classify returns the broadcast to deliver, or why there is none. What is
// cheap to check comes first; the message itself is decoded last.
func (c *classifier) classify(data []byte) (*pubsub.Broadcast, SkipReason, error) {
	r, h, err := readHeader(data, c.maxInflated)
	if err != nil {
		if e := (*etf.Error)(nil); errors.As(err, &e) && e.Unrepresentable {
			return nil, SkipUnrepresentable, err // compressed over maxInflated
		}
		return nil, SkipMalformed, err
	}
	if bytes.HasPrefix(h.topic, []byte(trackerTopicPrefix)) {
		return nil, SkipTracker, nil
	}
	own := string(h.node) == c.self
	switch {
	case h.only && !own:
		return nil, SkipOtherNode, nil
	case !h.only && own:
		return nil, SkipOwn, nil
	}
	if !c.hasSubscriber(h.topic) {
		return nil, SkipNoSubscriber, nil
	}
	if !h.only {
		fawkes, err := c.isFawkes(h.node)
		if err != nil {
			return nil, SkipUnverified, err
		}
		if fawkes {
			return nil, SkipFawkes, nil
		}
	}
	return readBroadcast(r, h.topic, c.skip)
}
