package servertest

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Option configures Dial.
type Option func(*options)

type options struct {
	params   url.Values
	token    string
	hasToken bool
	header   http.Header
	longPoll bool
	timeout  time.Duration
}

// Params adds connect params, as key, value pairs: phoenix.js's
// new Socket(url, {params: {...}}). vsn=2.0.0 is always added last, as
// phoenix.js does.
func Params(kv ...string) Option {
	return func(o *options) {
		for i := 0; i+1 < len(kv); i += 2 {
			o.params.Add(kv[i], kv[i+1])
		}
	}
}

// AuthToken sends token as phoenix.js's authToken option does: in the
// Sec-WebSocket-Protocol header ("base64url.bearer.phx.<base64>"), or as
// the X-Phoenix-AuthToken header over LongPoll.
func AuthToken(token string) Option {
	return func(o *options) { o.token, o.hasToken = token, true }
}

// Header adds a request header to the connect request (Origin, say).
func Header(key, value string) Option {
	return func(o *options) { o.header.Add(key, value) }
}

// LongPoll connects over the LongPoll transport instead of WebSocket.
func LongPoll() Option { return func(o *options) { o.longPoll = true } }

// Timeout sets how long the client's waits last before they fail the
// test. Zero means DefaultTimeout.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// transport is a connection of either kind.
type transport interface {
	// send writes one client frame: V2 JSON text, or a binary push.
	send(frame []byte, binary bool) error
	// close ends the connection from the client side.
	close()
}

// DialError is a connection the server refused.
type DialError struct {
	// Status is the HTTP status of a refused WebSocket upgrade (403 when
	// the connect hook refused), or the "status" of a LongPoll answer.
	Status int
	// Err is the underlying error, for failures without a status.
	Err error
}

// Error describes the refusal.
func (e *DialError) Error() string {
	if e.Status != 0 {
		return "servertest: connection refused with status " + strconv.Itoa(e.Status)
	}
	return "servertest: cannot connect: " + e.Err.Error()
}

// Unwrap returns the underlying error.
func (e *DialError) Unwrap() error { return e.Err }

// Client is one connection to a Phoenix socket. Its methods are safe for
// concurrent use, but those that wait fail the test: call them from the
// test's goroutine.
type Client struct {
	t       testing.TB
	timeout time.Duration
	conn    transport

	mu     sync.Mutex
	ref    int
	inbox  []Message
	notify chan struct{} // signalled on every change of inbox or end
	ended  bool
	code   int // close code, once ended
	reason string
}

// Dial connects to the socket mounted at base ("http://host/socket", as
// Server.URL; ws:// works too) and fails the test if it cannot. The
// test's cleanup closes the client.
func Dial(t testing.TB, base string, opts ...Option) *Client {
	t.Helper()
	c, err := TryDial(t, base, opts...)
	if err != nil {
		t.Fatalf("servertest: Dial %s: %v", base, err)
	}
	return c
}

// TryDial is Dial returning the refusal instead of failing the test: a
// *DialError whose Status is what a refused connection got (403 when the
// connect hook refused).
func TryDial(t testing.TB, base string, opts ...Option) (*Client, error) {
	t.Helper()
	o := &options{params: url.Values{}, header: http.Header{}, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	c := &Client{t: t, timeout: o.timeout, notify: make(chan struct{}, 1)}
	query := o.params.Encode()
	if query != "" {
		query += "&"
	}
	query += "vsn=2.0.0"
	var err error
	if o.longPoll {
		c.conn, err = dialLongPoll(c, socketURL(base, "longpoll", false)+"?"+query, o)
	} else {
		c.conn, err = dialWebSocket(c, socketURL(base, "websocket", true)+"?"+query, o)
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return c, nil
}

// Close closes the connection from the client side. It is idempotent.
func (c *Client) Close() { c.conn.close() }

// received queues a message from the server.
func (c *Client) received(m Message) {
	c.mu.Lock()
	c.inbox = append(c.inbox, m)
	c.mu.Unlock()
	c.signal()
}

// end records the end of the connection, with its close code.
func (c *Client) end(code int, reason string) {
	c.mu.Lock()
	if !c.ended {
		c.ended, c.code, c.reason = true, code, reason
	}
	c.mu.Unlock()
	c.signal()
}

func (c *Client) signal() {
	select {
	case c.notify <- struct{}{}:
	default:
	}
}

// nextRef returns a new ref, from the client's one counter.
func (c *Client) nextRef() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ref++
	return strconv.Itoa(c.ref)
}

// await waits for the first message that match accepts, takes it from the
// inbox and returns it; it fails the test after the timeout, or when the
// connection ends first.
func (c *Client) await(what string, match func(Message) bool) Message {
	c.t.Helper()
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		for i, m := range c.inbox {
			if match(m) {
				c.inbox = append(c.inbox[:i:i], c.inbox[i+1:]...)
				c.mu.Unlock()
				return m
			}
		}
		ended, code, reason := c.ended, c.code, c.reason
		pending := c.describeInbox()
		c.mu.Unlock()
		if ended {
			c.t.Fatalf("servertest: waiting for %s: connection ended (%d %s); unclaimed: %s", what, code, reason, pending)
		}
		select {
		case <-c.notify:
		case <-timer.C:
			c.t.Fatalf("servertest: no %s within %v; unclaimed: %s", what, c.timeout, pending)
		}
	}
}

// describeInbox lists the unclaimed messages, for failure messages; c.mu
// is held.
func (c *Client) describeInbox() string {
	if len(c.inbox) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, m := range c.inbox {
		if i == 8 {
			fmt.Fprintf(&b, " ... (%d more)", len(c.inbox)-i)
			break
		}
		b.WriteString("\n\t" + m.String())
	}
	return b.String()
}

// Next returns the next message the server sent that no other wait took,
// whatever its topic and kind.
func (c *Client) Next() Message {
	c.t.Helper()
	return c.await("message", func(Message) bool { return true })
}

// Send sends one message and returns its ref; the reply, if any, is read
// with AwaitReply. payload is as for Channel.Push. joinRef "" sends null.
func (c *Client) Send(joinRef, topic, event string, payload any) string {
	c.t.Helper()
	data, err := encodePayload(payload)
	if err != nil {
		c.t.Fatalf("servertest: payload of %s: %v", event, err)
	}
	ref := c.nextRef()
	if err := c.conn.send(encodeText(joinRef, ref, topic, event, data), false); err != nil {
		c.t.Fatalf("servertest: send %s on %s: %v", event, topic, err)
	}
	return ref
}

// AwaitReply waits for the reply to the message sent with ref.
func (c *Client) AwaitReply(ref string) Reply {
	c.t.Helper()
	m := c.await("reply to ref "+ref, func(m Message) bool { return m.Event == EventReply && m.Ref == ref })
	r, ok := m.Reply()
	if !ok {
		c.t.Fatalf("servertest: malformed reply %s", m)
	}
	return r
}

// Heartbeat sends a heartbeat on the "phoenix" topic and returns its
// reply.
func (c *Client) Heartbeat() Reply {
	c.t.Helper()
	return c.AwaitReply(c.Send("", "phoenix", "heartbeat", nil))
}

// Sync makes a heartbeat round trip: what the server queued for this
// client before answering it has then arrived, so a test can check that
// something did not (see Channel.Received).
func (c *Client) Sync() {
	c.t.Helper()
	if r := c.Heartbeat(); !r.OK() {
		c.t.Fatalf("servertest: heartbeat answered %s", r)
	}
}

// AwaitClose waits until the server ends the connection and returns the
// close code: the WebSocket close frame's code (1001 for a disconnect,
// 1012 for a drain, ...), 1006 when the connection ended without one. Over
// LongPoll, as phoenix.js reads it: 3410 when the session is gone (410),
// 1008 for a refusal (403), 1011 for an error answer.
func (c *Client) AwaitClose() int {
	c.t.Helper()
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		ended, code := c.ended, c.code
		c.mu.Unlock()
		if ended {
			return code
		}
		select {
		case <-c.notify:
		case <-timer.C:
			c.t.Fatalf("servertest: connection still open after %v", c.timeout)
		}
	}
}

// Channel returns a handle on topic, without joining it (to push on a topic
// that is not joined, say). Join returns a joined one.
func (c *Client) Channel(topic string) *Channel { return &Channel{c: c, Topic: topic} }

// Join joins topic with payload (as for Channel.Push) and fails the test
// unless the server replies "ok". The reply is in the Channel's
// JoinReply.
func (c *Client) Join(topic string, payload any) *Channel {
	c.t.Helper()
	ch, r := c.TryJoin(topic, payload)
	if !r.OK() {
		c.t.Fatalf("servertest: join %s refused: %s", topic, r)
	}
	return ch
}

// TryJoin joins topic with payload and returns the channel and the
// reply, whatever its status.
func (c *Client) TryJoin(topic string, payload any) (*Channel, Reply) {
	c.t.Helper()
	ch := &Channel{c: c, Topic: topic}
	r := ch.Rejoin(payload)
	return ch, r
}

// Channel is one topic of a Client, joined or not.
type Channel struct {
	c *Client
	// Topic is the channel's topic.
	Topic string
	// JoinRef is the ref of the channel's last phx_join ("" before any):
	// its pushes carry it, and messages with another non-null join_ref are
	// not the channel's (phoenix.js drops them as outdated).
	JoinRef string
	// JoinReply is the reply to the last phx_join.
	JoinReply Reply
}

// Rejoin sends phx_join again (a new join_ref, as phoenix.js after an
// error) and returns the reply.
func (ch *Channel) Rejoin(payload any) Reply {
	ch.c.t.Helper()
	ch.JoinReply = ch.c.AwaitReply(ch.SendJoin(payload))
	return ch.JoinReply
}

// SendJoin sends phx_join without waiting for the reply, and returns its
// ref (also the channel's JoinRef from then on, as phoenix.js sends
// join_ref == ref): read the reply with Client.AwaitReply.
func (ch *Channel) SendJoin(payload any) string {
	ch.c.t.Helper()
	data, err := encodePayload(payload)
	if err != nil {
		ch.c.t.Fatalf("servertest: join payload: %v", err)
	}
	ref := ch.c.nextRef()
	ch.JoinRef = ref
	if err := ch.c.conn.send(encodeText(ref, ref, ch.Topic, "phx_join", data), false); err != nil {
		ch.c.t.Fatalf("servertest: join %s: %v", ch.Topic, err)
	}
	return ref
}

// Send sends event with payload (as for Push) on the channel without
// waiting for the reply, and returns its ref: read the reply with
// Client.AwaitReply.
func (ch *Channel) Send(event string, payload any) string {
	ch.c.t.Helper()
	return ch.c.Send(ch.JoinRef, ch.Topic, event, payload)
}

// Push sends event with payload and waits for the reply. payload is nil
// ({}), JSON text (a string, []byte or json.RawMessage), or a Go value
// encoded with encoding/json.
func (ch *Channel) Push(event string, payload any) Reply {
	ch.c.t.Helper()
	return ch.c.AwaitReply(ch.c.Send(ch.JoinRef, ch.Topic, event, payload))
}

// PushBinary sends event with raw bytes in a V2 binary frame (as
// phoenix.js does for an ArrayBuffer payload) and waits for the reply.
func (ch *Channel) PushBinary(event string, payload []byte) Reply {
	ch.c.t.Helper()
	ref := ch.c.nextRef()
	frame, err := encodeBinary(ch.JoinRef, ref, ch.Topic, event, payload)
	if err == nil {
		err = ch.c.conn.send(frame, true)
	}
	if err != nil {
		ch.c.t.Fatalf("servertest: binary push %s: %v", event, err)
	}
	return ch.c.AwaitReply(ref)
}

// Leave sends phx_leave and waits for its reply.
func (ch *Channel) Leave() Reply {
	ch.c.t.Helper()
	return ch.Push("phx_leave", nil)
}

// mine reports whether m, not a reply, belongs to the channel: its topic,
// and its join (or no join_ref, as broadcasts).
func (ch *Channel) mine(m Message) bool {
	return m.Topic == ch.Topic && m.Event != EventReply && (m.JoinRef == "" || m.JoinRef == ch.JoinRef)
}

// Await waits for the next push or broadcast of event on the channel and
// takes it. Other messages stay for later waits.
func (ch *Channel) Await(event string) Message {
	ch.c.t.Helper()
	return ch.c.await(fmt.Sprintf("%q on %s", event, ch.Topic), func(m Message) bool { return ch.mine(m) && m.Event == event })
}

// Received takes the pushes and broadcasts of event on the channel that
// have arrived, without waiting (after Sync, say, to check that something
// was not sent).
func (ch *Channel) Received(event string) []Message {
	c := ch.c
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Message
	kept := c.inbox[:0:0]
	for _, m := range c.inbox {
		if ch.mine(m) && m.Event == event {
			out = append(out, m)
		} else {
			kept = append(kept, m)
		}
	}
	c.inbox = kept
	return out
}
