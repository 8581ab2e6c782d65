package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis"
	"github.com/fawkes-rt/fawkes/channels/pubsub/phoenixredis/etf"
	"github.com/fawkes-rt/fawkes/channels/pubsub/redis/redistest"
	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

func TestPhoenixRedisSettings(t *testing.T) {
	secret := env(map[string]string{secretKeyBaseEnv: strings.Repeat("s", 64)})
	ok := []string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "MyApp.PubSub", "--node-name", "fawkes-1@10.0.0.7"}
	if _, err := parseConfig(ok, secret, io.Discard); err != nil {
		t.Fatalf("%v: %v", ok, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "MyApp.PubSub"}, "--node-name"},
		{[]string{"--pubsub", "phoenix-redis", "--node-name", "fawkes-1"}, "--phoenix-pubsub"},
		{[]string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "MyApp.PubSub", "--node-name", "fawkes 1"}, "--node-name"},
		{[]string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "MyApp.PubSub", "--node-name", "'quoted'"}, "--node-name"},
		{[]string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "MyApp.PubSub", "--node-name", strings.Repeat("n", 129)}, "--node-name"},
		{[]string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "MyApp.PubSub", "--node-name", "nil"}, "--node-name"},
		{[]string{"--pubsub", "phoenix-redis", "--phoenix-pubsub", "My-App", "--node-name", "fawkes-1"}, "--phoenix-pubsub"},
		{[]string{"--pubsub", "redis", "--node-name", "fawkes-1"}, "--pubsub phoenix-redis"},
	} {
		_, err := parseConfig(tc.args, secret, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error naming %s", tc.args, err, tc.want)
		}
	}
	if _, err := parseConfig(ok, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), secretKeyBaseEnv) {
		t.Errorf("phoenix-redis without %s: %v", secretKeyBaseEnv, err)
	}
	for topic, skipped := range map[[2]string]bool{
		{"events:lobby", "heartbeat"}: true, {"events:lobby", "presence_diff"}: true,
		{"events:lobby", "cloudevent"}: false, {"room:1", "heartbeat"}: false,
	} {
		if skipAcrossPhoenix(topic[0], topic[1]) != skipped {
			t.Errorf("skipAcrossPhoenix%v = %t", topic, !skipped)
		}
	}
}

// phoenixArgs are the settings of a node of the interop tests: the
// captures' PubSub, Wire.PubSub.
func phoenixArgs(redisURL, name string) []string {
	return []string{"--pubsub", "phoenix-redis", "--redis-url", redisURL, "--phoenix-pubsub", "Wire.PubSub", "--node-name", name, "--heartbeat-interval", "0"}
}

// elixirNode is what an Elixir node does on Redis, for these tests: it
// publishes ETF on the Phoenix channel and reads what is published there.
type elixirNode struct {
	client *goredis.Client
	sub    *goredis.PubSub
	ch     <-chan *goredis.Message
}

func newElixirNode(t *testing.T, addr string) *elixirNode {
	t.Helper()
	e := &elixirNode{client: goredis.NewClient(&goredis.Options{Addr: addr})}
	e.sub = e.client.Subscribe(context.Background(), phoenixredis.Channel("Wire.PubSub"))
	if _, err := e.sub.Receive(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.ch = e.sub.Channel(goredis.WithChannelSize(10000))
	t.Cleanup(func() { e.sub.Close(); e.client.Close() })
	return e
}

func (e *elixirNode) publish(t *testing.T, msg []byte) {
	t.Helper()
	if err := e.client.Publish(context.Background(), phoenixredis.Channel("Wire.PubSub"), msg).Err(); err != nil {
		t.Fatal(err)
	}
}

// next returns the next message published by another node (a Fawkes
// one), as the term an Elixir node decodes, with its payload as the JSON
// an Elixir node sends its clients. Its own messages, which Redis echoes,
// it skips as Phoenix.PubSub.Redis does: this node is n1.
func (e *elixirNode) next(t *testing.T) (node, topic, event string, payload []byte) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case m := <-e.ch:
			if node, topic, event, payload, ok := e.decode(t, []byte(m.Payload)); ok {
				return node, topic, event, payload
			}
		case <-timeout:
			t.Fatal("nothing published on the phoenix channel within 5 s")
			return
		}
	}
}

// decode reads a message of the channel; ok is false for n1's own.
func (e *elixirNode) decode(t *testing.T, data []byte) (node, topic, event string, payload []byte, ok bool) {
	t.Helper()
	term, err := etf.Decode(data, 0)
	if err != nil {
		t.Fatalf("undecodable message %x: %v", data, err)
	}
	tuple, isTuple := term.(etf.Tuple)
	if isTuple && len(tuple) == 6 && tuple[2] == etf.Atom("n1") {
		return "", "", "", nil, false
	}
	if !isTuple || len(tuple) != 6 || tuple[0] != int64(3) || tuple[1] != etf.Atom("except") || tuple[5] != etf.Atom("Elixir.Phoenix.Channel.Server") {
		t.Fatalf("not what Endpoint.broadcast publishes: %#v", term)
	}
	msg := tuple[4].(etf.Map)
	if s, _ := msg.Get(etf.Atom("__struct__")); s != etf.Atom("Elixir.Phoenix.Socket.Broadcast") {
		t.Fatalf("not a %%Phoenix.Socket.Broadcast{}: %#v", msg)
	}
	ev, _ := msg.Get(etf.Atom("event"))
	p, _ := msg.Get(etf.Atom("payload"))
	enc, err := etf.AppendTerm([]byte{etf.Version}, p)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := etf.NewReader(enc, 0)
	if payload, err = r.AppendJSON(nil); err != nil {
		t.Fatal(err)
	}
	return string(tuple[2].(etf.Atom)), tuple[3].(string), ev.(string), payload, true
}

// capturedEndpointBroadcast is what MyApp.Endpoint.broadcast("events:lobby",
// "cloudevent", ...) published on the Elixir node n1, as captured
// (testdata/endpoint-broadcast.json of the phoenixredis package).
func capturedEndpointBroadcast(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../channels/pubsub/phoenixredis/testdata/endpoint-broadcast.json")
	if err != nil {
		t.Fatal(err)
	}
	var c struct{ Hex string }
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	b, err := hex.DecodeString(c.Hex)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameJSON(a, b []byte) bool {
	var x, y any
	return json.Unmarshal(a, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// noMoreFrames fails if c receives a frame within d.
func noMoreFrames(t *testing.T, c *wsClient, d time.Duration) {
	t.Helper()
	time.Sleep(d)
	if left := c.Unread(); len(left) > 0 {
		t.Errorf("unexpected frame %s", left[0])
	}
}

// Two Fawkes nodes in phoenix-redis mode on a real Redis, with an
// Elixir-style node on the same channel: the Elixir node's bytes (as
// captured from a real one) reach the WebSocket clients of both Fawkes
// nodes once, with the frame Phoenix sends and the events channel's
// filters; a client's push on one Fawkes node reaches the other once and
// goes out to the Elixir nodes as Endpoint.broadcast; so does HTTP ingress.
func TestPhoenixRedisTwoNodesAndAnElixirNode(t *testing.T) {
	srv := redistest.Start(t)
	a := startClusterNode(t, phoenixArgs(srv.URL(), "fawkes-a")...)
	b := startClusterNode(t, phoenixArgs(srv.URL(), "fawkes-b")...)
	for _, n := range []*proc{a, b} {
		checkFor(t, 10*time.Second, "/readyz", func() bool { code, _ := get(t, n.url+"/readyz"); return code == 200 })
	}
	ex := newElixirNode(t, srv.Addr)
	onA, onB := dialWS(t, a.url), dialWS(t, b.url)
	filtered := dialWS(t, b.url)
	onA.join("events:lobby", "{}")
	onB.join("events:lobby", "{}")
	filtered.join("events:lobby", `{"event_types":["com.other.*"]}`)

	// Elixir -> Fawkes: MyApp.Endpoint.broadcast("events:lobby", "cloudevent", ...) on n1.
	ex.publish(t, capturedEndpointBroadcast(t))
	want := `[null,null,"events:lobby","cloudevent",{"data":{"f":1.5,"l":[1,"a",null],"n":1,"ok":true},"id":"e1","source":"/x","specversion":"1.0","type":"t"}]`
	for _, c := range []*wsClient{onA, onB} {
		if got := c.mustRead(); got != want {
			t.Fatalf("a Fawkes client got\n%s\nwant\n%s", got, want)
		}
	}

	// Fawkes -> Fawkes and Elixir: a client's push on A.
	event := `{"specversion":"1.0","id":"f-1","source":"/fawkes-a","type":"com.example.a","data":{"big":18446744073709551621,"f":0.5,"list":[1,2,3]}}`
	onA.send(`["1","2","events:lobby","cloudevent",` + event + `]`)
	if got := onA.mustRead(); !strings.Contains(got, `"phx_reply"`) {
		t.Fatalf("sender got %s, want its reply", got)
	}
	if got := onB.mustRead(); got != `[null,null,"events:lobby","cloudevent",`+event+`]` {
		t.Fatalf("client on B got %s", got)
	}
	node, topic, ev, payload := ex.next(t)
	if node != "fawkes-a" || topic != "events:lobby" || ev != "cloudevent" || !sameJSON(payload, []byte(event)) {
		t.Fatalf("the Elixir node got %s %s %s %s", node, topic, ev, payload)
	}

	// HTTP ingress on B reaches A's client and the Elixir nodes.
	ingressed := `{"specversion":"1.0","id":"i-1","source":"/http","type":"com.example.http"}`
	if code, body := post(t, b.url+"/events/lobby", map[string]string{"Content-Type": "application/cloudevents+json"}, ingressed); code != 202 {
		t.Fatalf("ingress: %d %s", code, body)
	}
	if got := onA.mustRead(); !strings.Contains(got, `"i-1"`) {
		t.Fatalf("client on A got %s", got)
	}
	if got := onB.mustRead(); !strings.Contains(got, `"i-1"`) {
		t.Fatalf("client on B got %s", got)
	}
	if node, _, _, payload := ex.next(t); node != "fawkes-b" || !sameJSON(payload, []byte(ingressed)) {
		t.Fatalf("the Elixir node got %s %s", node, payload)
	}

	// Nothing twice: the Fawkes nodes skipped each other's copies on the
	// Phoenix channel, and the filtered client saw none of the types above.
	noMoreFrames(t, onA, 300*time.Millisecond)
	noMoreFrames(t, onB, 100*time.Millisecond)
	noMoreFrames(t, filtered, 100*time.Millisecond)
	for {
		select {
		case m := <-ex.ch:
			if _, _, _, _, fawkes := ex.decode(t, []byte(m.Payload)); fawkes {
				t.Errorf("unexpected message on the phoenix channel: %x", m.Payload)
			}
			continue
		default:
		}
		break
	}
	_, metrics := get(t, b.url+"/metrics")
	for _, series := range []string{"fawkes_phoenix_up 1", `fawkes_phoenix_messages_received_total{result="delivered"}`, `fawkes_phoenix_broadcasts_sent_total{result="sent"}`} {
		if !strings.Contains(metrics, series) {
			t.Errorf("node B /metrics lacks %q", series)
		}
	}
}

// The latency from an Elixir-style publisher (the ETF of
// Endpoint.broadcast from node n1, published on the Phoenix channel) to
// WebSocket clients on two Fawkes nodes, and from a client's push on a
// Fawkes node to an Elixir-style subscriber of the channel. Every message
// must arrive once and in order; the figures are logged (-v). Set
// FAWKES_INTEROP_MESSAGES for a longer run (docs/BENCHMARKS.md).
func TestPhoenixRedisInteropLatency(t *testing.T) {
	messages := 200
	if n, err := strconv.Atoi(os.Getenv("FAWKES_INTEROP_MESSAGES")); err == nil && n > 0 {
		messages = n
	}
	const clientsPerNode = 10
	srv := redistest.Start(t)
	a := startClusterNode(t, phoenixArgs(srv.URL(), "fawkes-a")...)
	b := startClusterNode(t, phoenixArgs(srv.URL(), "fawkes-b")...)
	for _, n := range []*proc{a, b} {
		checkFor(t, 10*time.Second, "/readyz", func() bool { code, _ := get(t, n.url+"/readyz"); return code == 200 })
	}
	ex := newElixirNode(t, srv.Addr)

	var clients []*wsClient
	for _, n := range []*proc{a, b} {
		for range clientsPerNode {
			c := dialWS(t, n.url)
			c.join("events:bench", "{}")
			clients = append(clients, c)
		}
	}
	var lat []time.Duration
	var encoded [][]byte
	for i := range messages {
		ev := `{"specversion":"1.0","id":"b-` + strconv.Itoa(i) + `","source":"/elixir","type":"com.example.bench","data":{"seq":` + strconv.Itoa(i) + `}}`
		msg, err := phoenixredis.AppendBroadcast(nil, "n1", pubsub.NewBroadcast("events:bench", "cloudevent", []byte(ev)))
		if err != nil {
			t.Fatal(err)
		}
		encoded = append(encoded, msg)
	}
	start := time.Now()
	for i, msg := range encoded {
		sent := time.Now()
		if err := ex.client.Publish(context.Background(), phoenixredis.Channel("Wire.PubSub"), msg).Err(); err != nil {
			t.Fatal(err)
		}
		// One at a time, so that the figure is latency, not queueing: every
		// client has it before the next goes out.
		for _, c := range clients {
			m := c.Next()
			var body struct{ Data struct{ Seq int } }
			if m.Event != "cloudevent" || m.Decode(&body) != nil || body.Data.Seq != i {
				t.Fatalf("got %s for message %d", m, i)
			}
			lat = append(lat, m.Received.Sub(sent))
		}
	}
	p50, p99, worst := percentiles(lat)
	t.Logf("elixir -> fawkes: %d messages to %d clients on 2 nodes in %v: p50 %v, p99 %v, max %v", messages, len(clients), time.Since(start).Round(time.Millisecond), p50, p99, worst)
	if p99 > time.Second {
		t.Errorf("p99 %v", p99)
	}

	// The other way: a client's push on A, read by the Elixir-style node.
	pusher := clients[0]
	var back []time.Duration
	for i := range min(messages, 200) {
		ev := `{"specversion":"1.0","id":"r-` + strconv.Itoa(i) + `","source":"/fawkes","type":"com.example.bench","data":{"seq":` + strconv.Itoa(i) + `}}`
		t0 := time.Now()
		pusher.send(`["1","` + strconv.Itoa(i+10) + `","events:bench","cloudevent",` + ev + `]`)
		_, _, _, payload := ex.next(t)
		back = append(back, time.Since(t0))
		if !bytes.Contains(payload, []byte(`"r-`+strconv.Itoa(i)+`"`)) {
			t.Fatalf("push %d: the Elixir node got %s", i, payload)
		}
	}
	p50, p99, worst = percentiles(back)
	t.Logf("fawkes -> elixir: %d client pushes on node A read on the phoenix channel: p50 %v, p99 %v, max %v", len(back), p50, p99, worst)

	// For comparison, the Fawkes cluster's own route: a push on A to a
	// client on B (which first drains what it was sent above).
	reader := clients[clientsPerNode]
	var own []time.Duration
	for i := range min(messages, 200) {
		id := `"p-` + strconv.Itoa(i) + `"`
		t0 := time.Now()
		pusher.send(`["1","` + strconv.Itoa(i+1000) + `","events:bench","cloudevent",{"specversion":"1.0","id":` + id + `,"source":"/fawkes","type":"com.example.bench"}]`)
		for !strings.Contains(reader.mustRead(), id) {
		}
		own = append(own, time.Since(t0))
	}
	p50, p99, worst = percentiles(own)
	t.Logf("fawkes -> fawkes (for comparison): %d client pushes on node A read by a client on node B: p50 %v, p99 %v, max %v", len(own), p50, p99, worst)
}

func percentiles(d []time.Duration) (p50, p99, worst time.Duration) {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return at(0.50).Round(time.Microsecond), at(0.99).Round(time.Microsecond), s[len(s)-1].Round(time.Microsecond)
}

// MyApp.Endpoint.broadcast(socket_id, "disconnect", %{}) on an Elixir node
// closes that user's sockets on a Fawkes node too, as Phoenix's own.
func TestPhoenixRedisElixirDisconnectClosesFawkesSockets(t *testing.T) {
	srv := redistest.Start(t)
	secret := strings.TrimPrefix(clusterEnv[0], secretKeyBaseEnv+"=")
	n := startClusterNode(t, append(phoenixArgs(srv.URL(), "fawkes-a"), "--auth", "phoenix-token")...)
	checkFor(t, 10*time.Second, "/readyz", func() bool { code, _ := get(t, n.url+"/readyz"); return code == 200 })
	v, err := phxtoken.NewVerifier(secret, "user socket", phxtoken.Config{})
	if err != nil {
		t.Fatal(err)
	}
	token, err := v.Sign("users_socket:42", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	c := dialWS(t, n.url, "token", token)
	c.join("events:lobby", "{}") // the socket is up and subscribed to its id
	msg, err := phoenixredis.AppendBroadcast(nil, "n1", pubsub.NewBroadcast("users_socket:42", "disconnect", nil))
	if err != nil {
		t.Fatal(err)
	}
	newElixirNode(t, srv.Addr).publish(t, msg)
	if code := c.AwaitClose(); code != 1001 {
		t.Fatalf("closed with %d, want 1001 as for a local disconnect", code)
	}
}

// With --presence, the Fawkes nodes share presence among themselves as
// with --pubsub redis, and no presence traffic goes out to the Elixir
// nodes: presence lists do not cross.
func TestPhoenixRedisPresenceStaysAmongFawkesNodes(t *testing.T) {
	srv := redistest.Start(t)
	a := startClusterNode(t, append(phoenixArgs(srv.URL(), "fawkes-a"), "--presence")...)
	b := startClusterNode(t, append(phoenixArgs(srv.URL(), "fawkes-b"), "--presence")...)
	for _, n := range []*proc{a, b} {
		checkFor(t, 10*time.Second, "/readyz", func() bool { code, _ := get(t, n.url+"/readyz"); return code == 200 })
	}
	ex := newElixirNode(t, srv.Addr)
	alice := dialWS(t, a.url, "user_id", "alice")
	alice.join("events:room", "{}")
	bob := dialWS(t, b.url, "user_id", "bob")
	bob.join("events:room", "{}")
	checkFor(t, 10*time.Second, "alice in bob's presence_state", func() bool {
		frame := bob.mustRead()
		return strings.Contains(frame, `"presence_state"`) && strings.Contains(frame, `"alice"`) ||
			strings.Contains(frame, `"presence_diff"`) && strings.Contains(frame, `"alice"`)
	})
	time.Sleep(300 * time.Millisecond)
	for {
		select {
		case m := <-ex.ch:
			if bytes.Contains([]byte(m.Payload), []byte("presence")) {
				t.Fatalf("presence traffic on the phoenix channel: %q", m.Payload)
			}
			continue
		default:
		}
		break
	}
}
