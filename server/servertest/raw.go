package servertest

// The frame-level side of a Client, for tests of what the server does with
// malformed input and of the exact bytes it sends.

// SendText sends raw as one text message (over LongPoll, one POST body),
// byte for byte: a frame the client's serializer would not make, say.
func (c *Client) SendText(raw []byte) {
	c.t.Helper()
	if err := c.conn.send(raw, false); err != nil {
		c.t.Fatalf("servertest: send text: %v", err)
	}
}

// SendBinary sends raw as one binary message (over LongPoll, one POST body
// line in base64, as phoenix.js sends binary pushes).
func (c *Client) SendBinary(raw []byte) {
	c.t.Helper()
	if err := c.conn.send(raw, true); err != nil {
		c.t.Fatalf("servertest: send binary: %v", err)
	}
}

// WriteRaw writes b to the WebSocket connection as it is, between the
// client's own frames: whole frames (masked, as a client's must be),
// fragments, or parts of a frame, for tests of framing. It returns the
// write error, as a server that closes midway makes one. Over LongPoll it
// fails the test.
func (c *Client) WriteRaw(b []byte) error {
	c.t.Helper()
	err := c.conn.writeRaw(b)
	if err == errNotWebSocket {
		c.t.Fatalf("servertest: WriteRaw: %v", err)
	}
	return err
}

// Unread returns the messages that have arrived and that no wait has
// taken, in arrival order, without taking them: after Sync or AwaitClose,
// it shows whether anything else was sent.
func (c *Client) Unread() []Message {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Message(nil), c.inbox...)
}

// PauseReading stops reading what the server sends (after at most one more
// WebSocket frame, or the LongPoll poll in flight), so that its writes back
// up, as behind a slow network: for tests of slow consumers.
// ResumeReading undoes it.
func (c *Client) PauseReading() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused == nil {
		c.paused = make(chan struct{})
	}
}

// ResumeReading reads again after PauseReading.
func (c *Client) ResumeReading() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paused != nil {
		close(c.paused)
		c.paused = nil
	}
}

// waitReading blocks while reading is paused; it reports false once the
// client is closing.
func (c *Client) waitReading() bool {
	c.mu.Lock()
	gate := c.paused
	c.mu.Unlock()
	if gate == nil {
		return true
	}
	select {
	case <-gate:
		return true
	case <-c.closing:
		return false
	}
}

// Pongs returns the payloads of the WebSocket pong frames received so far,
// in order: the answers to pings written with WriteRaw.
func (c *Client) Pongs() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.pongs...)
}

func (c *Client) pong(payload []byte) {
	c.mu.Lock()
	c.pongs = append(c.pongs, payload)
	c.mu.Unlock()
	c.signal()
}

// Protocol returns the WebSocket subprotocol the server selected ("phoenix"
// when it was offered), or "" (none, or LongPoll).
func (c *Client) Protocol() string { return c.protocol }
