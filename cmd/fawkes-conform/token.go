package main

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// signToken mints a Phoenix.Token as Phoenix.Token.sign(secret, salt, data)
// does (docs/protocol.md §9): PBKDF2-HMAC-SHA256 (1000 iterations, 32 bytes) derives
// the key; the payload is the Erlang term {data, signed_at_ms, max_age_s}
// with data a binary (an Elixir string); the MAC is HMAC-SHA256 over
// "SFMyNTY." + payload.
func signToken(secret, salt, data string, signedAt time.Time, maxAge int) (string, error) {
	key, err := pbkdf2.Key(sha256.New, secret, []byte(salt), 1000, 32)
	if err != nil {
		return "", err
	}
	term := []byte{131, 104, 3} // version, SMALL_TUPLE of arity 3
	term = append(term, 109)    // BINARY_EXT
	term = binary.BigEndian.AppendUint32(term, uint32(len(data)))
	term = append(term, data...)
	term = appendSmallBig(term, uint64(signedAt.UnixMilli()))
	term = append(term, 98) // INTEGER_EXT
	term = binary.BigEndian.AppendUint32(term, uint32(int32(maxAge)))
	plain := "SFMyNTY." + base64.RawURLEncoding.EncodeToString(term)
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(plain))
	return plain + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)), nil
}

// appendSmallBig appends n as SMALL_BIG_EXT: digit count, sign, then the
// digits least significant first, which is how Erlang encodes a
// millisecond timestamp.
func appendSmallBig(b []byte, n uint64) []byte {
	var digits []byte
	for ; n > 0; n >>= 8 {
		digits = append(digits, byte(n))
	}
	b = append(b, 110, byte(len(digits)), 0)
	return append(b, digits...)
}
