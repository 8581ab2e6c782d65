package presence

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"hash/fnv"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

// refLen is the length of a phx_ref: URL-safe base64 of 12 bytes.
const refLen = 16

// ref is a phx_ref, kept as its 16 characters.
type ref [refLen]byte

// refSource makes phx_refs as Phoenix.Tracker does: URL-safe base64 of a
// 64-bit nanosecond timestamp, a 16-bit node hash and a 16-bit counter.
// Timestamps are made strictly increasing per source, so refs from one
// source never repeat, even with a coarse or backward-stepping clock.
type refSource struct {
	node uint16
	last atomic.Int64
	seq  atomic.Uint32
}

func newRefSource() *refSource {
	var seed [4]byte
	_, _ = rand.Read(seed[:]) // crypto/rand does not fail on supported platforms
	host, _ := os.Hostname()
	h := fnv.New32a()
	h.Write([]byte(host))
	h.Write([]byte(strconv.Itoa(os.Getpid())))
	h.Write(seed[:])
	sum := h.Sum32()
	r := &refSource{node: uint16(sum ^ sum>>16)}
	r.seq.Store(binary.BigEndian.Uint32(seed[:]))
	return r
}

func (r *refSource) next() ref {
	now := time.Now().UnixNano()
	var ts int64
	for {
		last := r.last.Load()
		ts = max(now, last+1)
		if r.last.CompareAndSwap(last, ts) {
			break
		}
	}
	var raw [12]byte
	binary.BigEndian.PutUint64(raw[0:8], uint64(ts))
	binary.BigEndian.PutUint16(raw[8:10], r.node)
	binary.BigEndian.PutUint16(raw[10:12], uint16(r.seq.Add(1)))
	var out ref
	base64.RawURLEncoding.Encode(out[:], raw[:])
	return out
}
