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

// transport is a connection of either kind.
type transport interface {
	// send writes one client message: JSON text, or a V2 binary frame.
	send(frame []byte, binary bool) error
	// writeRaw writes bytes to the connection as they are (WebSocket only).
	writeRaw(b []byte) error
	// close ends the connection from the client side.
	close()
}

// DialError is a connection the server refused.
type DialError struct {
	// Status is the HTTP status of a refused WebSocket upgrade (403 when
	// the connect hook refused), or the "status" of a LongPoll answer.
	Status int
	// Body is the body of a refused WebSocket upgrade's response, or the
	// JSON answer of a refused LongPoll connect.
	Body string
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
	t        testing.TB
	timeout  time.Duration
	codec    codec
	conn     transport
	protocol string        // the selected WebSocket subprotocol
	closing  chan struct{} // closed by Close

	mu        sync.Mutex
	ref       int
	inbox     []Message
	notify    chan struct{} // signalled on every change of inbox or end
	ended     bool
	code      int // close code, once ended
	reason    string
	paused    chan struct{} // non-nil while reading is paused; closed to resume
	pongs     [][]byte
	closeOnce sync.Once
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
	o := &options{params: url.Values{}, header: http.Header{}, timeout: DefaultTimeout, vsn: "2.0.0"}
	for _, opt := range opts {
		opt(o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	c := &Client{t: t, timeout: o.timeout, codec: codecFor(o.vsn), notify: make(chan struct{}, 1), closing: make(chan struct{})}
	query := o.params.Encode()
	if o.vsn != "" {
		if query != "" {
			query += "&"
		}
		query += "vsn=" + url.QueryEscape(o.vsn)
	}
	if query != "" {
		query = "?" + query
	}
	var err error
	if o.longPoll {
		c.conn, err = dialLongPoll(c, socketURL(base, "longpoll", false)+query, o)
	} else {
		c.conn, err = dialWebSocket(c, socketURL(base, "websocket", true)+query, o)
	}
	if err != nil {
		return nil, err
	}
	t.Cleanup(c.Close)
	return c, nil
}

// Close closes the connection from the client side (a WebSocket close
// frame with 1000 first). It is idempotent.
func (c *Client) Close() {
	c.closeOnce.Do(func() {
		close(c.closing)
		c.conn.close()
	})
}

// Closed reports whether the connection has ended, without waiting:
// AwaitClose would then return at once.
func (c *Client) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ended
}

// CloseReason returns the reason that came with the close code (the close
// frame's reason text, or what ended the connection otherwise), or "" while
// the connection is open.
func (c *Client) CloseReason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// received queues a message from the server.
func (c *Client) received(m Message) {
	m.Received = time.Now()
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
	if err := c.conn.send(c.codec.encodeText(joinRef, ref, topic, event, data), false); err != nil {
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
// 1012 for a drain, ...), 1006 when the connection ended without one, 1002
// when the server broke the protocol (a frame after its close frame, a
// masked frame, a message that does not decode). Over WebSocket it returns
// once the server has also closed the TCP connection, as RFC 6455 has it.
// Over LongPoll, as phoenix.js reads it: 3410 when the session is gone
// (410), 1008 for a refusal (403), 1011 for an error answer. Messages that
// came before the end stay for Next and Unread.
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
