package server

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Defaults of Config.
const (
	DefaultIdleTimeout     = 60 * time.Second
	DefaultMaxMessageBytes = 1 << 20
	DefaultOutboxBytes     = 1 << 20
	DefaultWriteTimeout    = 10 * time.Second
	DefaultDrainBatch      = 1000
	DefaultDrainInterval   = 100 * time.Millisecond
	DefaultLongPollWindow  = 10 * time.Second
	DefaultLongPollMaxBody = 8 << 20
)

// Config configures an Endpoint. The zero value works: it accepts every
// connection, routes no topics and keeps broadcasts in process.
type Config struct {
	// Router maps topics to channels. Nil means every join is refused as
	// "unmatched topic".
	Router *channels.Router
	// PubSub carries broadcasts between connections. Nil means a new
	// pubsub.Local.
	PubSub pubsub.PubSub
	// Connect decides each connection. Nil accepts all, anonymously.
	Connect ConnectFunc
	// CheckOrigin decides the Origin header of requests that have one. Nil
	// allows every origin (no check), which suits development; see
	// AllowOrigins for a Phoenix-style list. It runs on the requests'
	// goroutines, many at once: it must be safe for concurrent use and quick.
	CheckOrigin func(origin string) bool
	// IdleTimeout closes a WebSocket after this long without any inbound
	// frame (data or control). Zero means DefaultIdleTimeout (60 s, as Phoenix).
	IdleTimeout time.Duration
	// MaxMessageBytes bounds an inbound message, all its fragments together;
	// larger ones close the connection with 1009. Zero means 1 MiB.
	MaxMessageBytes int64
	// OutboxBytes bounds the bytes queued for one client; a client that falls
	// further behind is closed. Zero means 1 MiB.
	OutboxBytes int
	// WriteTimeout bounds one write to a client. Zero means 10 s.
	WriteTimeout time.Duration
	// MaxChannels limits channels per connection. Zero means 100.
	MaxChannels int
	// DrainBatch and DrainInterval pace Shutdown: DrainBatch connections are
	// closed every DrainInterval. Zero means 1000 every 100 ms.
	DrainBatch    int
	DrainInterval time.Duration
	// LongPollWindow is how long a LongPoll GET waits for messages; a session
	// ends 1.5 windows after its last GET. Zero means 10 s, as Phoenix.
	LongPollWindow time.Duration
	// LongPollMaxBody bounds a LongPoll POST body. Zero means 8 MiB.
	LongPollMaxBody int64
	// LongPollKey signs LongPoll session tokens. Nil means a random key made
	// by New: tokens are then valid on this process only, which is where the
	// sessions live on a single node. With a Relay every node must have the
	// same key, so that each can check the tokens of the others.
	LongPollKey []byte
	// Relay carries a LongPoll request that reached a node other than the
	// one holding its session to that node, so that LongPoll works behind a
	// balancer without sticky sessions. Tokens then name the node that owns
	// the session, and New registers the handlers "longpoll.get" and
	// "longpoll.post" with Relay.Handle (use one Relay per Endpoint). Nil
	// means PubSub if it implements pubsub.Relay, else a single node.
	Relay pubsub.Relay
	// Logger receives the endpoint's logs. Nil means no logging. Repeated
	// warnings (malformed messages, refused origins, ...) are rate-limited
	// per message: lograte.DefaultBurst per lograte.DefaultInterval, then
	// one line with the count suppressed.
	Logger *zerolog.Logger
	// Hooks observe every connection's Mux (joins with their latency,
	// channel ends, stale drops), after the endpoint's own Stats count them;
	// for metrics. They run on connection goroutines and must not block.
	// Zero means none.
	Hooks channels.Hooks
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.PubSub == nil {
		out.PubSub = pubsub.NewLocal()
	}
	if out.Relay == nil {
		out.Relay, _ = out.PubSub.(pubsub.Relay)
	}
	if out.IdleTimeout <= 0 {
		out.IdleTimeout = DefaultIdleTimeout
	}
	if out.MaxMessageBytes <= 0 {
		out.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if out.OutboxBytes <= 0 {
		out.OutboxBytes = DefaultOutboxBytes
	}
	if out.WriteTimeout <= 0 {
		out.WriteTimeout = DefaultWriteTimeout
	}
	if out.MaxChannels <= 0 {
		out.MaxChannels = channels.DefaultMaxChannels
	}
	if out.DrainBatch <= 0 {
		out.DrainBatch = DefaultDrainBatch
	}
	if out.DrainInterval <= 0 {
		out.DrainInterval = DefaultDrainInterval
	}
	if out.LongPollWindow <= 0 {
		out.LongPollWindow = DefaultLongPollWindow
	}
	if out.LongPollMaxBody <= 0 {
		out.LongPollMaxBody = DefaultLongPollMaxBody
	}
	if out.Logger == nil {
		nop := zerolog.Nop()
		out.Logger = &nop
	}
	return out
}
