package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis"
)

// validatePhoenix checks the settings of --pubsub phoenix-redis: the node
// name becomes an atom on every Elixir node, so it is checked here rather
// than trusted.
func (c *config) validatePhoenix() error {
	if c.PubSub != "phoenix-redis" {
		if c.PhoenixPubSub != "" || c.NodeName != "" {
			return errors.New("--phoenix-pubsub and --node-name need --pubsub phoenix-redis")
		}
		return nil
	}
	var errs []error
	if c.PhoenixPubSub == "" {
		errs = append(errs, errors.New("--pubsub phoenix-redis needs --phoenix-pubsub, the Elixir app's PubSub name (such as MyApp.PubSub)"))
	} else if err := phoenixredis.ValidPubSubName(c.PhoenixPubSub); err != nil {
		errs = append(errs, fmt.Errorf("--phoenix-pubsub %q: %v", c.PhoenixPubSub, err))
	}
	if c.NodeName == "" {
		errs = append(errs, errors.New("--pubsub phoenix-redis needs --node-name, unique among the Elixir and Fawkes nodes (such as fawkes-1)"))
	} else if err := phoenixredis.ValidNodeName(c.NodeName); err != nil {
		errs = append(errs, fmt.Errorf("--node-name %q: %v", c.NodeName, err))
	}
	return errors.Join(errs...)
}

// skipAcrossPhoenix keeps on their side what each side makes for its own
// members: presence diffs (presence lists do not cross) and the events
// channel's heartbeat (each side beats its own members, so nobody gets two).
func skipAcrossPhoenix(topic, event string) bool {
	return phoenixredis.SkipPresence(topic, event) ||
		event == events.EventHeartbeat && strings.HasPrefix(topic, events.TopicPrefix)
}

// bridgeToPhoenix puts the bridge to the Elixir nodes over cl's Redis
// adapter. The bridge has a client of its own that never retries a
// command: a PUBLISH sent twice would reach Elixir nodes twice.
func bridgeToPhoenix(cl *cluster, cfg *config, log zerolog.Logger) (*cluster, error) {
	opts, err := goredis.ParseURL(cfg.RedisURL)
	if err != nil {
		cl.release()
		return nil, fmt.Errorf("--redis-url: %w", err)
	}
	opts.ContextTimeoutEnabled = true
	opts.DialTimeout = 2 * time.Second
	opts.MaxRetries = -1
	client := goredis.NewClient(opts)
	bridge, err := phoenixredis.New(phoenixredis.Config{
		Redis:      cl.redis,
		Client:     client,
		PubSubName: cfg.PhoenixPubSub,
		NodeName:   cfg.NodeName,
		Skip:       skipAcrossPhoenix,
		Logger:     &log,
	})
	if err != nil {
		_ = client.Close()
		cl.release()
		return nil, err
	}
	release := cl.release
	log.Info().Str("channel", bridge.Channel()).Str("node_name", cfg.NodeName).Msg("sharing topics with the phoenix nodes too")
	return &cluster{ps: bridge, redis: cl.redis, release: func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bridge.Close(ctx) // closes the adapter too
		_ = client.Close()
		release()
	}}, nil
}
