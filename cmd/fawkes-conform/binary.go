package main

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// Binary frames (docs/protocol.md §3.3) are written in cases as the V2 array they stand
// for, with the payload as "hex:<bytes>": a client push is
// [join_ref, ref, topic, event, "hex:.."]; the server's push is
// [join_ref, null, topic, event, "hex:.."], its reply
// [join_ref, ref, topic, "phx_reply", {"status":..,"response":"hex:.."}]
// and its broadcast [null, null, topic, event, "hex:.."]. An empty join_ref
// or ref reads as null.

// Binary frame kinds.
const (
	kindPush      = 0
	kindReply     = 1
	kindBroadcast = 2
)

// encodeClientPush builds a kind-0 frame from its array form.
func encodeClientPush(v any) ([]byte, error) {
	arr, ok := v.([]any)
	if !ok || len(arr) != 5 {
		return nil, fmt.Errorf("a binary push is [join_ref, ref, topic, event, \"hex:..\"]")
	}
	fields := make([]string, 4)
	for i := range 4 {
		switch f := arr[i].(type) {
		case nil:
		case string:
			fields[i] = f
		default:
			return nil, fmt.Errorf("binary push field %d: want a string or null", i)
		}
		if len(fields[i]) > 255 {
			return nil, fmt.Errorf("binary push field %d is over 255 bytes", i)
		}
	}
	payload, err := hexPayload(arr[4])
	if err != nil {
		return nil, err
	}
	out := []byte{kindPush, byte(len(fields[0])), byte(len(fields[1])), byte(len(fields[2])), byte(len(fields[3]))}
	for _, f := range fields {
		out = append(out, f...)
	}
	return append(out, payload...), nil
}

func hexPayload(v any) ([]byte, error) {
	s, ok := v.(string)
	if !ok || !strings.HasPrefix(s, "hex:") {
		return nil, fmt.Errorf(`binary payload: want "hex:<bytes>"`)
	}
	return hex.DecodeString(s[len("hex:"):])
}

// decodeServerBinary returns the array form of a server binary frame.
func decodeServerBinary(b []byte) (any, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("empty binary frame")
	}
	var lens []int
	switch b[0] {
	case kindPush:
		lens = make([]int, 3) // join_ref, topic, event
	case kindReply:
		lens = make([]int, 4) // join_ref, ref, topic, status
	case kindBroadcast:
		lens = make([]int, 2) // topic, event
	default:
		return nil, fmt.Errorf("binary frame of kind %d", b[0])
	}
	if len(b) < 1+len(lens) {
		return nil, fmt.Errorf("binary frame header truncated: % x", b)
	}
	pos := 1 + len(lens)
	fields := make([]string, len(lens))
	for i := range lens {
		n := int(b[1+i])
		if pos+n > len(b) {
			return nil, fmt.Errorf("binary frame field %d overruns the frame: % x", i, b)
		}
		fields[i] = string(b[pos : pos+n])
		pos += n
	}
	payload := "hex:" + hex.EncodeToString(b[pos:])
	ref := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	switch b[0] {
	case kindPush:
		return []any{ref(fields[0]), nil, fields[1], fields[2], payload}, nil
	case kindReply:
		return []any{ref(fields[0]), ref(fields[1]), fields[2], "phx_reply", map[string]any{"status": fields[3], "response": payload}}, nil
	}
	return []any{nil, nil, fields[0], fields[1], payload}, nil
}
