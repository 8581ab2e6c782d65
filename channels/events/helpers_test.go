package events

import (
	"bytes"
	"encoding/json"
	"github.com/fawkes-rt/fawkes/channels/channelstest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// recorder is a channels.Transport that keeps every frame.
type recorder = channelstest.Recorder

// frame is a decoded server frame. Refs are JSON tokens ("null", `"1"`);
// Payload is the decoded JSON payload, so that key order does not matter.
type frame struct {
	JoinRef, Ref, Topic, Event string
	Payload                    any
}

// fr builds an expected frame; payload is JSON text.
func fr(joinRef, ref, topic, event, payload string) frame {
	return frame{joinRef, ref, topic, event, decodeJSON(payload)}
}

func decodeJSON(s string) any {
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		panic("bad JSON in test: " + s)
	}
	return v
}

func decodeFrames(t *testing.T, fs []protocol.Frame) []frame {
	t.Helper()
	out := []frame{}
	for _, f := range fs {
		m, err := protocol.V2JSON.Decode(f.Data, f.Binary)
		if err != nil {
			t.Fatalf("server sent an undecodable frame %q: %v", f.Data, err)
		}
		var p any
		if err := json.Unmarshal(m.Payload, &p); err != nil {
			t.Fatalf("payload of %q: %v", f.Data, err)
		}
		out = append(out, frame{m.JoinRef.JSON(), m.Ref.JSON(), m.Topic, m.Event, p})
	}
	return out
}

// world is a Service and the connections of a test, on one pubsub.Local.
type world struct {
	t      *testing.T
	svc    *Service
	ps     *pubsub.Local
	router *channels.Router
	log    *bytes.Buffer
	now    time.Time

	mu   sync.Mutex
	made []*spyChannel // every channel the factory made, in order
}

// spyChannel is the real channel, remembering its socket.
type spyChannel struct {
	*channel
	sock *channels.Socket
}

func (sc *spyChannel) Join(s *channels.Socket, payload []byte) channels.Reply {
	sc.sock = s
	return sc.channel.Join(s, payload)
}

// last returns the channel made last.
func (w *world) last(t *testing.T) *spyChannel {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.made) == 0 {
		t.Fatal("no channel made")
	}
	return w.made[len(w.made)-1]
}

// channelOf returns the channel made last.
func channelOf(t *testing.T, w *world) *channel { return w.last(t).channel }

// countingSubscriber counts the broadcasts it gets.
type countingSubscriber struct {
	mu sync.Mutex
	n  int
}

func (c *countingSubscriber) Deliver(*pubsub.Broadcast) {
	c.mu.Lock()
	c.n++
	c.mu.Unlock()
}

func pubsubBroadcast(topic, event string) *pubsub.Broadcast {
	return pubsub.NewBroadcast(topic, EventCloudEvent, []byte(event))
}

var testNow = time.Date(2026, 11, 25, 20, 32, 7, 721038456, time.UTC)

// newWorld makes a world; cfg's Logger and Now are set by it, and its
// PubSub unless cfg has a *pubsub.Local (that a Presence needs first).
func newWorld(t *testing.T, cfg Config) *world {
	w := &world{t: t, log: &bytes.Buffer{}, now: testNow}
	if w.ps, _ = cfg.PubSub.(*pubsub.Local); w.ps == nil {
		w.ps = pubsub.NewLocal()
	}
	logger := zerolog.New(&syncWriter{w: w.log})
	cfg.PubSub, cfg.Logger = w.ps, &logger
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return w.now }
	}
	w.svc = New(cfg)
	w.router = channels.NewRouter()
	factory := w.svc.Factory()
	w.router.Handle("events:*", func(topic string) channels.Channel {
		sc := &spyChannel{channel: factory(topic).(*channel)}
		w.mu.Lock()
		w.made = append(w.made, sc)
		w.mu.Unlock()
		return sc
	})
	return w
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// client is one connection of a world.
type client struct {
	t   *testing.T
	mux *channels.Mux
	tr  *recorder
}

func (w *world) connect(conn channels.Conn) *client {
	tr := &recorder{}
	c := &client{t: w.t, tr: tr, mux: channels.NewMux(channels.MuxConfig{Router: w.router, PubSub: w.ps, Transport: tr, Conn: conn})}
	w.t.Cleanup(c.mux.Close)
	return c
}

// send dispatches a V2 JSON frame given as text.
func (c *client) send(text string) {
	c.t.Helper()
	m, err := protocol.V2JSON.Decode([]byte(text), false)
	if err != nil {
		c.t.Fatalf("bad test frame %s: %v", text, err)
	}
	c.mux.Dispatch(m)
}

// join joins topic with payload and checks the ok reply.
func (c *client) join(topic, payload string) {
	c.t.Helper()
	c.send(`["1","1",` + quote(topic) + `,"phx_join",` + payload + `]`)
	got := decodeFrames(c.t, c.tr.Take())
	if len(got) != 1 || got[0].Event != "phx_reply" || got[0].Payload.(map[string]any)["status"] != "ok" {
		c.t.Fatalf("join %s %s: got %+v", topic, payload, got)
	}
}

// push sends event with payload on topic (join_ref "1", ref "2").
func (c *client) push(topic, event, payload string) {
	c.t.Helper()
	c.send(`["1","2",` + quote(topic) + `,` + quote(event) + `,` + payload + `]`)
}

// expect checks the frames the client got since the last check.
func (c *client) expect(want ...frame) {
	c.t.Helper()
	if want == nil {
		want = []frame{}
	}
	if diff := cmp.Diff(want, decodeFrames(c.t, c.tr.Take())); diff != "" {
		c.t.Errorf("frames (-want +got):\n%s", diff)
	}
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// reply is the expected reply frame to a push of the test client.
func reply(topic, status, response string) frame {
	return fr(`"1"`, `"2"`, topic, "phx_reply", `{"status":"`+status+`","response":`+response+`}`)
}

// pushed is the expected push frame to the test client.
func pushed(topic, event, payload string) frame {
	return fr(`"1"`, "null", topic, event, payload)
}

// broadcast is the expected broadcast frame.
func broadcast(topic, event, payload string) frame {
	return fr("null", "null", topic, event, payload)
}

// rejected is the error push then error reply of a rejected message.
func rejected(topic, payload string) []frame {
	return []frame{pushed(topic, "error", payload), reply(topic, "error", payload)}
}

// validEvent is a small valid CloudEvent of type typ.
func validEvent(id, typ string) string {
	return `{"specversion":"1.0","id":"` + id + `","source":"/test","type":"` + typ + `","data":{"n":1}}`
}

// connWith returns a Conn with connect param token and assign user.
func connWith(token, user string) channels.Conn {
	return channels.Conn{Params: map[string]string{"token": token}, Assigns: map[string]any{"user": user}}
}
