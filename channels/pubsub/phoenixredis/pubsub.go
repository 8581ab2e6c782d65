package phoenixredis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/sendq"
)

// Defaults of Config.
const (
	DefaultQueue       = 8192
	DefaultMaxInflated = 4 << 20
)

// Config configures a PubSub. Redis, PubSubName and NodeName are required;
// the zero value of every other field means its default.
type Config struct {
	// Redis is the Fawkes cluster adapter the bridge extends. The PubSub
	// takes it over: Close closes it.
	Redis *redis.PubSub
	// Client publishes and subscribes on the Phoenix channel, and keeps
	// the registry of names. It should not retry commands by itself
	// (go-redis Options.MaxRetries -1): a PUBLISH retried after a timeout
	// may reach Elixir nodes twice. Nil means Redis.Client().
	Client goredis.UniversalClient
	// PubSubName is the name of the app's Phoenix.PubSub, such as
	// MyApp.PubSub (see ValidPubSubName): it names the Redis channel.
	PubSubName string
	// NodeName is this node's name on the Phoenix side, unique among the
	// Elixir and Fawkes nodes (see ValidNodeName).
	NodeName string
	// Skip reports whether broadcasts of event on topic stay on their
	// side: those of Fawkes are not sent to Elixir nodes, those of Elixir
	// nodes not delivered here. It must be safe for concurrent use and
	// fast. Nil means SkipPresence.
	Skip func(topic, event string) bool
	// Queue bounds the broadcasts waiting to be published on the Phoenix
	// channel; past it they do not reach Elixir nodes and are counted.
	// Zero means DefaultQueue.
	Queue int
	// MaxInflated bounds the inflated size of a compressed message from
	// Redis; larger ones are skipped. Zero means DefaultMaxInflated.
	MaxInflated int
	// CompressionLevel, 1 to 9, sends messages in the compressed form when
	// it is smaller, as Phoenix.PubSub.Redis's compression_level does.
	// Zero means uncompressed.
	CompressionLevel int
	// Logger receives skipped and failed messages (rate-limited) and
	// connection changes. Nil means no logging.
	Logger *zerolog.Logger
}

// SkipPresence is the default Config.Skip: presence diffs stay on their
// side, since presence lists do not cross (see the package doc).
func SkipPresence(_, event string) bool {
	return event == "presence_diff" || event == "presence_state"
}

// PubSub is the Fawkes cluster adapter with a bridge to Phoenix nodes. It
// implements pubsub.PubSub, and through the embedded adapter
// pubsub.Relay, pubsub.Leaser, pubsub.LocalPublisher and pubsub.Pinger. It
// is safe for concurrent use. Close releases it.
//
// Publish and PublishWith reach the Elixir nodes too; PublishLocal, the
// adapter's own, reaches this node's subscribers only.
type PubSub struct {
	*redis.PubSub

	cfg      Config
	client   goredis.UniversalClient
	channel  string
	nodeAtom []byte // Config.NodeName as an encoded atom
	namesKey string
	log      zerolog.Logger
	warn     rateLimited

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	queue      *sendq.Queue[*pubsub.Broadcast] // encoded on the sending goroutine, off the publisher's
	up         atomic.Bool                     // subscribed to the Phoenix channel
	topics     topicCount
	names      fawkesNames // receive goroutine only
	classifier classifier  // receive goroutine only
	stats      counters
}

// counters are the numbers BridgeStats reports.
type counters struct {
	sent, failed, dropped, kept, unencodable, retried, outages atomic.Int64
	received                                                   [numSkipReasons]atomic.Int64
}

// Stats is a snapshot of a bridge's counters.
type Stats struct {
	// Sent counts broadcasts published on the Phoenix channel.
	Sent int64
	// Dropped counts broadcasts that did not reach the Phoenix channel:
	// the queue was full, the PubSub closed, or a publish failed after it
	// may have reached Redis (Failed counts those too).
	Dropped int64
	// Failed counts publishes that failed after they may have reached
	// Redis, and were not sent again.
	Failed int64
	// Retried counts publish batches sent again after failing before they
	// reached Redis.
	Retried int64
	// Kept counts broadcasts Config.Skip kept on this side.
	Kept int64
	// Unencodable counts broadcasts with no Elixir form (binary payloads,
	// topics or events that are not UTF-8, numbers beyond float64).
	Unencodable int64
	// Received counts the messages taken from the Phoenix channel, by what
	// became of them: Received[Delivered] reached this node's subscribers.
	Received [numSkipReasons]int64
	// Outages counts the times the subscription to the Phoenix channel was
	// lost.
	Outages int64
	// Queued is the number of broadcasts waiting for Redis now.
	Queued int
	// Up reports whether the node is subscribed to the Phoenix channel.
	Up bool
}

// New starts a bridge over cfg.Redis. It returns at once: the subscription
// to the Phoenix channel is opened in the background, and again whenever it
// is lost.
func New(cfg Config) (*PubSub, error) {
	if cfg.Redis == nil {
		return nil, errors.New("phoenixredis: Config.Redis is required")
	}
	if err := ValidPubSubName(cfg.PubSubName); err != nil {
		return nil, fmt.Errorf("phoenixredis: PubSubName: %w", err)
	}
	if err := ValidNodeName(cfg.NodeName); err != nil {
		return nil, fmt.Errorf("phoenixredis: NodeName %q: %w", cfg.NodeName, err)
	}
	if cfg.Client == nil {
		cfg.Client = cfg.Redis.Client()
	}
	if cfg.Skip == nil {
		cfg.Skip = SkipPresence
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.MaxInflated <= 0 {
		cfg.MaxInflated = DefaultMaxInflated
	}
	if cfg.CompressionLevel < 0 || cfg.CompressionLevel > 9 {
		return nil, fmt.Errorf("phoenixredis: CompressionLevel %d: want 0 (off) to 9", cfg.CompressionLevel)
	}
	p := &PubSub{
		PubSub:   cfg.Redis,
		cfg:      cfg,
		client:   cfg.Client,
		channel:  Channel(cfg.PubSubName),
		nodeAtom: mustAtom(cfg.NodeName),
		namesKey: cfg.Redis.Key("phoenix:nodes"),
		log:      zerolog.Nop(),
		queue:    sendq.New[*pubsub.Broadcast](cfg.Queue),
	}
	if cfg.Logger != nil {
		p.log = cfg.Logger.With().Str("component", "phoenix-bridge").Logger()
	}
	p.names = fawkesNames{client: p.client, key: p.namesKey}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.classifier = classifier{
		self:          cfg.NodeName,
		maxInflated:   cfg.MaxInflated,
		hasSubscriber: p.topics.has,
		isFawkes:      func(name []byte) (bool, error) { return p.names.isFawkes(p.ctx, name, time.Now()) },
		skip:          cfg.Skip,
	}
	cfg.Redis.OnNodeDown(p.forgetNode)
	p.wg.Add(2)
	go p.receive()
	go p.send()
	return p, nil
}

// Channel returns the Redis channel the bridge uses.
func (p *PubSub) Channel() string { return p.channel }

// NodeName returns Config.NodeName.
func (p *PubSub) NodeName() string { return p.cfg.NodeName }

// Subscribe implements pubsub.PubSub, as the adapter does; the topic's
// broadcasts from Elixir nodes reach s too.
func (p *PubSub) Subscribe(topic string, s pubsub.Subscriber) {
	p.topics.add(topic, 1) // before the adapter's wait for Redis
	p.PubSub.Subscribe(topic, s)
}

// Unsubscribe implements pubsub.PubSub.
func (p *PubSub) Unsubscribe(topic string, s pubsub.Subscriber) {
	p.PubSub.Unsubscribe(topic, s)
	p.topics.add(topic, -1)
}

// Publish implements pubsub.PubSub: b reaches this node's subscribers
// before Publish returns, and is queued for the other Fawkes nodes and for
// the Elixir nodes. The error is the adapter's; a broadcast that cannot
// reach the Elixir nodes is counted and logged instead.
func (p *PubSub) Publish(b *pubsub.Broadcast) error {
	err := p.PubSub.Publish(b)
	p.bridge(b)
	return err
}

// PublishWith is the adapter's PublishWith (see redis.PubSub), and sends b
// to the Elixir nodes too. A nil b (before's commands alone) concerns the
// Fawkes nodes only.
func (p *PubSub) PublishWith(b *pubsub.Broadcast, before func(ctx context.Context, pipe goredis.Pipeliner)) error {
	err := p.PubSub.PublishWith(b, before)
	if b != nil {
		p.bridge(b)
	}
	return err
}

// bridge queues b for the Phoenix channel.
func (p *PubSub) bridge(b *pubsub.Broadcast) {
	if p.cfg.Skip(b.Topic, b.Event) {
		p.stats.kept.Add(1)
		return
	}
	if p.queue.Push(b) != nil {
		p.stats.dropped.Add(1)
		p.warn.log(&p.log, "queue", "phoenix channel queue full or closed; broadcast not sent to the Elixir nodes", b.Topic, nil)
	}
}

// Ping implements pubsub.Pinger: the adapter's Ping, and an error while
// the node is not subscribed to the Phoenix channel (broadcasts of the
// Elixir nodes would not reach it).
func (p *PubSub) Ping(ctx context.Context) error {
	if !p.up.Load() {
		return fmt.Errorf("phoenixredis: not subscribed to %s", p.channel)
	}
	return p.PubSub.Ping(ctx)
}

// BridgeStats returns a snapshot of the bridge's counters (Stats, promoted
// from the adapter, are the cluster's).
func (p *PubSub) BridgeStats() Stats {
	st := Stats{
		Sent:        p.stats.sent.Load(),
		Dropped:     p.stats.dropped.Load(),
		Failed:      p.stats.failed.Load(),
		Retried:     p.stats.retried.Load(),
		Kept:        p.stats.kept.Load(),
		Unencodable: p.stats.unencodable.Load(),
		Outages:     p.stats.outages.Load(),
		Queued:      p.queue.Len(),
		Up:          p.up.Load(),
	}
	for i := range st.Received {
		st.Received[i] = p.stats.received[i].Load()
	}
	return st
}

// Close publishes what is queued for the Elixir nodes (bounded by ctx),
// removes this node's name from the registry, stops the bridge, then
// closes the adapter. It does not close the clients.
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
	p.unregister(ctx)
	p.cancel()
	p.wg.Wait()
	return errors.Join(err, p.PubSub.Close(ctx))
}

// unregisterScript removes the name KEYS[1] ARGV[1] if this node, ARGV[2],
// registered it.
var unregisterScript = goredis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0`)

func (p *PubSub) unregister(ctx context.Context) {
	if ctx.Err() != nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(context.Background(), time.Second)
		defer cancel()
	}
	_ = unregisterScript.Run(ctx, p.client, []string{p.namesKey}, p.cfg.NodeName, p.NodeID()).Err()
}

// forgetNode removes the names of a node the cluster declared dead.
func (p *PubSub) forgetNode(id string) {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	if err := forgetScript.Run(ctx, p.client, []string{p.namesKey}, id).Err(); err != nil {
		p.log.Debug().Err(err).Str("dead_node", id).Msg("phoenix node name of a dead node not removed")
	}
}

// topicCount counts this node's subscriptions per topic.
type topicCount struct {
	mu sync.RWMutex
	n  map[string]int
}

func (t *topicCount) add(topic string, d int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == nil {
		t.n = make(map[string]int)
	}
	if t.n[topic] += d; t.n[topic] <= 0 {
		delete(t.n, topic)
	}
}

func (t *topicCount) has(topic []byte) bool {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.n[string(topic)] > 0
}
