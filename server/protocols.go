package server

import (
	"encoding/base64"
	"errors"
	"strings"
)

// bearerPrefix marks the phoenix.js authToken among the WebSocket
// subprotocols.
const bearerPrefix = "base64url.bearer.phx."

// parseProtocols reads the Sec-WebSocket-Protocol values: whether the client
// offered "phoenix", and the auth token carried in a
// "base64url.bearer.phx.<base64>" entry. phoenix.js uses the standard
// alphabet without padding despite the name; both alphabets and optional
// padding are accepted.
func parseProtocols(values []string) (phoenix bool, token string, hasToken bool, err error) {
	for _, v := range values {
		for _, p := range strings.Split(v, ",") {
			p = strings.TrimSpace(p)
			if p == subprotocolPhoenix {
				phoenix = true
				continue
			}
			enc, ok := strings.CutPrefix(p, bearerPrefix)
			if !ok {
				continue
			}
			if hasToken {
				return false, "", false, errors.New("more than one auth token")
			}
			raw, derr := decodeBase64Any(enc)
			if derr != nil {
				return false, "", false, derr
			}
			token, hasToken = string(raw), true
		}
	}
	return phoenix, token, hasToken, nil
}

func decodeBase64Any(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
