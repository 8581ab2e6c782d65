package protocol

import (
	"unicode/utf8"

	"github.com/fawkes-rt/fawkes/protocol/jsontext"
)

// Version identifies a serializer.
type Version uint8

// The serializer versions Phoenix defines.
const (
	V1 Version = 1 // JSON objects, vsn 1.0.x
	V2 Version = 2 // JSON arrays and binary frames, vsn 2.0.x
)

// String returns "1.0.0" or "2.0.0".
func (v Version) String() string {
	switch v {
	case V1:
		return "1.0.0"
	case V2:
		return "2.0.0"
	}
	return "unknown"
}

// Serializer converts frames to messages and back. Implementations are
// stateless and safe for concurrent use.
type Serializer interface {
	// Version returns the serializer's version.
	Version() Version
	// Decode parses a client-to-server frame. binary says whether it came in
	// a binary WebSocket frame. The returned payload aliases data.
	Decode(data []byte, binary bool) (Message, error)
	// Append appends the frame for a server-to-client message to dst. The
	// frame is binary iff m.Binary; a JSON payload must be an object.
	Append(dst []byte, m *Message) ([]byte, error)
}

// Serializers for each version; V2JSON also handles binary frames.
var (
	V1JSON Serializer = v1JSON{}
	V2JSON Serializer = v2JSON{}
)

// ForVersion returns the serializer of version v, or nil.
func ForVersion(v Version) Serializer {
	switch v {
	case V1:
		return V1JSON
	case V2:
		return V2JSON
	}
	return nil
}

// checkObjectPayload reports whether a server payload is a JSON object. The
// payload comes from server code, so only its first byte is checked here.
func checkObjectPayload(p []byte) *Error {
	i := jsontext.SkipSpace(p, 0)
	if len(p) == 0 || i < len(p) && p[i] == '{' {
		return nil
	}
	return errorf(CodePayloadNotObject, "")
}

// payloadOrEmpty returns p, or {} for a nil payload.
func payloadOrEmpty(p []byte) []byte {
	if len(p) == 0 {
		return emptyObject
	}
	return p
}

var emptyObject = []byte("{}")

func validUTF8(data []byte) *Error {
	if !utf8.Valid(data) {
		return errorf(CodeNotJSON, "invalid UTF-8")
	}
	return nil
}
