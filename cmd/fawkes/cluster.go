package main

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
)

// newPubSub returns the PubSub of --pubsub, its node-local fan-out observed
// by observe (the broadcast metrics), and a function that releases it.
func newPubSub(ctx context.Context, cfg *config, log zerolog.Logger, observe func(*pubsub.Broadcast, int, time.Duration)) (pubsub.PubSub, func(), error) {
	if cfg.PubSub != "redis" {
		local := pubsub.NewLocal()
		local.Observe = observe
		return local, func() {}, nil
	}
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("--redis-url: %w", err)
	}
	client := goredis.NewClient(opts)
	startCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	ps, err := redis.New(startCtx, redis.Config{Client: client, Channel: cfg.RedisChannel, Logger: &log, Observe: observe})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("--pubsub redis: cannot subscribe on %s: %w", opts.Addr, err)
	}
	log.Info().Str("redis", opts.Addr).Str("channel", cfg.RedisChannel).Msg("sharing topics through redis")
	release := func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ps.Close(closeCtx)
		_ = client.Close()
	}
	return ps, release, nil
}
