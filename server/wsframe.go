package server

import (
	"encoding/binary"
	"errors"
	"io"

	"github.com/gobwas/ws"
)

var (
	errUnmasked     = errors.New("client frame is not masked")
	errReservedBits = errors.New("reserved bits set")
	errBadControl   = errors.New("control frame fragmented or longer than 125 bytes")
	errBadOpcode    = errors.New("unknown opcode")

	errNoMessage  = errors.New("continuation frame without a message")
	errUnfinished = errors.New("new message before the previous one ended")
	errTooBig     = errors.New("message too big")
)

// frameHeader is the part of a WebSocket frame header the reader needs.
type frameHeader struct {
	fin    bool
	op     ws.OpCode
	length int64
	mask   [4]byte
}

// readFrameHeader reads and checks one client frame header into scratch,
// which must hold 14 bytes (avoiding an allocation per frame).
func readFrameHeader(r io.Reader, scratch []byte) (frameHeader, error) {
	var h frameHeader
	if _, err := io.ReadFull(r, scratch[:2]); err != nil {
		return h, err
	}
	h.fin = scratch[0]&0x80 != 0
	if scratch[0]&0x70 != 0 {
		return h, errReservedBits
	}
	h.op = ws.OpCode(scratch[0] & 0x0f)
	if scratch[1]&0x80 == 0 {
		return h, errUnmasked
	}
	extra := 4
	switch n := scratch[1] & 0x7f; n {
	case 126:
		extra += 2
	case 127:
		extra += 8
	default:
		h.length = int64(n)
	}
	if _, err := io.ReadFull(r, scratch[2:2+extra]); err != nil {
		return h, err
	}
	switch extra {
	case 6:
		h.length = int64(binary.BigEndian.Uint16(scratch[2:4]))
	case 12:
		h.length = int64(binary.BigEndian.Uint64(scratch[2:10]) & (1<<63 - 1))
	}
	copy(h.mask[:], scratch[2+extra-4:2+extra])
	switch h.op {
	case ws.OpContinuation, ws.OpText, ws.OpBinary:
	case ws.OpClose, ws.OpPing, ws.OpPong:
		if !h.fin || h.length > 125 {
			return h, errBadControl
		}
	default:
		return h, errBadOpcode
	}
	return h, nil
}

// appendFrameHeader appends a server (unmasked, final) frame header.
func appendFrameHeader(dst []byte, op ws.OpCode, length int) []byte {
	b0 := 0x80 | byte(op)
	switch {
	case length < 126:
		return append(dst, b0, byte(length))
	case length <= 0xffff:
		return append(dst, b0, 126, byte(length>>8), byte(length))
	default:
		dst = append(dst, b0, 127)
		return binary.BigEndian.AppendUint64(dst, uint64(length))
	}
}

// closePayload returns the body of a close frame with code.
func closePayload(code uint16) []byte {
	if code == 0 {
		return nil
	}
	return []byte{byte(code >> 8), byte(code)}
}
