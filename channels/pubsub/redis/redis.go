// Package redis is the cluster PubSub: Fawkes nodes share topics through a
// Redis server, as Phoenix.PubSub's Redis adapter does, and through it the
// rest of what makes several nodes behave as one (see the package's
// Relay, Leaser and node liveness).
//
// # Topics
//
// Each topic travels on a Redis channel of its own, "<prefix>:t:<topic>", to
// which a node subscribes while it has a local subscriber of the topic: a
// node pays nothing for the rooms it has no member in. A broadcast reaches
// the local subscribers at once and the other nodes through an ordered
// publish queue. The first local subscriber of a topic waits (up to
// Config.SubscribeWait) for Redis to confirm the node's subscription, so a
// broadcast published anywhere after a join returns reaches the new member.
//
// # Delivery
//
// Broadcasts of one node reach every other node in the order they were
// published, at most once: each carries the sender's sequence number, and a
// receiver drops one that is not newer than the last it took from that
// sender, so a publish that Redis executed twice (retried after a timeout)
// is delivered once (package clusterwire has the envelope and this rule, for
// an adapter to another broker to share). A broadcast's Header crosses with
// it; its Meta does not. A publish that fails is retried until it succeeds,
// while the queue (Config.Queue broadcasts) has room; past that, broadcasts
// reach this node's subscribers but not the others, and are counted as
// dropped.
// What other nodes publish while this node's subscription is down (Redis
// unreachable) does not reach it.
//
// # Health
//
// The node pings Redis over its subscription when nothing else arrives; no
// answer within Config.StallAfter marks Redis unreachable (logged once,
// counted, Ping fails at once) and the subscription is opened anew. The
// node starts without Redis and keeps trying; Ping fails until it is
// connected.
package redis

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/clusterwire"
	"github.com/fawkes-rt/fawkes/channels/pubsub/sendq"
)

// Defaults of Config.
const (
	DefaultPrefix        = "fawkes"
	DefaultQueue         = 8192
	DefaultNodeDownAfter = 15 * time.Second
	DefaultStallAfter    = 3 * time.Second
	DefaultSubscribeWait = time.Second
)

// Config configures a PubSub. Client is required; the zero value of every
// other field means its default.
type Config struct {
	// Client talks to Redis. Set ContextTimeoutEnabled in its options, so
	// that a stalled Redis cannot hold a caller past its context.
	Client goredis.UniversalClient
	// Prefix starts every Redis channel and key this package uses; the
	// nodes of one cluster share it. Zero means DefaultPrefix.
	Prefix string
	// Queue bounds the broadcasts waiting for Redis; when it is full, a
	// broadcast still reaches this node's subscribers but not the other
	// nodes, and is counted in Stats. Zero means DefaultQueue.
	Queue int
	// NodeDownAfter is how long a node may go without renewing its liveness
	// key before the others take it for dead (see OnNodeDown). Zero means
	// DefaultNodeDownAfter.
	NodeDownAfter time.Duration
	// StallAfter is how long Redis may leave a ping unanswered before it is
	// taken for unreachable. Zero means DefaultStallAfter.
	StallAfter time.Duration
	// SubscribeWait bounds how long the first local subscriber of a topic
	// waits for Redis to confirm the subscription. Zero means
	// DefaultSubscribeWait.
	SubscribeWait time.Duration
	// Logger receives connection problems and recoveries. Nil means no
	// logging.
	Logger *zerolog.Logger
	// Observe is set as the node-local fan-out's Observe (see
	// pubsub.Local), before anything is delivered.
	Observe func(b *pubsub.Broadcast, delivered int, took time.Duration)
}

// PubSub implements pubsub.PubSub across nodes through Redis, and
// pubsub.Relay, pubsub.Leaser, pubsub.LocalPublisher and pubsub.Pinger. It
// is safe for concurrent use. Close releases it.
type PubSub struct {
	cfg    Config
	local  *pubsub.Local
	client goredis.UniversalClient
	node   clusterwire.NodeID
	nodeS  string
	log    zerolog.Logger

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queue  *sendq.Queue[outgoing]
	subs   *subscriptions
	health health
	relay  relay
	nodes  nodes
	stats  counters
	dedup  clusterwire.Dedup // used by the receive goroutine only
}

// counters are the numbers Stats reports.
type counters struct {
	published  atomic.Int64
	received   atomic.Int64
	dropped    atomic.Int64
	retried    atomic.Int64
	duplicates atomic.Int64
	malformed  atomic.Int64
	outages    atomic.Int64
}

// Stats is a snapshot of a PubSub's counters.
type Stats struct {
	// Published counts broadcasts published to Redis.
	Published int64
	// Received counts broadcasts taken from other nodes.
	Received int64
	// Dropped counts broadcasts not sent to other nodes because the queue
	// was full or the PubSub closed.
	Dropped int64
	// Retried counts publish batches sent again after a failure.
	Retried int64
	// Duplicates counts broadcasts dropped as copies or out of order.
	Duplicates int64
	// Malformed counts messages from Redis that could not be decoded.
	Malformed int64
	// Outages counts the times Redis became unreachable.
	Outages int64
	// Queued is the number of broadcasts waiting for Redis now.
	Queued int
	// Up reports whether the node's subscription is live now.
	Up bool
}

// New starts a PubSub. It returns at once: the subscription is opened in
// the background and opened again whenever it is lost, so a node can start
// before Redis (use WaitConnected to insist on it).
func New(cfg Config) (*PubSub, error) {
	if cfg.Client == nil {
		return nil, errors.New("redis pubsub: Config.Client is required")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = DefaultPrefix
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.NodeDownAfter <= 0 {
		cfg.NodeDownAfter = DefaultNodeDownAfter
	}
	if cfg.StallAfter <= 0 {
		cfg.StallAfter = DefaultStallAfter
	}
	if cfg.SubscribeWait <= 0 {
		cfg.SubscribeWait = DefaultSubscribeWait
	}
	p := &PubSub{cfg: cfg, local: pubsub.NewLocal(), client: cfg.Client, log: zerolog.Nop()}
	p.local.Observe = cfg.Observe
	if cfg.Logger != nil {
		p.log = *cfg.Logger
	}
	p.node = clusterwire.NewNodeID()
	p.dedup.Self = p.node
	p.nodeS = p.node.String()
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.health.init()
	p.queue = sendq.New[outgoing](cfg.Queue)
	p.subs = newSubscriptions()
	p.relay.init()
	p.wg.Add(4)
	go p.receive()
	go p.manageSubscriptions()
	go p.send()
	go p.keepAlive()
	return p, nil
}

// NodeID implements pubsub.Relay.
func (p *PubSub) NodeID() string { return p.nodeS }

// Prefix returns Config.Prefix, with its default applied.
func (p *PubSub) Prefix() string { return p.cfg.Prefix }

// Key returns the Redis key "<prefix>:<name>", for state that other parts
// of a node keep next to this package's.
func (p *PubSub) Key(name string) string { return p.cfg.Prefix + ":" + name }

// Client returns the Redis client.
func (p *PubSub) Client() goredis.UniversalClient { return p.client }

// NodeDownAfter returns Config.NodeDownAfter, with its default applied.
func (p *PubSub) NodeDownAfter() time.Duration { return p.cfg.NodeDownAfter }

func (p *PubSub) topicChannel(topic string) string { return p.cfg.Prefix + ":t:" + topic }

func (p *PubSub) nodeChannel(node string) string { return p.cfg.Prefix + ":n:" + node }

// Subscribe implements pubsub.PubSub. The first local subscriber of a topic
// subscribes this node to the topic's Redis channel and waits, up to
// Config.SubscribeWait and only while Redis is reachable, for Redis to
// confirm it.
func (p *PubSub) Subscribe(topic string, s pubsub.Subscriber) {
	p.local.Subscribe(topic, s)
	if confirmed := p.subs.add(topic); confirmed != nil && p.health.up.Load() {
		t := time.NewTimer(p.cfg.SubscribeWait)
		defer t.Stop()
		select {
		case <-confirmed:
		case <-t.C:
		case <-p.ctx.Done():
		}
	}
}

// Unsubscribe implements pubsub.PubSub.
func (p *PubSub) Unsubscribe(topic string, s pubsub.Subscriber) {
	p.local.Unsubscribe(topic, s)
	p.subs.remove(topic)
}

// Publish implements pubsub.PubSub: b reaches this node's subscribers
// before Publish returns, and is queued for the other nodes.
func (p *PubSub) Publish(b *pubsub.Broadcast) error {
	return p.PublishWith(b, nil)
}

// PublishWith is Publish, with before run in the publish pipeline right
// before b's PUBLISH: Redis executes the commands before adds and the
// PUBLISH in that order, after everything queued earlier. A change of
// state kept in Redis and the broadcast announcing it thus reach Redis
// together and in order. before runs on the sending goroutine, possibly
// more than once (a failed pipeline is sent again): its commands must be
// idempotent. A nil b queues before's commands alone, in order with the
// broadcasts queued around them.
func (p *PubSub) PublishWith(b *pubsub.Broadcast, before func(ctx context.Context, pipe goredis.Pipeliner)) error {
	var err error
	if b != nil {
		err = p.local.Publish(b)
	}
	if qerr := p.queue.Push(outgoing{b: b, before: before}); qerr != nil {
		p.stats.dropped.Add(1)
		if errors.Is(qerr, sendq.ErrClosed) {
			return errClosed
		}
		return errQueueFull
	}
	return err
}

// PublishLocal implements pubsub.LocalPublisher.
func (p *PubSub) PublishLocal(b *pubsub.Broadcast) error { return p.local.Publish(b) }

// Ping implements pubsub.Pinger: nil when Redis answers within ctx. While
// the node's subscription is down it fails at once, without asking Redis.
func (p *PubSub) Ping(ctx context.Context) error {
	if err := p.health.err(); err != nil {
		return err
	}
	done := make(chan error, 1)
	go func() { done <- p.client.Ping(ctx).Err() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// WaitConnected returns once the node's subscription is live, or ctx's
// error.
func (p *PubSub) WaitConnected(ctx context.Context) error {
	for {
		ch := p.health.changed()
		if p.health.up.Load() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stats returns a snapshot of the counters.
func (p *PubSub) Stats() Stats {
	return Stats{
		Published:  p.stats.published.Load(),
		Received:   p.stats.received.Load(),
		Dropped:    p.stats.dropped.Load(),
		Retried:    p.stats.retried.Load(),
		Duplicates: p.stats.duplicates.Load(),
		Malformed:  p.stats.malformed.Load(),
		Outages:    p.stats.outages.Load(),
		Queued:     p.queue.Len(),
		Up:         p.health.up.Load(),
	}
}

// Close stops forwarding, after publishing what is queued (bounded by ctx),
// leaves the cluster (other nodes see this node gone at once) and
// unsubscribes from Redis. It does not close the Client.
func (p *PubSub) Close(ctx context.Context) error {
	if !p.queue.Close() {
		return nil
	}
	var err error
	select {
	case <-p.queue.Finished():
	case <-ctx.Done():
		err = ctx.Err()
	}
	p.leave(ctx)
	p.cancel()
	p.subs.closeConn() // ends the receive loop's read at once
	p.wg.Wait()
	return err
}

var errClosed = errors.New("redis pubsub: closed; broadcast not sent to other nodes")

var errQueueFull = errors.New("redis pubsub: publish queue full; broadcast not sent to other nodes")
