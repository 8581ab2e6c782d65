package phxtoken

import (
	"encoding/base64"
	"errors"
	"strings"
)

// BearerProtocolPrefix starts the Sec-WebSocket-Protocol entry in which
// phoenix.js (1.8 and later, the authToken socket option) sends the auth
// token: "base64url.bearer.phx." + btoa(token) without "=".
const BearerProtocolPrefix = "base64url.bearer.phx."

// ErrBadBearerProtocol means the bearer entry is not valid base64. Phoenix
// fails the request in that case.
var ErrBadBearerProtocol = errors.New("phxtoken: bearer subprotocol is not valid base64")

// ExtractAuthToken reads a Sec-WebSocket-Protocol header value (the first
// one, as Phoenix does) as a Phoenix endpoint with auth_token: true does: it
// splits it on commas, trims spaces, drops empty entries, and, if exactly
// one entry starts with BearerProtocolPrefix, decodes the rest of it as the
// auth token. protocols are the other entries, the ones to negotiate
// ("phoenix" for phoenix.js).
//
// With no bearer entry, or more than one, ok is false and protocols are all
// the entries, bearer ones included, as Phoenix leaves the header alone then.
// The token may use the standard or the URL-safe base64 alphabet, with or
// without padding; phoenix.js sends the standard one unpadded. A bearer
// entry that does not decode gives ErrBadBearerProtocol.
func ExtractAuthToken(header string) (token string, ok bool, protocols []string, err error) {
	bearer := -1
	for entry := range strings.SplitSeq(header, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		if strings.HasPrefix(entry, BearerProtocolPrefix) {
			if bearer == -1 {
				bearer = len(protocols)
			} else {
				bearer = -2 // more than one
			}
		}
		protocols = append(protocols, entry)
	}
	if bearer < 0 {
		return "", false, protocols, nil
	}
	raw, err := decodeBase64Any(protocols[bearer][len(BearerProtocolPrefix):])
	if err != nil {
		return "", false, protocols, ErrBadBearerProtocol
	}
	protocols = append(protocols[:bearer], protocols[bearer+1:]...)
	if len(protocols) == 0 {
		protocols = nil
	}
	return string(raw), true, protocols, nil
}

// decodeBase64Any decodes base64 in either alphabet (not mixed), padded or
// not.
func decodeBase64Any(s string) ([]byte, error) {
	if len(s)%4 == 0 {
		s = strings.TrimSuffix(s, "=")
		s = strings.TrimSuffix(s, "=")
	}
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	return enc.DecodeString(s)
}
