package server_test

// WebSocket framing as the reader meets it on a real socket: bursts of
// frames in one write, frames split across writes, control frames between
// fragments, and hostile headers. Frames sent before the upgrade response
// are in upgradelistener_test.go (TestFrameBehindUpgradeOnBothPaths).

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/server"
)

// TestPipelinedFrames: many frames in one write are all handled, in order.
func TestPipelinedFrames(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	c.join("1", "conformance:a", "{}")
	var burst []byte
	const n = 300
	for i := range n {
		burst = append(burst, maskedFrame(t, ws.OpText, true, fmt.Appendf(nil, `["1","%d","conformance:a","echo",{"i":%d}]`, i, i))...)
	}
	if err := c.WriteRaw(burst); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		c.expectReply("1", fmt.Sprint(i), "conformance:a", "ok", fmt.Sprintf(`{"i":%d}`, i))
	}
}

// TestFrameSplitAcrossWrites: a frame that arrives a few bytes at a time,
// header included, is reassembled.
func TestFrameSplitAcrossWrites(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	payload := `["1","1","conformance:a","phx_join",{"pad":"` + strings.Repeat("z", 300) + `"}]`
	frame := maskedFrame(t, ws.OpText, true, []byte(payload))
	// 1-byte pieces through the 8-byte header, then the payload in three.
	pieces := [][]byte{frame[0:1], frame[1:2], frame[2:3], frame[3:5], frame[5:8]}
	rest := frame[8:]
	pieces = append(pieces, rest[:100], rest[100:200], rest[200:])
	for _, p := range pieces {
		if err := c.WriteRaw(p); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond) // let each piece be read on its own
	}
	c.expectReply("1", "1", "conformance:a", "ok", "{}")
}

// TestControlFrameBetweenFragments: a ping may come between the fragments
// of a message; it is answered and the message still completes.
func TestControlFrameBetweenFragments(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	c.sendFrame(ws.OpText, false, []byte(`[null,"1","phoe`))
	c.sendFrame(ws.OpPing, true, []byte("mid"))
	c.sendFrame(ws.OpContinuation, true, []byte(`nix","heartbeat",{}]`))
	c.expectReply(nil, "1", "phoenix", "ok", "{}")
	checkFor(t, frameTimeout, 5*time.Millisecond, func() error {
		if p := c.Pongs(); len(p) != 1 || string(p[0]) != "mid" {
			return fmt.Errorf("pongs %q, want [mid]", p)
		}
		return nil
	})
}

// TestHugeLengthHeader: a header announcing an enormous frame is refused
// with 1009 from the header alone, without waiting for (or allocating) the
// payload.
func TestHugeLengthHeader(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	hdr := []byte{0x81, 0x80 | 127}
	hdr = binary.BigEndian.AppendUint64(hdr, 1<<40)
	hdr = append(hdr, 1, 2, 3, 4) // mask
	if err := c.WriteRaw(hdr); err != nil {
		t.Fatal(err)
	}
	c.expectClose(ws.StatusMessageTooBig)
}

// TestOversizedControlFrame: control frames carry at most 125 bytes.
func TestOversizedControlFrame(t *testing.T) {
	srv := startServer(t, server.Config{})
	c := dial(t, srv, v2)
	c.sendFrame(ws.OpPing, true, bytes.Repeat([]byte("p"), 126))
	c.expectClose(ws.StatusProtocolError)
}

// jsonEqual compares as JSON: key order does not matter.
func jsonEqual(got []byte, want string) bool {
	var g, w any
	return json.Unmarshal(got, &g) == nil && json.Unmarshal([]byte(want), &w) == nil && cmp.Equal(g, w)
}
