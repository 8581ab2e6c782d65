// Package redis is the cluster PubSub: Fawkes nodes share topics through a
// Redis server, as Phoenix.PubSub's Redis adapter does.
//
// Every node publishes each broadcast to one Redis channel and receives
// every other node's broadcasts from it, then fans them out to its own
// subscribers with a pubsub.Local. Subscriptions stay local, so joins never
// wait on Redis. A broadcast reaches the local subscribers at once and the
// other nodes through an ordered publish queue.
//
// Like Redis pub/sub itself, delivery to other nodes is at most once: what
// is published while a node is disconnected from Redis is lost for that
// node. Presence state is per node; presence diffs, being broadcasts, reach
// every node.
package redis

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// DefaultChannel is the Redis channel broadcasts travel on.
const DefaultChannel = "fawkes:broadcasts"

// DefaultQueue is how many broadcasts may wait to be published to Redis.
const DefaultQueue = 8192

// Config configures a PubSub. Client is required.
type Config struct {
	// Client talks to Redis.
	Client goredis.UniversalClient
	// Channel is the Redis channel shared by the nodes of one cluster. Zero
	// means DefaultChannel.
	Channel string
	// Queue bounds the broadcasts waiting for Redis; when it is full, a
	// broadcast still reaches this node's subscribers but not the other
	// nodes, and is counted in Stats. Zero means DefaultQueue.
	Queue int
	// Logger receives connection problems. Nil means no logging.
	Logger *zerolog.Logger
	// Observe is set as the node-local fan-out's Observe (see
	// pubsub.Local), before anything is delivered.
	Observe func(b *pubsub.Broadcast, delivered int, took time.Duration)
}

// PubSub implements pubsub.PubSub across nodes through Redis. It is safe
// for concurrent use. Close releases it.
type PubSub struct {
	local   *pubsub.Local
	client  goredis.UniversalClient
	channel string
	node    [nodeIDLen]byte
	log     zerolog.Logger

	sub      *goredis.PubSub
	cancel   context.CancelFunc
	sent     chan struct{} // closed when the sender ends
	recvDone chan struct{} // closed when the receiver ends
	once     sync.Once

	mu     sync.RWMutex // guards closing queue against Publish
	queue  chan []byte
	closed bool

	published atomic.Int64
	received  atomic.Int64
	dropped   atomic.Int64
	failed    atomic.Int64
}

// New subscribes to the cluster channel and starts forwarding. It returns
// once the subscription is confirmed, or ctx's error.
func New(ctx context.Context, cfg Config) (*PubSub, error) {
	if cfg.Client == nil {
		return nil, errors.New("redis pubsub: Config.Client is required")
	}
	p := &PubSub{local: pubsub.NewLocal(), client: cfg.Client, channel: cfg.Channel, log: zerolog.Nop()}
	p.local.Observe = cfg.Observe
	if p.channel == "" {
		p.channel = DefaultChannel
	}
	if cfg.Logger != nil {
		p.log = *cfg.Logger
	}
	queue := cfg.Queue
	if queue <= 0 {
		queue = DefaultQueue
	}
	p.queue = make(chan []byte, queue)
	_, _ = rand.Read(p.node[:])
	p.sub = p.client.Subscribe(ctx, p.channel)
	if _, err := p.sub.Receive(ctx); err != nil {
		_ = p.sub.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.sent, p.recvDone = make(chan struct{}), make(chan struct{})
	go p.receive()
	go p.send(runCtx)
	return p, nil
}

// Subscribe implements pubsub.PubSub; subscriptions are local.
func (p *PubSub) Subscribe(topic string, s pubsub.Subscriber) { p.local.Subscribe(topic, s) }

// Unsubscribe implements pubsub.PubSub.
func (p *PubSub) Unsubscribe(topic string, s pubsub.Subscriber) { p.local.Unsubscribe(topic, s) }

// Publish implements pubsub.PubSub: b reaches this node's subscribers
// before Publish returns, and is queued for the other nodes.
func (p *PubSub) Publish(b *pubsub.Broadcast) error {
	err := p.local.Publish(b)
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return errClosed
	}
	select {
	case p.queue <- encodeEnvelope(p.node, b):
	default:
		p.dropped.Add(1)
		return errQueueFull
	}
	return err
}

var errClosed = errors.New("redis pubsub: closed; broadcast not sent to other nodes")

var errQueueFull = errors.New("redis pubsub: publish queue full; broadcast not sent to other nodes")

// Ping implements pubsub.Pinger: nil when Redis answers.
func (p *PubSub) Ping(ctx context.Context) error { return p.client.Ping(ctx).Err() }

// Stats returns broadcasts published to Redis, received from other nodes,
// dropped because the queue was full, and failed publishes.
func (p *PubSub) Stats() (published, received, dropped, failed int64) {
	return p.published.Load(), p.received.Load(), p.dropped.Load(), p.failed.Load()
}

// Close stops forwarding, after publishing what is queued (bounded by ctx),
// and unsubscribes from Redis. It does not close the Client.
func (p *PubSub) Close(ctx context.Context) error {
	var err error
	p.once.Do(func() {
		p.mu.Lock()
		p.closed = true
		close(p.queue)
		p.mu.Unlock()
		select {
		case <-p.sent:
		case <-ctx.Done():
			p.cancel()
			<-p.sent
			err = ctx.Err()
		}
		p.cancel()
		if cerr := p.sub.Close(); err == nil {
			err = cerr
		}
		<-p.recvDone
	})
	return err
}

// send publishes queued envelopes in order, pipelining what is ready.
func (p *PubSub) send(ctx context.Context) {
	defer close(p.sent)
	batch := make([][]byte, 0, 64)
	for env := range p.queue {
		batch = append(batch[:0], env)
	fill:
		for len(batch) < cap(batch) {
			select {
			case more, ok := <-p.queue:
				if !ok {
					break fill
				}
				batch = append(batch, more)
			default:
				break fill
			}
		}
		p.publishBatch(ctx, batch)
	}
}

func (p *PubSub) publishBatch(ctx context.Context, batch [][]byte) {
	for attempt := 0; ; attempt++ {
		pipe := p.client.Pipeline()
		for _, env := range batch {
			pipe.Publish(ctx, p.channel, env)
		}
		_, err := pipe.Exec(ctx)
		if err == nil {
			p.published.Add(int64(len(batch)))
			return
		}
		if attempt == 2 || ctx.Err() != nil {
			p.failed.Add(int64(len(batch)))
			p.log.Warn().Err(err).Int("broadcasts", len(batch)).Msg("redis publish failed; broadcasts not sent to other nodes")
			return
		}
		time.Sleep(time.Duration(attempt+1) * 50 * time.Millisecond)
	}
}

// receive fans other nodes' broadcasts out locally.
func (p *PubSub) receive() {
	defer close(p.recvDone)
	for msg := range p.sub.Channel() {
		node, b, err := decodeEnvelope([]byte(msg.Payload))
		if err != nil {
			p.log.Warn().Err(err).Msg("malformed broadcast from redis; ignored")
			continue
		}
		if node == p.node {
			continue
		}
		p.received.Add(1)
		_ = p.local.Publish(b)
	}
}
