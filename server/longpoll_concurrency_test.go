package server_test

// A LongPoll session runs its channels as a WebSocket connection does, each
// on a goroutine of its own while it has work (issue 14): a POST answers
// once its messages are queued, so a channel that blocks holds up neither
// the session's other channels, nor its heartbeats, nor the client's next
// POST. Against a real endpoint on a loopback port.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/server"
	"github.com/fawkes-rt/fawkes/server/servertest"
)

// latches make a channel's callbacks wait: the callback named "<topic>
// join" or "<topic> <event>" blocks while the test holds its latch, and
// every callback says when it begins. Terminate reports "<topic>
// <reason>" on ended.
type latches struct {
	mu      sync.Mutex
	held    map[string]chan struct{} // closed by release
	entered map[string]chan struct{} // closed when the callback begins
	order   []string                 // callbacks, as they began
	ended   chan string
}

func newLatches() *latches {
	return &latches{held: map[string]chan struct{}{}, entered: map[string]chan struct{}{}, ended: make(chan string, 16)}
}

func (l *latches) router() *channels.Router {
	r := channels.NewRouter()
	r.Handle("*", func(string) channels.Channel { return &latchedChannel{l} })
	return r
}

// hold makes the callback called name block until release(name).
func (l *latches) hold(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[name] = make(chan struct{})
}

func (l *latches) release(name string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	close(l.held[name])
}

func (l *latches) enteredLocked(name string) chan struct{} {
	c := l.entered[name]
	if c == nil {
		c = make(chan struct{})
		l.entered[name] = c
	}
	return c
}

// awaitEntered waits until the callback called name has begun.
func (l *latches) awaitEntered(t *testing.T, name string) {
	t.Helper()
	l.mu.Lock()
	c := l.enteredLocked(name)
	l.mu.Unlock()
	select {
	case <-c:
	case <-time.After(servertest.DefaultTimeout):
		t.Fatalf("%s did not begin", name)
	}
}

func (l *latches) run(name string) {
	l.mu.Lock()
	l.order = append(l.order, name)
	if c := l.enteredLocked(name); !isClosed(c) {
		close(c) // the first time name runs
	}
	held := l.held[name]
	l.mu.Unlock()
	if held != nil {
		<-held
	}
}

// ran returns the callbacks that began, in order, whose names start with
// prefix.
func (l *latches) ran(prefix string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, name := range l.order {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}

// awaitEnded waits for the next Terminate.
func (l *latches) awaitEnded(t *testing.T) string {
	t.Helper()
	select {
	case e := <-l.ended:
		return e
	case <-time.After(servertest.DefaultTimeout):
		t.Fatal("no channel terminated")
		return ""
	}
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

type latchedChannel struct{ l *latches }

func (c *latchedChannel) Join(s *channels.Socket, _ []byte) channels.Reply {
	c.l.run(s.Topic() + " join")
	return channels.OK(nil)
}

func (c *latchedChannel) HandleIn(s *channels.Socket, in channels.Inbound) channels.Result {
	c.l.run(s.Topic() + " " + in.Event)
	return channels.Replied(channels.OKJSON(map[string]string{"event": in.Event}))
}

func (c *latchedChannel) Terminate(s *channels.Socket, r channels.Reason) {
	c.l.ended <- s.Topic() + " " + r.String()
}

// TestLongPollSlowChannelDoesNotStallSession: on one LongPoll session, a
// channel whose Join, then HandleIn, blocks holds up neither the session's
// other channel nor its heartbeats, and its own messages still run one at
// a time, in order.
func TestLongPollSlowChannelDoesNotStallSession(t *testing.T) {
	l := newLatches()
	for _, name := range []string{"slow:1 join", "slow:1 first", "slow:1 second"} {
		l.hold(name)
	}
	srv := servertest.NewServer(t, server.Config{Router: l.router()})
	c := servertest.Dial(t, srv.URL, servertest.LongPoll())
	slow := c.Channel("slow:1")
	fast := c.Join("fast:1", nil)

	// A join that blocks: its POST was answered (Send returned), and the
	// rest of the session carries on.
	join := slow.SendJoin(nil)
	l.awaitEntered(t, "slow:1 join")
	if r := fast.Push("ping", nil); !r.OK() {
		t.Fatalf("fast channel while slow joins: %s", r)
	}
	if r := c.Heartbeat(); !r.OK() {
		t.Fatalf("heartbeat while slow joins: %s", r)
	}
	l.release("slow:1 join")
	if r := c.AwaitReply(join); !r.OK() {
		t.Fatalf("slow join: %s", r)
	}

	// Two messages to the slow channel: the first blocks, the second waits
	// behind it; meanwhile the fast channel and heartbeats answer.
	first := slow.Send("first", nil)
	second := slow.Send("second", nil)
	l.awaitEntered(t, "slow:1 first")
	for range 3 {
		if r := fast.Push("ping", nil); !r.OK() {
			t.Fatalf("fast channel while slow is busy: %s", r)
		}
		if r := c.Heartbeat(); !r.OK() {
			t.Fatalf("heartbeat while slow is busy: %s", r)
		}
	}
	l.release("slow:1 second") // released first, yet runs second
	l.release("slow:1 first")
	if r := c.AwaitReply(first); !r.OK() {
		t.Fatalf("first: %s", r)
	}
	if r := c.AwaitReply(second); !r.OK() {
		t.Fatalf("second: %s", r)
	}
	if got := l.ran("slow:1"); fmt.Sprint(got) != "[slow:1 join slow:1 first slow:1 second]" {
		t.Errorf("slow channel ran %q, want join, first, second", got)
	}
}

// TestLongPollSlowChannelKeepsOrder: N pushes to a channel that is blocked
// on the first run in the order sent and are answered in that order, while
// another channel of the session answers meanwhile.
func TestLongPollSlowChannelKeepsOrder(t *testing.T) {
	const n = 50
	l := newLatches()
	l.hold("slow:1 e0")
	srv := servertest.NewServer(t, server.Config{Router: l.router()})
	c := servertest.Dial(t, srv.URL, servertest.LongPoll())
	slow := c.Join("slow:1", nil)
	fast := c.Join("fast:1", nil)

	refs := make([]string, n)
	for i := range refs {
		refs[i] = slow.Send("e"+strconv.Itoa(i), nil)
		if i%10 == 0 {
			if r := fast.Push("ping", nil); !r.OK() {
				t.Fatalf("fast channel while slow holds %d pushes: %s", i+1, r)
			}
		}
	}
	l.awaitEntered(t, "slow:1 e0")
	if r := c.Heartbeat(); !r.OK() {
		t.Fatalf("heartbeat while slow is busy: %s", r)
	}
	l.release("slow:1 e0")
	for i, ref := range refs {
		m := c.Next()
		if m.Topic != "slow:1" || m.Ref != ref {
			t.Fatalf("reply %d: got %s, want the reply to ref %s", i, m, ref)
		}
	}
	got := l.ran("slow:1 e")
	if len(got) != n {
		t.Fatalf("slow channel handled %d pushes, want %d", len(got), n)
	}
	for i, name := range got {
		if name != "slow:1 e"+strconv.Itoa(i) {
			t.Fatalf("slow channel ran %q, want e0..e%d in order", got, n-1)
		}
	}
}

// TestLongPollBatchWithSlowChannel: phoenix.js sends a tick's messages in
// one POST. A batch whose first lines go to a blocked channel is answered
// {"status":200} at once; the replies of its other lines (another channel,
// a heartbeat) reach the poll while the channel is still blocked, and the
// blocked channel's replies follow in order once it is released.
func TestLongPollBatchWithSlowChannel(t *testing.T) {
	l := newLatches()
	l.hold("slow:1 a")
	srv := servertest.NewServer(t, server.Config{Router: l.router()})
	c := openRawLongPoll(t, srv.URL)
	c.post(t, `["1","1","slow:1","phx_join",{}]`, `["2","2","fast:1","phx_join",{}]`)
	c.awaitFrames(t, `"1","1","slow:1","phx_reply"`, `"2","2","fast:1","phx_reply"`)

	c.post(t,
		`["1","3","slow:1","a",{}]`,
		`["1","4","slow:1","b",{}]`,
		`["2","5","fast:1","c",{}]`,
		`[null,"6","phoenix","heartbeat",{}]`,
		`["1","7","slow:1","d",{}]`,
	)
	l.awaitEntered(t, "slow:1 a")
	c.awaitFrames(t, `"2","5","fast:1","phx_reply"`, `null,"6","phoenix","phx_reply"`)
	for _, f := range c.frames {
		if strings.Contains(f, `"slow:1"`) && !strings.Contains(f, `"1","1"`) {
			t.Fatalf("the blocked channel answered %s before it was released", f)
		}
	}
	l.release("slow:1 a")
	c.awaitFrames(t, `"1","3","slow:1","phx_reply"`, `"1","4","slow:1","phx_reply"`, `"1","7","slow:1","phx_reply"`)
	var slow []string
	for _, f := range c.frames {
		if strings.Contains(f, `"slow:1","phx_reply"`) {
			slow = append(slow, f[:strings.Index(f, `"slow:1"`)])
		}
	}
	if fmt.Sprint(slow) != `[["1","1", ["1","3", ["1","4", ["1","7",]` {
		t.Fatalf("slow channel's replies came as %q, want refs 1, 3, 4, 7 in order", slow)
	}
}

// TestLongPollSessionEndsWhileHandlerBlocked: a session that ends while a
// channel's HandleIn blocks is gone at once for the client; the blocked
// channel ends (ReasonClosed) as soon as its callback returns, the message
// queued behind it is dropped, and no goroutine is left behind.
func TestLongPollSessionEndsWhileHandlerBlocked(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) }) // runs last, after the server's shutdown
	l := newLatches()
	l.hold("slow:1 block")
	connect := func(context.Context, *server.ConnectRequest) (server.ConnectResult, error) {
		return server.ConnectResult{ID: "user:1"}, nil
	}
	srv := servertest.NewServer(t, server.Config{Router: l.router(), Connect: connect})
	c := servertest.Dial(t, srv.URL, servertest.LongPoll())
	slow := c.Join("slow:1", nil)
	c.Join("idle:1", nil)
	slow.Send("block", nil)
	slow.Send("queued", nil)
	l.awaitEntered(t, "slow:1 block")

	if err := srv.Disconnect("user:1"); err != nil {
		t.Fatal(err)
	}
	if code := c.AwaitClose(); code != 3410 {
		t.Fatalf("close code %d, want 3410 (session gone)", code)
	}
	if e := l.awaitEnded(t); e != "idle:1 closed" {
		t.Fatalf("Terminate(%s), want idle:1 closed first: slow:1 is still busy", e)
	}
	for deadline := time.Now().Add(servertest.DefaultTimeout); srv.Stats().LongPollSessions() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("LongPollSessions = %d while a handler blocks, want 0", srv.Stats().LongPollSessions())
		}
	}
	l.release("slow:1 block")
	if e := l.awaitEnded(t); e != "slow:1 closed" {
		t.Fatalf("Terminate(%s), want slow:1 closed", e)
	}
	if got := l.ran("slow:1"); fmt.Sprint(got) != "[slow:1 join slow:1 block]" {
		t.Fatalf("slow channel ran %q: the message queued behind the blocked one must be dropped", got)
	}
}

// rawLongPoll is a LongPoll client of plain requests, to send batches as
// phoenix.js does (servertest sends one message per POST).
type rawLongPoll struct {
	url, token string
	frames     []string // every message polled, in order
}

type rawLongPollAnswer struct {
	Status   int      `json:"status"`
	Token    string   `json:"token"`
	Messages []string `json:"messages"`
}

func openRawLongPoll(t *testing.T, mount string) *rawLongPoll {
	t.Helper()
	c := &rawLongPoll{url: mount + "/longpoll?vsn=2.0.0"}
	if a := c.do(t, http.MethodGet, nil); a.Status != http.StatusGone || a.Token == "" {
		t.Fatalf("open: %+v, want status 410 and a token", a)
	} else {
		c.token = a.Token
	}
	return c
}

func (c *rawLongPoll) do(t *testing.T, method string, body []byte) rawLongPollAnswer {
	t.Helper()
	req, err := http.NewRequest(method, c.url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("X-Phoenix-Longpoll-Token", c.token)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var a rawLongPollAnswer
	if err := json.Unmarshal(data, &a); err != nil {
		t.Fatalf("%s answered %q: %v", method, data, err)
	}
	return a
}

// post sends lines as one ndjson batch and expects {"status":200}.
func (c *rawLongPoll) post(t *testing.T, lines ...string) {
	t.Helper()
	if a := c.do(t, http.MethodPost, []byte(strings.Join(lines, "\n"))); a.Status != http.StatusOK {
		t.Fatalf("POST answered %+v, want status 200", a)
	}
}

// awaitFrames polls until a frame containing each of parts has arrived.
func (c *rawLongPoll) awaitFrames(t *testing.T, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(servertest.DefaultTimeout)
	for {
		missing := ""
		for _, p := range parts {
			found := false
			for _, f := range c.frames {
				found = found || strings.Contains(f, p)
			}
			if !found {
				missing = p
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no frame with %s among %q", missing, c.frames)
		}
		a := c.do(t, http.MethodGet, nil)
		if a.Status != http.StatusOK && a.Status != http.StatusNoContent {
			t.Fatalf("poll answered %+v", a)
		}
		c.frames = append(c.frames, a.Messages...)
	}
}
