package clusterwire

import (
	"encoding/binary"
	"slices"
	"time"
)

// Request is one pubsub.Relay call, on its way to the node that serves it.
type Request struct {
	// ID tells the caller's node which call a Reply answers.
	ID uint64
	// Wait is how long the caller still waits for the answer, in whole
	// milliseconds on the wire (a positive Wait under 1 ms goes as 1 ms).
	// Zero means the caller set no deadline.
	Wait time.Duration
	// Handler names the handler of the request (pubsub.Relay's kind).
	Handler string
	// Body is the request's bytes.
	Body []byte
}

// ReplyStatus says whether a node served a request.
type ReplyStatus byte

// Statuses of a Reply.
const (
	// ReplyOK means the handler ran and Reply.Body is its answer.
	ReplyOK ReplyStatus = 0
	// ReplyNoHandler means the node has no handler for the request.
	ReplyNoHandler ReplyStatus = 1
)

// Reply is the answer to a Request, on its way to the caller's node.
type Reply struct {
	// ID is the answered Request's.
	ID uint64
	// Status says whether the request was served.
	Status ReplyStatus
	// Body is the handler's answer (nil unless ReplyOK).
	Body []byte
}

// AppendRequest appends to dst the envelope of r, sent by node, and
// returns the extended slice.
func AppendRequest(dst []byte, node NodeID, r Request) []byte {
	var ms uint64
	if r.Wait > 0 {
		ms = uint64(max(r.Wait.Milliseconds(), 1))
	}
	dst = slices.Grow(dst, envelopeSize+3*binary.MaxVarintLen64+len(r.Handler)+len(r.Body))
	dst = appendEnvelope(dst, Version2, KindRequest, node, 0)
	dst = binary.AppendUvarint(dst, r.ID)
	dst = binary.AppendUvarint(dst, ms)
	dst = appendField(dst, r.Handler)
	return append(dst, r.Body...)
}

// Request decodes the body of a request envelope. Its Body shares e.Body.
func (e Envelope) Request() (Request, error) {
	var r Request
	body := e.Body
	if e.Kind != KindRequest {
		return r, ErrMalformed
	}
	var k int
	if r.ID, k = binary.Uvarint(body); k <= 0 {
		return r, ErrMalformed
	}
	body = body[k:]
	ms, k := binary.Uvarint(body)
	if k <= 0 || ms > uint64(maxWait/time.Millisecond) {
		return r, ErrMalformed
	}
	handler, rest, ok := cutField(body[k:])
	if !ok {
		return r, ErrMalformed
	}
	r.Wait = time.Duration(ms) * time.Millisecond
	r.Handler, r.Body = string(handler), rest
	return r, nil
}

// maxWait is the longest Wait a time.Duration holds in whole milliseconds.
const maxWait = time.Duration(1<<63 - 1)

// AppendReply appends to dst the envelope of r, sent by node, and returns
// the extended slice.
func AppendReply(dst []byte, node NodeID, r Reply) []byte {
	dst = slices.Grow(dst, envelopeSize+binary.MaxVarintLen64+1+len(r.Body))
	dst = appendEnvelope(dst, Version2, KindReply, node, 0)
	dst = binary.AppendUvarint(dst, r.ID)
	dst = append(dst, byte(r.Status))
	return append(dst, r.Body...)
}

// Reply decodes the body of a reply envelope. Its Body shares e.Body. A
// status other than ReplyOK and ReplyNoHandler is malformed.
func (e Envelope) Reply() (Reply, error) {
	var r Reply
	if e.Kind != KindReply {
		return r, ErrMalformed
	}
	id, k := binary.Uvarint(e.Body)
	if k <= 0 || len(e.Body) < k+1 {
		return r, ErrMalformed
	}
	r.ID, r.Status, r.Body = id, ReplyStatus(e.Body[k]), e.Body[k+1:]
	if r.Status != ReplyOK && r.Status != ReplyNoHandler {
		return Reply{}, ErrMalformed
	}
	return r, nil
}
