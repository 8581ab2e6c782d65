package presenceredis_test

import (
	"context"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/presence"
	"github.com/fawkes-rt/fawkes/channels/presence/presenceredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
)

// A node's wiring: the Presence is made on the Redis PubSub, attached
// before use, and closed before the PubSub, once the server has stopped
// taking joins.
func ExampleAttach() {
	client := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:6379", ContextTimeoutEnabled: true})
	defer client.Close()
	ps, err := redis.New(redis.Config{Client: client})
	if err != nil {
		panic(err)
	}
	members := presence.New(ps)
	shared := presenceredis.Attach(members, ps, presenceredis.Config{})

	// ... mount channels that Track and PushState through members, serve,
	// drain ...

	_ = shared.Close() // every node's lists drop this node's members now
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = ps.Close(ctx) // sends what Close queued
}
