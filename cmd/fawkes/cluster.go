package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
)

// redisRequireWait is how long --redis-start require waits for Redis.
const redisRequireWait = 10 * time.Second

// cluster is the PubSub of --pubsub, and with Redis the adapter itself.
type cluster struct {
	ps      pubsub.PubSub
	redis   *redis.PubSub // nil with --pubsub memory
	release func()
}

// newPubSub returns the PubSub of --pubsub, its node-local fan-out observed
// by observe (the broadcast metrics).
func newPubSub(ctx context.Context, cfg *config, log zerolog.Logger, observe func(*pubsub.Broadcast, int, time.Duration)) (*cluster, error) {
	if cfg.PubSub == "memory" {
		local := pubsub.NewLocal()
		local.Observe = observe
		return &cluster{ps: local, release: func() {}}, nil
	}
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	// Every call carries its own deadline, so a stalled Redis never holds
	// a caller (a readiness check, a relayed request) past it.
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = 2 * time.Second
	goredis.SetLogger(redisLogger{log})
	client := goredis.NewClient(opts)
	ps, err := redis.New(redis.Config{
		Client:        client,
		Prefix:        cfg.RedisPrefix,
		NodeDownAfter: cfg.NodeDownAfter,
		Logger:        &log,
		Observe:       observe,
	})
	if err != nil {
		_ = client.Close()
		return nil, err
	}
	release := func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ps.Close(closeCtx)
		_ = client.Close()
	}
	if cfg.RedisStart == "require" {
		waitCtx, cancel := context.WithTimeout(ctx, redisRequireWait)
		defer cancel()
		if err := ps.WaitConnected(waitCtx); err != nil {
			release()
			return nil, fmt.Errorf("--pubsub redis with --redis-start require: redis at %s not reachable within %v", opts.Addr, redisRequireWait)
		}
	}
	log.Info().Str("redis", opts.Addr).Str("prefix", cfg.RedisPrefix).Str("node", ps.NodeID()).
		Dur("node_down_after_ms", cfg.NodeDownAfter).Msg("sharing topics through redis")
	cl := &cluster{ps: ps, redis: ps, release: release}
	if cfg.PubSub == "phoenix-redis" {
		return bridgeToPhoenix(cl, cfg, log) // phoenixredis.go
	}
	return cl, nil
}

// longPollKey derives the key that signs LongPoll session tokens from the
// secret_key_base, so that every node of a cluster verifies every node's
// tokens, as Phoenix signs them with the endpoint's secret. Without a
// secret (one node only), nil lets the endpoint pick a random key.
func longPollKey(secretKeyBase string) []byte {
	if secretKeyBase == "" {
		return nil
	}
	h := hmac.New(sha256.New, []byte(secretKeyBase))
	h.Write([]byte("fawkes longpoll session token"))
	return h.Sum(nil)
}

// redisLogger routes the Redis library's own messages into the node's
// logger, as JSON lines like every other.
type redisLogger struct{ log zerolog.Logger }

func (l redisLogger) Printf(_ context.Context, format string, v ...any) {
	l.log.Warn().Str("component", "redis").Msgf(format, v...)
}
