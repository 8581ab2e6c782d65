package server

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// A client's close code is echoed only when it may be sent; a reserved or
// undefined one, a 1-byte body or a reason that is not UTF-8 is answered as
// a protocol error (1002), an empty close with an empty close.
func TestEchoCloseCode(t *testing.T) {
	for _, tt := range []struct {
		payload []byte
		want    uint16
	}{
		{nil, 0},
		{[]byte{0x03}, 1002}, // half a code
		{[]byte{0x03, 0xe8}, 1000},
		{[]byte{0x03, 0xe9, 'b', 'y', 'e'}, 1001},
		{[]byte{0x03, 0xf3}, 1011},
		{[]byte{0x03, 0xf4}, 1012},
		{[]byte{0x03, 0xf6}, 1014},
		{[]byte{0x0b, 0xb8}, 3000},
		{[]byte{0x0f, 0xa0}, 4000},
		{[]byte{0x13, 0x87}, 4999},
		{[]byte{0x03, 0xe8, 0xff, 0xfe}, 1002}, // reason not UTF-8
		{[]byte{0x03, 0xed}, 1002},             // 1005: reserved
		{[]byte{0x03, 0xee}, 1002},             // 1006: reserved
		{[]byte{0x03, 0xf7}, 1002},             // 1015: reserved
		{[]byte{0x03, 0xec}, 1002},             // 1004: reserved
		{[]byte{0x00, 0x01}, 1002},             // below 1000
		{[]byte{0x03, 0xe7}, 1002},             // 999
		{[]byte{0x07, 0xd0}, 1002},             // 2000: undefined
		{[]byte{0x0b, 0xb7}, 1002},             // 2999: undefined
		{[]byte{0x13, 0x88}, 1002},             // 5000: out of range
	} {
		if got := echoCloseCode(tt.payload); got != tt.want {
			t.Errorf("echoCloseCode(%x) = %d, want %d", tt.payload, got, tt.want)
		}
	}
}

// Every close reason has a label of its own, so no two reasons share a
// metric series, and CloseReasons lists them all.
func TestCloseReasonLabels(t *testing.T) {
	seen := map[string]CloseReason{}
	for _, r := range CloseReasons() {
		label := r.String()
		if label == "unknown" || label == "" {
			t.Errorf("reason %d has no label", r)
		}
		if other, dup := seen[label]; dup {
			t.Errorf("reasons %d and %d share the label %q", other, r, label)
		}
		seen[label] = r
	}
	if len(seen) != int(closeReasonEnd)-1 {
		t.Errorf("CloseReasons lists %d reasons, want %d", len(seen), closeReasonEnd-1)
	}
}

// The Mux's join statuses map to their own JoinStatus and back to the same
// label; a channel's custom status is "other".
func TestParseJoinStatus(t *testing.T) {
	for _, s := range JoinStatuses() {
		if s == JoinOther {
			continue
		}
		if got := ParseJoinStatus(s.String()); got != s {
			t.Errorf("ParseJoinStatus(%q) = %v, want %v", s.String(), got, s)
		}
	}
	for _, status := range []string{"other", "redirect", "", "OK"} {
		if got := ParseJoinStatus(status); got != JoinOther {
			t.Errorf("ParseJoinStatus(%q) = %v, want other", status, got)
		}
	}
}

// The reader's and the writer's errors each map to one close reason: a
// deadline is an idle client when reading and a stuck write when writing,
// a reset is a peer reset either way.
func TestFailureReasons(t *testing.T) {
	opErr := func(op string, err error) error {
		return &net.OpError{Op: op, Net: "tcp", Err: os.NewSyscallError(op, err)}
	}
	deadline := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	for _, tt := range []struct {
		name string
		err  error
		want CloseReason
	}{
		{"read EOF", readFailure(io.EOF), CloseClient},
		{"read deadline", readFailure(deadline), CloseIdle},
		{"read reset", readFailure(opErr("read", syscall.ECONNRESET)), ClosePeerReset},
		{"read unmasked", readFailure(errUnmasked), CloseProtocol},
		{"read closed", readFailure(net.ErrClosed), CloseClient},
		{"write deadline", writeFailure(deadline), CloseWriteTimeout},
		{"write reset", writeFailure(opErr("writev", syscall.ECONNRESET)), ClosePeerReset},
		{"write pipe", writeFailure(opErr("writev", syscall.EPIPE)), ClosePeerReset},
		{"write other", writeFailure(opErr("writev", syscall.EINVAL)), CloseWriteError},
		{"wrapped", fmt.Errorf("flush: %w", writeFailure(deadline)), CloseWriteTimeout},
		{"bare error", errors.New("boom"), CloseClient},
	} {
		if got := reasonOf(tt.err).reason; got != tt.want {
			t.Errorf("%s: reason %v, want %v", tt.name, got, tt.want)
		}
	}
}
