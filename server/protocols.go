package server

import (
	"slices"
	"strings"

	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

// parseProtocols reads the Sec-WebSocket-Protocol values the way a Phoenix
// endpoint with auth_token: true does: whether the client offered "phoenix",
// and the auth token carried in a "base64url.bearer.phx.<base64>" entry
// (phoenix.js's authToken). A bearer entry that does not decode is an error.
func parseProtocols(values []string) (phoenix bool, token string, hasToken bool, err error) {
	token, hasToken, protocols, err := phxtoken.ExtractAuthToken(strings.Join(values, ","))
	if err != nil {
		return false, "", false, err
	}
	return slices.Contains(protocols, subprotocolPhoenix), token, hasToken, nil
}
