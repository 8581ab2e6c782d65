package phxtoken_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/fawkes-rt/fawkes/server/phxtoken"
)

// Verifying a token that an Elixir app minted with
//
//	Phoenix.Token.sign(MyAppWeb.Endpoint, "user socket", "user:42", signed_at: 1_700_000_000)
//
// given the endpoint's secret_key_base. The token is long expired, so this
// example lifts the max age; a server would use the app's own, for example
// phxtoken.WithMaxAge(24 * time.Hour).
func ExampleVerifier_Verify() {
	secretKeyBase := strings.Repeat("abcdefgh", 8) // from FAWKES_SECRET_KEY_BASE in a server
	v, err := phxtoken.NewVerifier(secretKeyBase, "user socket", phxtoken.Config{})
	if err != nil {
		panic(err)
	}
	token := "SFMyNTY.g2gDbQAAAAd1c2VyOjQybgYAAGjlz4sBYgABUYA.WmSMerRggmj2qSPGLa6lPsfc52fbn49MjIm13KtAchE"

	data, err := v.Verify(token, phxtoken.WithMaxAge(phxtoken.Infinity))
	fmt.Printf("%q %v\n", data, err)

	_, err = v.Verify(token) // the embedded max age: 86400 s
	fmt.Println(errors.Is(err, phxtoken.ErrExpired))

	tampered := strings.Replace(token, "WmSM", "WmSN", 1) // one bit of the MAC
	_, err = v.Verify(tampered, phxtoken.WithMaxAge(phxtoken.Infinity))
	fmt.Println(errors.Is(err, phxtoken.ErrInvalid))
	// Output:
	// "user:42" <nil>
	// true
	// true
}

// Reading the token phoenix.js sends with new Socket("/socket", {authToken}).
func ExampleExtractAuthToken() {
	token, ok, protocols, err := phxtoken.ExtractAuthToken("phoenix, base64url.bearer.phx.bXktc2VjcmV0LXRva2Vu")
	fmt.Println(token, ok, protocols, err)
	// Output: my-secret-token true [phoenix] <nil>
}
