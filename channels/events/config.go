package events

import (
	"time"

	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Defaults of Config.
const (
	DefaultHeartbeatInterval   = 30 * time.Second
	DefaultMaxPatterns         = 64
	DefaultMaxLastEventIDBytes = 256
	DefaultMaxReplayBytes      = 512 << 10
)

// HeartbeatOff, as Config.HeartbeatInterval, turns the heartbeat off. A
// command line "--heartbeat-interval 0" maps to it: zero in Config means the
// default, so that the zero Config works.
const HeartbeatOff time.Duration = -1

// Config configures a Service. The zero value works.
type Config struct {
	// HeartbeatInterval is the period of the heartbeat broadcast to every
	// topic that has members. Zero means DefaultHeartbeatInterval (30s); a
	// negative value (HeartbeatOff) means no heartbeat.
	HeartbeatInterval time.Duration
	// MaxEventBytes limits the size of one encoded CloudEvent. Zero means
	// DefaultMaxEventBytes (256 KiB).
	MaxEventBytes int
	// MaxPatterns limits the event type patterns of one channel. Zero means
	// DefaultMaxPatterns (64).
	MaxPatterns int
	// Authorize decides every join, lobby included: nil error allows it. A
	// refusal replies {"reason":"unauthorized"}, or the reason of a
	// *RefusedError (see Refuse). Zero means allow all. It runs during the
	// join, on the joining channel's goroutine (see channels.Channel), for
	// many connections at once: it must be safe for concurrent use, and may
	// block (a database lookup), which delays that channel only.
	Authorize func(JoinRequest) error
	// Presence, when set, tracks every member of every events topic and
	// pushes presence_state after each join; the package doc says under
	// which key and with which meta. It must broadcast on PubSub. Zero
	// means no presence.
	Presence *presence.Presence
	// MaxMetaBytes limits the "meta" a join payload adds to the member's
	// presence, compacted. Zero means DefaultMaxMetaBytes (1 KiB).
	MaxMetaBytes int
	// PubSub carries the service's own broadcasts (Broadcast, heartbeats).
	// It must be the PubSub every Mux uses. Zero means a new pubsub.Local,
	// which the Muxes then get from Service.PubSub.
	PubSub pubsub.PubSub
	// History, when set, keeps each room's recent events, and a join whose
	// payload carries "last_event_id" gets those broadcast after it before
	// the live ones (docs/events-channel.md, "Resume after reconnect"): use
	// NewMemoryHistory on one node, package eventsredis in a cluster. Its
	// Publish must publish on PubSub. Zero means no history: such a join
	// is answered {"recovered":false}.
	History History
	// MaxLastEventIDBytes limits the "last_event_id" of a join payload;
	// a longer one refuses the join (invalid_last_event_id). Zero means
	// DefaultMaxLastEventIDBytes (256).
	MaxLastEventIDBytes int
	// MaxReplayBytes limits the events one join replays, all together: a
	// member that missed more is answered {"recovered":false} and reloads
	// its state, rather than getting a burst its connection's outbox may
	// not hold (the binary's --outbox-bytes is 1 MiB by default). Zero
	// means DefaultMaxReplayBytes (512 KiB).
	MaxReplayBytes int
	// Logger receives the channel logs (terminate lines at info, refused
	// joins at debug). Zero means no logging.
	Logger *zerolog.Logger
	// Rejected, if set, is called with the reason of every client message
	// the channel rejects (each one the channel's error count counts), for
	// metrics: ReasonInvalidCloudEvent, ReasonInvalidSubscription,
	// ReasonUnknownEvent or ReasonBinaryNotSupported. It runs on the
	// connection's goroutine and must not block. Zero means none.
	Rejected func(reason string)
	// Now returns the current time, for timestamps and durations. Zero means
	// time.Now.
	Now func() time.Time
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.MaxEventBytes <= 0 {
		c.MaxEventBytes = DefaultMaxEventBytes
	}
	if c.MaxPatterns <= 0 {
		c.MaxPatterns = DefaultMaxPatterns
	}
	if c.MaxLastEventIDBytes <= 0 {
		c.MaxLastEventIDBytes = DefaultMaxLastEventIDBytes
	}
	if c.MaxReplayBytes <= 0 {
		c.MaxReplayBytes = DefaultMaxReplayBytes
	}
	if c.MaxMetaBytes <= 0 {
		c.MaxMetaBytes = DefaultMaxMetaBytes
	}
	if c.PubSub == nil {
		c.PubSub = pubsub.NewLocal()
	}
	if c.Logger == nil {
		nop := zerolog.Nop()
		c.Logger = &nop
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}
