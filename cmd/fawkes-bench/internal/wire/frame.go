package wire

import (
	"encoding/binary"
	"errors"
)

// WebSocket opcodes (RFC 6455 section 5.2).
const (
	OpContinuation byte = 0x0
	OpText         byte = 0x1
	OpBinary       byte = 0x2
	OpClose        byte = 0x8
	OpPing         byte = 0x9
	OpPong         byte = 0xA
)

// MaxFrameBytes bounds one message; a larger one is a protocol error here.
// Benchmark messages are a few hundred bytes.
const MaxFrameBytes = 16 << 20

// ErrTooLarge means a frame or message is over MaxFrameBytes.
var ErrTooLarge = errors.New("wire: frame over 16 MiB")

// Frame is one complete message: fragments are joined, so Op is never
// OpContinuation. Payload is unmasked.
type Frame struct {
	Op      byte
	Payload []byte
}

// keepPending is the largest buffer an emptied Reader keeps for the next
// split frame. Presence states of 800-member rooms (~80 KB frames, read
// 16 KiB at a time) left buffers of up to 64 KiB on every connection when
// this was 64 KiB: 560-600 MB per load generator of 16,000 connections.
const keepPending = 4 << 10

// Reader splits a byte stream into frames. It keeps only the bytes of a
// frame that is split across reads, so an idle connection holds nothing.
// A Reader is used by one goroutine at a time.
type Reader struct {
	pending []byte // start of a frame that the last Feed did not complete
	frag    []byte // data of a fragmented message so far
	fragOp  byte
}

// Feed parses data and calls fn for every complete frame, in order. The
// Frame's payload aliases data or the Reader's buffers and is valid only
// during fn; masked payloads are unmasked in place. An error from fn stops
// Feed and is returned.
func (r *Reader) Feed(data []byte, fn func(Frame) error) error {
	if len(r.pending) > 0 {
		r.pending = append(r.pending, data...)
		data = r.pending
	}
	for {
		n, err := r.next(data, fn)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
		data = data[n:]
	}
	switch {
	case len(data) == 0:
		r.pending = r.pending[:0]
		if cap(r.pending) > keepPending {
			r.pending = nil // do not keep a large buffer on an idle connection
		}
	case len(r.pending) > 0 && &data[0] == &r.pending[0]:
		// nothing consumed from pending
	default:
		r.pending = append(r.pending[:0], data...)
	}
	return nil
}

// next parses one frame at the start of b and returns its length, or 0 when
// b does not hold a whole frame.
func (r *Reader) next(b []byte, fn func(Frame) error) (int, error) {
	if len(b) < 2 {
		return 0, nil
	}
	fin := b[0]&0x80 != 0
	op := b[0] & 0x0F
	masked := b[1]&0x80 != 0
	n := uint64(b[1] & 0x7F)
	h := 2
	switch n {
	case 126:
		if len(b) < 4 {
			return 0, nil
		}
		n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return 0, nil
		}
		n, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	if n > MaxFrameBytes {
		return 0, ErrTooLarge
	}
	var key [4]byte
	if masked {
		if len(b) < h+4 {
			return 0, nil
		}
		copy(key[:], b[h:])
		h += 4
	}
	total := h + int(n)
	if len(b) < total {
		return 0, nil
	}
	p := b[h:total]
	if masked {
		mask(p, key)
	}
	switch {
	case op >= OpClose: // control frames are never fragmented
		return total, fn(Frame{Op: op, Payload: p})
	case op == OpContinuation:
		if len(r.frag)+len(p) > MaxFrameBytes {
			return 0, ErrTooLarge
		}
		r.frag = append(r.frag, p...)
		if !fin {
			return total, nil
		}
		err := fn(Frame{Op: r.fragOp, Payload: r.frag})
		r.frag = nil
		return total, err
	case !fin:
		r.fragOp = op
		r.frag = append(r.frag[:0], p...)
		return total, nil
	}
	return total, fn(Frame{Op: op, Payload: p})
}

func mask(p []byte, key [4]byte) {
	for i := range p {
		p[i] ^= key[i&3]
	}
}

// AppendHeader appends a FIN frame header for a payload of n bytes. With
// key non-nil the frame is masked with it (clients must mask); the caller
// then masks the payload with Mask.
func AppendHeader(dst []byte, op byte, n int, key *[4]byte) []byte {
	var m byte
	if key != nil {
		m = 0x80
	}
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, m|byte(n))
	case n <= 0xFFFF:
		dst = append(dst, m|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, m|127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	if key != nil {
		dst = append(dst, key[:]...)
	}
	return dst
}

// AppendFrame appends a whole FIN frame holding payload, masked with key
// when key is non-nil.
func AppendFrame(dst []byte, op byte, payload []byte, key *[4]byte) []byte {
	dst = AppendHeader(dst, op, len(payload), key)
	start := len(dst)
	dst = append(dst, payload...)
	if key != nil {
		mask(dst[start:], *key)
	}
	return dst
}
