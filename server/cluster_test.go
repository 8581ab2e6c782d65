package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/gobwas/ws"
	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub/redis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// redisNode returns a connected Redis PubSub for one endpoint of a
// cluster; the test's cleanup closes it after the endpoints shut down.
func redisNode(t *testing.T, addr string) *redis.PubSub {
	t.Helper()
	client := goredis.NewClient(&goredis.Options{Addr: addr, ContextTimeoutEnabled: true})
	ps, err := redis.New(redis.Config{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = ps.Close(ctx)
		_ = client.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ps.WaitConnected(ctx); err != nil {
		t.Fatal(err)
	}
	return ps
}

// A broadcast from Go and a Disconnect on one node reach the socket on
// another node.
func TestBroadcastAndDisconnectReachOtherNodes(t *testing.T) {
	addr := redistest.Start(t).Addr
	connect := func(_ context.Context, req *server.ConnectRequest) (server.ConnectResult, error) {
		return server.ConnectResult{ID: "user_socket:" + req.Params["user"]}, nil
	}
	a := startServer(t, server.Config{PubSub: redisNode(t, addr), Connect: connect})
	b := startServer(t, server.Config{PubSub: redisNode(t, addr), Connect: connect})
	d := v2
	onB := dial(t, b, d, servertest.Params("user", "1"))
	other := dial(t, b, d, servertest.Params("user", "2"))
	onB.join("1", "conformance:a", "{}")
	other.join("1", "conformance:a", "{}")

	if err := a.Broadcast("conformance:a", "from_go", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	onB.expect(nil, nil, "conformance:a", "from_go", `{"n":1}`)
	other.expect(nil, nil, "conformance:a", "from_go", `{"n":1}`)

	if err := a.Disconnect("user_socket:1"); err != nil {
		t.Fatal(err)
	}
	onB.expectClose(ws.StatusGoingAway)
	other.send("1", "2", "conformance:a", "echo", "{}")
	other.expectReply("1", "2", "conformance:a", "ok", "{}")
}
