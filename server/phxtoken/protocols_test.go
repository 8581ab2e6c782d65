package phxtoken

import (
	"errors"
	"reflect"
	"testing"
)

func TestExtractAuthToken(t *testing.T) {
	tests := []struct {
		name      string
		header    string
		token     string
		ok        bool
		protocols []string
		err       error
	}{
		// The example the spec verified against phoenix.js.
		{"phoenix.js", "phoenix, base64url.bearer.phx.bXktc2VjcmV0LXRva2Vu", "my-secret-token", true, []string{"phoenix"}, nil},
		{"no spaces, token first", "base64url.bearer.phx.bXktc2VjcmV0LXRva2Vu,phoenix", "my-secret-token", true, []string{"phoenix"}, nil},
		{"padded", "phoenix, base64url.bearer.phx.YWI=", "ab", true, []string{"phoenix"}, nil},
		{"standard alphabet", "base64url.bearer.phx.+/8", "\xfb\xff", true, nil, nil},
		{"URL alphabet", "base64url.bearer.phx.-_8", "\xfb\xff", true, nil, nil},
		{"URL alphabet padded", "base64url.bearer.phx.-_-_", "\xfb\xff\xbf", true, nil, nil},
		{"empty token", "phoenix, base64url.bearer.phx.", "", true, []string{"phoenix"}, nil},
		{"extra spaces and empty entries", " , phoenix ,,  base64url.bearer.phx.YWI , v2 ", "ab", true, []string{"phoenix", "v2"}, nil},
		{"no token", "phoenix, v2", "", false, []string{"phoenix", "v2"}, nil},
		{"empty header", "", "", false, nil, nil},
		{"prefix is case-sensitive", "Base64url.bearer.phx.YWI", "", false, []string{"Base64url.bearer.phx.YWI"}, nil},
		// Phoenix takes none of two tokens and leaves the header alone.
		{"two tokens", "base64url.bearer.phx.YQ, phoenix, base64url.bearer.phx.Yg", "", false,
			[]string{"base64url.bearer.phx.YQ", "phoenix", "base64url.bearer.phx.Yg"}, nil},
		{"bad base64", "phoenix, base64url.bearer.phx.!!", "", false, []string{"phoenix", "base64url.bearer.phx.!!"}, ErrBadBearerProtocol},
		{"mixed alphabets", "base64url.bearer.phx.+_8", "", false, []string{"base64url.bearer.phx.+_8"}, ErrBadBearerProtocol},
		{"bad padding", "base64url.bearer.phx.YW=I", "", false, []string{"base64url.bearer.phx.YW=I"}, ErrBadBearerProtocol},
		{"one char", "base64url.bearer.phx.Y", "", false, []string{"base64url.bearer.phx.Y"}, ErrBadBearerProtocol},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			token, ok, protocols, err := ExtractAuthToken(tc.header)
			if token != tc.token || ok != tc.ok || !reflect.DeepEqual(protocols, tc.protocols) || !errors.Is(err, tc.err) {
				t.Fatalf("ExtractAuthToken(%q) = %q, %v, %q, %v; want %q, %v, %q, %v",
					tc.header, token, ok, protocols, err, tc.token, tc.ok, tc.protocols, tc.err)
			}
		})
	}
}
