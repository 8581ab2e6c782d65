package server_test

// LongPoll across nodes: several Endpoints in one process, joined by an
// in-memory pubsub.Relay, and a client whose requests a round-robin
// balancer spreads over them.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
	"github.com/fawkes-rt/fawkes/server"
)

// lpClusterKey is the LongPollKey every node of an lpCluster shares.
var lpClusterKey = []byte("cluster-key")

// lpCluster is an in-memory network of lpRelays, one per node.
type lpCluster struct {
	mu      sync.Mutex
	nodes   map[string]*lpRelay
	stalled bool

	running  sync.WaitGroup // handlers still running
	returned chan string    // the kind of every handler that returned
}

// lpRelay is one node's pubsub.Relay on an lpCluster. Like a networked
// Relay it copies requests and answers, runs each handler on a goroutine
// of its own, and ends the handler's ctx when the caller gives up.
type lpRelay struct {
	c  *lpCluster
	id string

	mu       sync.Mutex
	handlers map[string]func(ctx context.Context, req []byte) []byte
}

var _ pubsub.Relay = (*lpRelay)(nil)

func newLPCluster(t *testing.T) *lpCluster {
	c := &lpCluster{nodes: make(map[string]*lpRelay), returned: make(chan string, 100)}
	t.Cleanup(c.running.Wait) // registered first, so it runs after every server's shutdown
	return c
}

// node returns the relay of node id, joining it to the cluster.
func (c *lpCluster) node(id string) *lpRelay {
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &lpRelay{c: c, id: id, handlers: make(map[string]func(context.Context, []byte) []byte)}
	c.nodes[id] = r
	return r
}

// remove takes node id out of the cluster, as when its process dies.
func (c *lpCluster) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.nodes, id)
}

// stall makes every Call wait for its ctx to end, as a cluster whose
// messages no longer get through.
func (c *lpCluster) stall() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stalled = true
}

func (r *lpRelay) NodeID() string { return r.id }

func (r *lpRelay) Handle(kind string, h func(ctx context.Context, req []byte) []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.handlers[kind] = h
}

func (r *lpRelay) Call(ctx context.Context, node, kind string, req []byte) ([]byte, error) {
	c := r.c
	c.mu.Lock()
	to, stalled := c.nodes[node], c.stalled
	c.mu.Unlock()
	if to == nil {
		return nil, fmt.Errorf("calling %s on %s: %w", kind, node, pubsub.ErrUnknownNode)
	}
	if stalled {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	to.mu.Lock()
	h := to.handlers[kind]
	to.mu.Unlock()
	if h == nil {
		return nil, fmt.Errorf("node %s has no handler of %s", node, kind)
	}
	hctx, cancel := context.WithCancel(ctx)
	answer := make(chan []byte, 1)
	c.running.Add(1)
	go func() {
		defer c.running.Done()
		defer cancel()
		answer <- bytes.Clone(h(hctx, bytes.Clone(req)))
		select {
		case c.returned <- kind:
		default:
		}
	}()
	select {
	case b := <-answer:
		return b, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// lpStartCluster starts one endpoint per node id, each with cfg, its own
// relay on a new lpCluster, lpClusterKey and, unless cfg has one, a PubSub
// they all share (these tests are about routing requests, not broadcasts).
func lpStartCluster(t *testing.T, cfg server.Config, ids ...string) (*lpCluster, []*lpServer) {
	t.Helper()
	c := newLPCluster(t)
	if cfg.PubSub == nil {
		cfg.PubSub = pubsub.NewLocal()
	}
	cfg.LongPollKey = lpClusterKey
	srvs := make([]*lpServer, len(ids))
	for i, id := range ids {
		cfg.Relay = c.node(id)
		srvs[i] = lpStart(t, cfg)
	}
	return c, srvs
}

// lpSign makes the token of session id on node, as the documented format
// has it: "<node>.<id>.<mac>", the MAC being HMAC-SHA256 of "<node>.<id>"
// with the key, its first 18 bytes in base64url.
func lpSign(key []byte, node, id string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(node + "." + id))
	return node + "." + id + "." + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// expectForwards fails unless srv's LongPollForwards are as given.
func (srv *lpServer) expectForwards(t *testing.T, forwarded, ownerGone, failed int64) {
	t.Helper()
	f, g, x := srv.Stats().LongPollForwards()
	if f != forwarded || g != ownerGone || x != failed {
		t.Fatalf("LongPollForwards() = %d, %d, %d; want %d, %d, %d", f, g, x, forwarded, ownerGone, failed)
	}
}

func TestLongPollRelayRoundRobin(t *testing.T) {
	_, srvs := lpStartCluster(t, server.Config{}, "node-a", "node-b", "node-c")
	a, b, c := srvs[0], srvs[1], srvs[2]
	client := a.connect(t)
	if parts := strings.Split(client.token, "."); len(parts) != 3 || parts[0] != "node-a" {
		t.Fatalf("token %q, want node-a.<id>.<mac>", client.token)
	}
	if client.token != lpSign(lpClusterKey, "node-a", strings.Split(client.token, ".")[1]) {
		t.Fatalf("token %q is not signed as documented", client.token)
	}
	client.ring = []*lpServer{b, c, a}

	const topic = "lp:room"
	client.join("1", topic)
	var replies, news []protocol.Message
	for i := 1; i <= 6; i++ {
		ref := strconv.Itoa(i + 1)
		payload := `{"i":` + strconv.Itoa(i) + `}`
		client.send(lpMsg("1", ref, topic, "echo", payload))
		// Broadcast from whichever node: every node's PubSub reaches the
		// session on node-a.
		if err := srvs[i%3].Broadcast(topic, "news", []byte(payload)); err != nil {
			t.Fatal(err)
		}
		replies = append(replies, lpReply("1", ref, topic, "ok", payload))
		news = append(news, lpBroadcast(topic, "news", payload))
	}
	// A POST is answered once its message is queued, so a broadcast sent
	// after it may overtake its reply: each kind comes in order.
	var gotReplies, gotNews []string
	for _, m := range client.poll(12) {
		if strings.Contains(m, `"phx_reply"`) {
			gotReplies = append(gotReplies, m)
		} else {
			gotNews = append(gotNews, m)
		}
	}
	if len(gotReplies) != 6 {
		t.Fatalf("%d replies and %d broadcasts, want 6 of each", len(gotReplies), len(gotNews))
	}
	for i := range replies {
		lpCompare(t, client.ser, gotReplies[i], replies[i])
		lpCompare(t, client.ser, gotNews[i], news[i])
	}
	client.send(lpMsg("1", "9", topic, "phx_leave", `{}`))
	client.expect(
		lpReply("1", "9", topic, "ok", `{}`),
		lpControl("1", topic, "phx_close", `{}`),
	)

	if n := a.Stats().LongPollSessions(); n != 1 {
		t.Fatalf("node-a LongPollSessions = %d, want 1", n)
	}
	for _, srv := range []*lpServer{b, c} {
		if n := srv.Stats().LongPollSessions(); n != 0 {
			t.Fatalf("LongPollSessions = %d on a node that only forwarded, want 0", n)
		}
		if f, g, x := srv.Stats().LongPollForwards(); f == 0 || g != 0 || x != 0 {
			t.Fatalf("LongPollForwards() = %d, %d, %d; want some forwarded, none failed", f, g, x)
		}
	}
	a.expectForwards(t, 0, 0, 0) // its own session: nothing to forward
	if in, _ := a.Stats().Messages("longpoll"); in != 8 {
		t.Fatalf("node-a counted %d messages in, want 8 (join, 6 echoes, leave)", in)
	}
}

func TestLongPollRelayOwnerGone(t *testing.T) {
	heartbeat := lpMsg("", "1", "phoenix", "heartbeat", `{}`)
	t.Run("node_left", func(t *testing.T) {
		cl, srvs := lpStartCluster(t, server.Config{}, "node-a", "node-b")
		a, b := srvs[0], srvs[1]
		c := a.connect(t)
		c.ring = []*lpServer{b}
		c.send(heartbeat)
		c.expect(lpReply("", "1", "phoenix", "ok", `{}`))
		b.expectForwards(t, 2, 0, 0)

		// node-a died: no live node has its id. A POST gets exactly
		// {"status":410}, a GET a new session on the node it asked.
		cl.remove("node-a")
		c.post("application/x-ndjson", heartbeat).expectStatus(t, http.StatusGone)
		next := c.expectGone()
		if !strings.HasPrefix(next.token, "node-b.") {
			t.Fatalf("new token %q, want a session on node-b, which the client asked", next.token)
		}
		b.expectForwards(t, 4, 2, 0)
		next.send(heartbeat) // the new session works, on node-b alone
		next.expect(lpReply("", "1", "phoenix", "ok", `{}`))
		b.expectForwards(t, 4, 2, 0)
	})
	t.Run("never_known", func(t *testing.T) {
		// A well-signed token of a node the cluster has never seen.
		_, srvs := lpStartCluster(t, server.Config{}, "node-a")
		a := srvs[0]
		c := &lpClient{t: t, srv: a, query: "vsn=2.0.0", token: lpSign(lpClusterKey, "node-z", "AAAAAAAAAAAAAAAAAAAAAA"), ser: protocol.V2JSON}
		c.post("application/x-ndjson", heartbeat).expectStatus(t, http.StatusGone)
		next := c.expectGone()
		next.send(heartbeat)
		next.expect(lpReply("", "1", "phoenix", "ok", `{}`))
		a.expectForwards(t, 2, 2, 0)
	})
	t.Run("owner_shut_down", func(t *testing.T) {
		_, srvs := lpStartCluster(t, server.Config{}, "node-a", "node-b")
		a, b := srvs[0], srvs[1]
		c := a.connect(t)
		c.ring = []*lpServer{b}
		c.join("1", "lp:x")
		ctx, cancel := context.WithTimeout(context.Background(), lpTimeout)
		defer cancel()
		if err := a.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		// node-a is still in the cluster but holds no sessions any more.
		c.post("application/x-ndjson", heartbeat).expectStatus(t, http.StatusGone)
		next := c.expectGone()
		if !strings.HasPrefix(next.token, "node-b.") {
			t.Fatalf("new token %q, want a session on node-b", next.token)
		}
		next.join("1", "lp:x")
		if _, g, x := b.Stats().LongPollForwards(); g != 0 || x != 0 {
			t.Fatalf("node-b counted failures (%d owner gone, %d failed) for a live owner that answered", g, x)
		}
	})
}

func TestLongPollRelayTamperedToken(t *testing.T) {
	_, srvs := lpStartCluster(t, server.Config{}, "node-a", "node-b")
	a, b := srvs[0], srvs[1]
	session := a.connect(t).token
	parts := strings.Split(session, ".")
	node, id, mac := parts[0], parts[1], parts[2]
	forged := map[string]string{
		"other_node":   "node-b." + id + "." + mac,
		"node_changed": lpCorrupt(node, 0) + "." + id + "." + mac,
		"id_changed":   node + "." + lpCorrupt(id, 0) + "." + mac,
		"mac_changed":  node + "." + id + "." + lpCorrupt(mac, len(mac)-1),
		"no_node":      id + "." + mac,
		"extra_part":   node + "." + node + "." + id + "." + mac,
		"other_key":    lpSign([]byte("another key"), node, id),
		"two_part":     id + "." + lpSign(lpClusterKey, node, id)[len(node)+1+len(id)+1:],
	}
	heartbeat := []byte(lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	for name, tok := range forged {
		t.Run(name, func(t *testing.T) {
			h := http.Header{"X-Phoenix-Longpoll-Token": {tok}, "Content-Type": {"application/x-ndjson"}}
			b.do(t, http.MethodPost, "vsn=2.0.0", h, heartbeat).expectStatus(t, http.StatusGone)
			r := b.do(t, http.MethodGet, "vsn=2.0.0", h, nil)
			r.expectStatus(t, http.StatusGone, "token", "messages")
			if !strings.HasPrefix(r.token, "node-b.") || r.token == session {
				t.Fatalf("%s: want a new session on node-b", r)
			}
		})
	}
	b.expectForwards(t, 0, 0, 0) // a forged token never reaches the cluster
	c := &lpClient{t: t, srv: b, query: "vsn=2.0.0", token: session, ser: protocol.V2JSON}
	c.send(string(heartbeat)) // the real session is unharmed
	c.expect(lpReply("", "1", "phoenix", "ok", `{}`))
}

func TestLongPollRelayStalled(t *testing.T) {
	const window = 500 * time.Millisecond
	cl, srvs := lpStartCluster(t, server.Config{LongPollWindow: window}, "node-a", "node-b")
	a, b := srvs[0], srvs[1]
	c := a.connect(t)
	c.ring = []*lpServer{b}
	cl.stall()

	r := c.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	r.expectStatus(t, http.StatusGone) // exactly {"status":410}, as for an unknown session
	if r.elapsed < window {
		t.Fatalf("POST answered after %v, before the call's deadline", r.elapsed)
	}
	r = c.get()
	r.expectStatus(t, http.StatusGone, "token", "messages")
	if !strings.HasPrefix(r.token, "node-b.") {
		t.Fatalf("%s: want a new session on node-b", r)
	}
	if r.elapsed < window+2*time.Second {
		t.Fatalf("GET answered after %v, before the window and margin", r.elapsed)
	}
	b.expectForwards(t, 2, 0, 2)
}

func TestLongPollRelayMalformedAndTooBig(t *testing.T) {
	_, srvs := lpStartCluster(t, server.Config{LongPollMaxBody: 4096}, "node-a", "node-b")
	a, b := srvs[0], srvs[1]

	c := a.connect(t)
	c.ring = []*lpServer{b}
	c.post("application/x-ndjson", "[not json").expectStatus(t, http.StatusBadRequest) // exactly {"status":400}, from node-a
	if n := a.Stats().Malformed(); n != 1 {
		t.Fatalf("node-a Malformed = %d, want 1", n)
	}
	if n := a.Stats().LongPollSessions(); n != 0 {
		t.Fatalf("node-a LongPollSessions = %d, want 0: a malformed POST ends the session", n)
	}
	b.expectForwards(t, 1, 0, 0)

	c = a.connect(t)
	c.ring = []*lpServer{b}
	r := c.post("application/x-ndjson", lpMsg("", "1", "phoenix", "heartbeat", `{"s":"`+strings.Repeat("x", 5000)+`"}`))
	if r.httpStatus != http.StatusRequestEntityTooLarge {
		t.Fatalf("%s: want HTTP 413", r)
	}
	if n := b.Stats().TooBig(); n != 1 {
		t.Fatalf("node-b TooBig = %d, want 1", n)
	}
	b.expectForwards(t, 1, 0, 0) // checked before forwarding
}

func TestLongPollRelayPostTimeout(t *testing.T) {
	// The owner's 408 for a POST that found the session's queues full for
	// the window comes back unchanged: the call waits a margin longer than
	// the window.
	const window = 2 * time.Second
	release := make(chan struct{})
	router := lpRouter(nil)
	router.Handle("block:*", func(string) channels.Channel { return &lpBlockChannel{release: release} })
	_, srvs := lpStartCluster(t, server.Config{Router: router, LongPollWindow: window}, "node-a", "node-b")
	var released atomic.Bool
	unblock := func() {
		if released.CompareAndSwap(false, true) {
			close(release)
		}
	}
	t.Cleanup(unblock)
	a, b := srvs[0], srvs[1]
	c := a.connect(t)
	c.ring = []*lpServer{b}
	c.join("1", "block:x")
	r, sent := lpFillQueues(t, c, "block:x")
	r.expectStatus(t, http.StatusRequestTimeout) // exactly {"status":408}
	unblock()
	lpExpectQueuedThenLast(t, c, "block:x", sent)
	if _, g, x := b.Stats().LongPollForwards(); g != 0 || x != 0 {
		t.Fatalf("node-b counted failures (%d, %d) for the owner's answer", g, x)
	}
}

func TestLongPollRelayClientLeavesDuringGet(t *testing.T) {
	// The window is long: the owner's poll must end because the client
	// left, not because the window elapsed.
	const window = 10 * time.Second
	cl, srvs := lpStartCluster(t, server.Config{LongPollWindow: window}, "node-a", "node-b")
	a, b := srvs[0], srvs[1]
	c := a.connect(t)

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"?vsn=2.0.0", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = c.header()
	done := make(chan error, 1)
	go func() {
		resp, err := b.hs.Client().Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	lpCheckFor(t, lpTimeout, func() error {
		if f, _, _ := b.Stats().LongPollForwards(); f != 1 {
			return fmt.Errorf("node-b forwarded %d requests, want 1", f)
		}
		return nil
	})
	time.Sleep(100 * time.Millisecond) // let the owner's poll park
	left := time.Now()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the cancelled GET got an answer")
	}
	select {
	case kind := <-cl.returned:
		if kind != "longpoll.get" {
			t.Fatalf("handler of %s returned, want longpoll.get", kind)
		}
		if took := time.Since(left); took > window/2 {
			t.Fatalf("the owner's poll ended %v after the client left", took)
		}
	case <-time.After(window):
		t.Fatal("the owner's poll outlived the client")
	}
	b.expectForwards(t, 1, 0, 0) // a client leaving is no failure
	// The session lives on.
	c.ring = []*lpServer{b}
	c.send(lpMsg("", "1", "phoenix", "heartbeat", `{}`))
	c.expect(lpReply("", "1", "phoenix", "ok", `{}`))
}

// lpRelayPubSub is a PubSub that is also a Relay, as the Redis adapter.
type lpRelayPubSub struct {
	*pubsub.Local
	*lpRelay
}

func TestLongPollRelayFromPubSub(t *testing.T) {
	cl := newLPCluster(t)
	ps := lpRelayPubSub{pubsub.NewLocal(), cl.node("node-a")}
	srv := lpStart(t, server.Config{PubSub: ps, LongPollKey: lpClusterKey})
	c := srv.connect(t)
	if !strings.HasPrefix(c.token, "node-a.") {
		t.Fatalf("token %q: want Config.PubSub used as the Relay", c.token)
	}
	c.join("1", "lp:x")
}

func TestLongPollRelayBadNodeID(t *testing.T) {
	for _, id := range []string{"", "node.a", "node a", "nöde"} {
		t.Run(strconv.Quote(id), func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatalf("New accepted the node id %q", id)
				}
			}()
			server.New(server.Config{Relay: newLPCluster(t).node(id)})
		})
	}
}
