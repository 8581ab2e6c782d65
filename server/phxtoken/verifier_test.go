package phxtoken

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The vectors of docs/protocol.md §9, made by plug_crypto.
var (
	vectorKeyBase  = strings.Repeat("abcdefgh", 8)
	vectorSalt     = "user socket"
	vectorSignedAt = time.Unix(1_700_000_000, 0)
	vectorKeyHex   = "d3f12b5b79f2122342c5c52cb5d451bb588e5c5af0a7c73cf6a90cc45b397d80"
)

var signedVectors = []struct {
	name   string
	data   any
	maxAge time.Duration
	token  string
}{
	{"int 1", int64(1), 0, "SFMyNTY.g2gDYQFuBgAAaOXPiwFiAAFRgA.pVQyJhbbKrMTF7SPAEhhkeN36zPMMdTQxpZfdHyYVQA"},
	{"int 123456", int64(123456), 0, "SFMyNTY.g2gDYgAB4kBuBgAAaOXPiwFiAAFRgA.zZGVe5G6pGFKAkgNeD8dFcwJUZfukfIVBto0lYXqNkk"},
	{"string", "user:42", 0, "SFMyNTY.g2gDbQAAAAd1c2VyOjQybgYAAGjlz4sBYgABUYA.WmSMerRggmj2qSPGLa6lPsfc52fbn49MjIm13KtAchE"},
	{"nil", nil, 0, "SFMyNTY.g2gDZAADbmlsbgYAAGjlz4sBYgABUYA.bPPt0_7q0HS6wIEuj1XdUHiFcy0wixmJdzlJL-fv3jc"},
	{"max_age 1209600", int64(1), 1_209_600 * time.Second, "SFMyNTY.g2gDYQFuBgAAaOXPiwFiABJ1AA.3rBEPz0xc8hU1w-PEv4gfIK4Er4d9A5BO0DZP_h_RCo"},
	{"max_age infinity", int64(1), Infinity, "SFMyNTY.g2gDYQFuBgAAaOXPiwFkAAhpbmZpbml0eQ.sLOpeYIY3rop2Jc_mu3AcGOAjc_bAmVn-hh_km4P9rw"},
}

const encryptedVector = "XCP.KeAYYGC6gQ54jAhe8Ug-1dItaaJjMIDNVQoq8Z2UyXQe7xi-dpk7TPr9tIUlftgDkI9wG4kKdYrqirm551eogtGfzArm"

// fixedClock returns a clock stopped at t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

func newTestVerifier(t testing.TB, cfg Config) *Verifier {
	t.Helper()
	v, err := NewVerifier(vectorKeyBase, vectorSalt, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestDerivedKey(t *testing.T) {
	v := newTestVerifier(t, Config{})
	if got := hex.EncodeToString(v.key); got != vectorKeyHex {
		t.Fatalf("key = %s, want %s", got, vectorKeyHex)
	}
}

func TestVerifyVectors(t *testing.T) {
	v := newTestVerifier(t, Config{})
	for _, tc := range signedVectors {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(tc.token, WithMaxAge(Infinity))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, tc.data) {
				t.Fatalf("data = %#v, want %#v", got, tc.data)
			}
			// Against the real clock every vector has expired, except the
			// one with an embedded :infinity.
			_, err = v.Verify(tc.token)
			if tc.maxAge == Infinity {
				if err != nil {
					t.Fatalf("Verify with embedded :infinity: %v", err)
				}
			} else if !errors.Is(err, ErrExpired) {
				t.Fatalf("Verify with embedded max age: err = %v, want ErrExpired", err)
			}
		})
	}
}

func TestSignVectors(t *testing.T) {
	// The vectors come from OTP 25, which writes atoms as ATOM_EXT.
	v := newTestVerifier(t, Config{AtomEncoding: AtomLatin1})
	for _, tc := range signedVectors {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Sign(tc.data, vectorSignedAt, tc.maxAge)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.token {
				t.Fatalf("Sign = %s\nwant   %s", got, tc.token)
			}
		})
	}
}

func TestSignOTP26Atoms(t *testing.T) {
	v := newTestVerifier(t, Config{})
	tok, err := v.Sign(nil, vectorSignedAt, Infinity)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Split(tok, ".")[1]
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	// {nil, 1700000000000, :infinity} as OTP 26 writes it.
	want := []byte{131, 104, 3, 119, 3, 'n', 'i', 'l', 110, 6, 0, 0, 0x68, 0xe5, 0xcf, 0x8b, 1, 119, 8, 'i', 'n', 'f', 'i', 'n', 'i', 't', 'y'}
	if !bytes.Equal(raw, want) {
		t.Fatalf("payload = % x\nwant      % x", raw, want)
	}
	if got, err := v.Verify(tok); err != nil || got != nil {
		t.Fatalf("Verify = %v, %v; want nil, nil", got, err)
	}
}

func TestDecryptVector(t *testing.T) {
	v := newTestVerifier(t, Config{})
	got, err := v.Decrypt(encryptedVector, WithMaxAge(Infinity))
	if err != nil || got != "user:42" {
		t.Fatalf("Decrypt = %#v, %v; want \"user:42\", nil", got, err)
	}
	if _, err := v.Decrypt(encryptedVector); !errors.Is(err, ErrExpired) {
		t.Fatalf("Decrypt with embedded max age: err = %v, want ErrExpired", err)
	}
	// A signed token is not an encrypted one, and the other way round.
	if _, err := v.Decrypt(signedVectors[0].token, WithMaxAge(Infinity)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Decrypt(signed) err = %v, want ErrInvalid", err)
	}
	if _, err := v.Verify(encryptedVector, WithMaxAge(Infinity)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Verify(encrypted) err = %v, want ErrInvalid", err)
	}
}

func TestEncryptRoundTrip(t *testing.T) {
	now := time.UnixMilli(1_750_000_000_123)
	v := newTestVerifier(t, Config{Now: fixedClock(now)})
	tok, err := v.Encrypt(map[string]any{"user_id": 7}, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.Decrypt(tok)
	want := map[any]any{"user_id": int64(7)}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Decrypt = %#v, %v; want %#v", got, err, want)
	}
	tok2, _ := v.Encrypt(map[string]any{"user_id": 7}, time.Time{}, 0)
	if tok == tok2 {
		t.Fatal("two encryptions gave the same token: nonce not random")
	}
	for _, bad := range []string{
		"XCP.", "XCP.AAAA", "XCP.!!!!", tok[:len(tok)-2], flip(tok, len(tok)-5), flip(tok, 10),
	} {
		if _, err := v.Decrypt(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decrypt(%q) err = %v, want ErrInvalid", bad, err)
		}
	}
	if _, err := v.Decrypt(""); !errors.Is(err, ErrMissing) {
		t.Errorf("Decrypt(\"\") err = %v, want ErrMissing", err)
	}
	other, _ := NewVerifier(vectorKeyBase, "other secret", Config{})
	if _, err := other.Decrypt(tok); !errors.Is(err, ErrInvalid) {
		t.Errorf("Decrypt with the wrong secret: err = %v, want ErrInvalid", err)
	}
}

func TestMaxAgeRules(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	v := newTestVerifier(t, Config{Now: fixedClock(now)})
	sign := func(signedAt time.Time, maxAge time.Duration) string {
		t.Helper()
		tok, err := v.Sign("u", signedAt, maxAge)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	hour := time.Hour
	tests := []struct {
		name    string
		token   string
		opts    []VerifyOption
		wantErr error
	}{
		{"embedded, fresh", sign(now.Add(-hour), 2*hour), nil, nil},
		{"embedded, expired", sign(now.Add(-3*hour), 2*hour), nil, ErrExpired},
		{"embedded, exactly max age old", sign(now.Add(-2*hour), 2*hour), nil, nil},
		{"embedded, 1 ms over", sign(now.Add(-2*hour-time.Millisecond), 2*hour), nil, ErrExpired},
		{"embedded default 86400 s", sign(now.Add(-25*hour), 0), nil, ErrExpired},
		{"embedded negative", sign(now, -time.Second), nil, ErrExpired},
		{"embedded infinity, very old", sign(time.UnixMilli(0), Infinity), nil, nil},
		{"embedded fractional seconds", sign(now.Add(-1499*time.Millisecond), 1500*time.Millisecond), nil, nil},
		{"embedded fractional, expired", sign(now.Add(-1501*time.Millisecond), 1500*time.Millisecond), nil, ErrExpired},
		{"option overrides longer embedded", sign(now.Add(-3*hour), 24*hour), []VerifyOption{WithMaxAge(2 * hour)}, ErrExpired},
		{"option overrides shorter embedded", sign(now.Add(-3*hour), hour), []VerifyOption{WithMaxAge(4 * hour)}, nil},
		{"option infinity", sign(time.UnixMilli(0), hour), []VerifyOption{WithMaxAge(Infinity)}, nil},
		{"option zero", sign(now, hour), []VerifyOption{WithMaxAge(0)}, ErrExpired},
		{"option negative", sign(now, hour), []VerifyOption{WithMaxAge(-time.Second)}, ErrExpired},
		{"last option wins", sign(now.Add(-3*hour), hour), []VerifyOption{WithMaxAge(0), WithMaxAge(4 * hour)}, nil},
		{"signed 1 ms in the future", sign(now.Add(time.Millisecond), hour), nil, ErrInvalid},
		{"future, option", sign(now.Add(time.Hour), hour), []VerifyOption{WithMaxAge(2 * hour)}, ErrInvalid},
		// As in plug_crypto, :infinity skips every time check.
		{"future, infinity", sign(now.Add(time.Hour), Infinity), nil, nil},
		{"future, max age 0", sign(now.Add(time.Hour), -1), nil, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(tc.token, tc.opts...)
			if tc.wantErr == nil {
				if err != nil || got != "u" {
					t.Fatalf("Verify = %#v, %v; want \"u\", nil", got, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) || got != nil {
				t.Fatalf("Verify = %#v, %v; want nil, %v", got, err, tc.wantErr)
			}
		})
	}
}

// signPayload MACs a raw payload with the test key, for shapes Sign does
// not make.
func signPayload(t testing.TB, v *Verifier, header string, payload []byte, h func() hash.Hash) string {
	t.Helper()
	text := header + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(h, v.key)
	m.Write([]byte(text))
	return text + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func mustEncode(t testing.TB, term any) []byte {
	t.Helper()
	b, err := encodeTerm(term, AtomUTF8)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestLegacyPayloads(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	v := newTestVerifier(t, Config{Now: fixedClock(now)})
	fresh := now.Add(-23 * time.Hour).UnixMilli()
	stale := now.Add(-25 * time.Hour).UnixMilli()
	tests := []struct {
		name    string
		term    any
		wantErr error
	}{
		{"tuple of 2, fresh", Tuple{int64(5), fresh}, nil},
		{"tuple of 2, implies 86400 s", Tuple{int64(5), stale}, ErrExpired},
		{"map, fresh", map[any]any{Atom("data"): int64(5), Atom("signed"): fresh}, nil},
		{"map, implies 86400 s", map[any]any{Atom("data"): int64(5), Atom("signed"): stale}, ErrExpired},
		{"map with string keys", map[any]any{"data": int64(5), "signed": fresh}, ErrInvalid},
		{"tuple of 4", Tuple{int64(5), fresh, int64(10), int64(1)}, ErrInvalid},
		{"bare data", int64(5), ErrInvalid},
		{"signed is a string", Tuple{int64(5), "yesterday", int64(10)}, ErrInvalid},
		{"max_age is another atom", Tuple{int64(5), fresh, Atom("forever")}, ErrInvalid},
		{"max_age is a string", Tuple{int64(5), fresh, "10"}, ErrInvalid},
		{"max_age is a float", Tuple{int64(5), now.Add(-1500 * time.Millisecond).UnixMilli(), 1.25}, ErrExpired},
		{"max_age is a huge integer", Tuple{int64(5), fresh, new(big.Int).Lsh(big.NewInt(1), 80)}, nil},
		{"max_age is a huge negative integer", Tuple{int64(5), fresh, new(big.Int).Lsh(big.NewInt(-1), 80)}, ErrExpired},
		{"max_age overflows when in ms", Tuple{int64(5), int64(-1 << 62), int64(1 << 61)}, nil},
		{"signed far in the past", Tuple{int64(5), int64(-1 << 63), int64(100)}, ErrExpired},
		{"signed beyond int64, future", Tuple{int64(5), new(big.Int).Lsh(big.NewInt(1), 70), int64(100)}, ErrInvalid},
		{"signed beyond int64, past", Tuple{int64(5), new(big.Int).Lsh(big.NewInt(-1), 70), int64(100)}, ErrExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := signPayload(t, v, headerHS256, mustEncode(t, tc.term), sha256.New)
			got, err := v.Verify(tok)
			if tc.wantErr == nil {
				if err != nil || got != int64(5) {
					t.Fatalf("Verify = %#v, %v; want 5, nil", got, err)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("Verify err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func TestOtherHMACAlgorithms(t *testing.T) {
	v := newTestVerifier(t, Config{})
	payload := mustEncode(t, Tuple{"x", vectorSignedAt.UnixMilli(), Atom("infinity")})
	for _, tc := range []struct {
		header string
		h      func() hash.Hash
	}{
		{headerHS256, sha256.New}, {headerHS384, sha512.New384}, {headerHS512, sha512.New},
	} {
		tok := signPayload(t, v, tc.header, payload, tc.h)
		if got, err := v.Verify(tok); err != nil || got != "x" {
			t.Errorf("%s: Verify = %#v, %v; want \"x\", nil", tc.header, got, err)
		}
		// The header selects the MAC: a SHA-256 MAC under HS512 fails.
		wrong := signPayload(t, v, tc.header, payload, sha256.New)
		if tc.header != headerHS256 {
			if _, err := v.Verify(wrong); !errors.Is(err, ErrInvalid) {
				t.Errorf("%s with a SHA-256 MAC: err = %v, want ErrInvalid", tc.header, err)
			}
		}
	}
	// "HS1" is not accepted, even with a valid MAC.
	hs1 := base64.RawURLEncoding.EncodeToString([]byte("HS1"))
	if _, err := v.Verify(signPayload(t, v, hs1, payload, sha256.New)); !errors.Is(err, ErrInvalid) {
		t.Errorf("unknown header: err = %v, want ErrInvalid", err)
	}
}

// flip changes the character at i to another base64url character.
func flip(s string, i int) string {
	c := byte('A')
	if s[i] == 'A' {
		c = 'B'
	}
	return s[:i] + string(c) + s[i+1:]
}

func TestTamperedTokens(t *testing.T) {
	v := newTestVerifier(t, Config{})
	tok := signedVectors[2].token // "user:42"
	parts := strings.Split(tok, ".")
	payloadAt := len(parts[0]) + 1
	sigAt := payloadAt + len(parts[1]) + 1
	wrongSalt, _ := NewVerifier(vectorKeyBase, "user socket ", Config{})
	wrongSecret, _ := NewVerifier(strings.Repeat("abcdefgh", 7)+"abcdefgi", vectorSalt, Config{})
	wrongIterations, _ := NewVerifier(vectorKeyBase, vectorSalt, Config{KeyIterations: 999})
	tests := []struct {
		name  string
		v     *Verifier
		token string
	}{
		{"payload first byte", v, flip(tok, payloadAt)},
		{"payload middle byte", v, flip(tok, payloadAt+10)},
		{"payload last byte", v, flip(tok, sigAt-2)},
		{"signature first byte", v, flip(tok, sigAt)},
		{"signature last byte", v, flip(tok, len(tok)-1)},
		{"signature truncated", v, tok[:len(tok)-1]},
		{"signature empty", v, tok[:sigAt]},
		{"signature extended", v, tok + "AAAA"},
		{"payload of another token", v, parts[0] + "." + strings.Split(signedVectors[0].token, ".")[1] + "." + parts[2]},
		{"header changed to HS512", v, headerHS512 + tok[len(headerHS256):]},
		{"wrong salt", wrongSalt, tok},
		{"wrong secret", wrongSecret, tok},
		{"wrong iterations", wrongIterations, tok},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.v.Verify(tc.token, WithMaxAge(Infinity))
			if !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("Verify = %#v, %v; want nil, ErrInvalid", got, err)
			}
		})
	}
}

func TestMalformedTokens(t *testing.T) {
	v := newTestVerifier(t, Config{})
	goodSig := func(payload string) string {
		m := hmac.New(sha256.New, v.key)
		m.Write([]byte(headerHS256 + "." + payload))
		return headerHS256 + "." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	b64 := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	tests := []struct {
		name  string
		token string
	}{
		{"one part", "SFMyNTY"},
		{"two parts", "SFMyNTY.g2gDYQFuBgAAaOXPiwFiAAFRgA"},
		{"four parts", signedVectors[0].token + ".x"},
		{"dots only", ".."},
		{"signature not base64", "SFMyNTY.g2gDYQFuBgAAaOXPiwFiAAFRgA.!!!!"},
		{"signature standard alphabet", strings.NewReplacer("_", "/", "-", "+").Replace(signedVectors[3].token)},
		{"signature too long", "SFMyNTY.g2gD." + strings.Repeat("A", 200)},
		{"payload not base64, signed", goodSig("g2g*YQE")},
		{"payload empty, signed", goodSig("")},
		{"payload not ETF, signed", goodSig(b64([]byte("hello")))},
		{"payload ETF truncated, signed", goodSig(b64([]byte{131, 104, 3, 97, 1, 110, 6, 0}))},
		{"payload ETF trailing byte, signed", goodSig(b64(append(mustEncode(t, Tuple{int64(1), int64(1), Atom("infinity")}), 0)))},
		{"payload ETF a pid, signed", goodSig(b64([]byte{131, 104, 3, 88, 119, 1, 'a', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 97, 1, 119, 8, 'i', 'n', 'f', 'i', 'n', 'i', 't', 'y'}))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(tc.token, WithMaxAge(Infinity))
			if !errors.Is(err, ErrInvalid) || got != nil {
				t.Fatalf("Verify = %#v, %v; want nil, ErrInvalid", got, err)
			}
		})
	}
	if _, err := v.Verify(""); !errors.Is(err, ErrMissing) {
		t.Fatalf("Verify(\"\") err = %v, want ErrMissing", err)
	}
}

// respellings returns the strings that decode to the same bytes as seg, a
// canonical unpadded base64url segment, under a lax decoder: '=' padding
// and the unused low bits of the last character set, which Plug.Crypto's
// Base.url_decode64(…, padding: false) accepts, and line breaks, which Go's
// decoder skips.
func respellings(t *testing.T, seg string) []string {
	t.Helper()
	var out []string
	if n := len(seg) % 4; n != 0 {
		out = append(out, seg+strings.Repeat("=", 4-n))
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
		last := strings.IndexByte(alphabet, seg[len(seg)-1])
		out = append(out, seg[:len(seg)-1]+string(alphabet[last|1]))
	}
	out = append(out, seg[:len(seg)/2]+"\n"+seg[len(seg)/2:], seg+"\r\n")
	want, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatalf("%q is not base64url: %v", seg, err)
	}
	for _, r := range out {
		got, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(r, "="))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("respelling %q of %q decodes to %x, %v", r, seg, got, err)
		}
	}
	return out
}

// TestNonCanonicalSpellingsRefused: a token is accepted in one spelling
// only, the canonical one Phoenix.Token writes. Every other spelling of the
// same bytes is refused, in the signature (the MAC does not cover it), the
// payload and the header (re-signed, so that only the spelling is wrong),
// and the body of an encrypted token.
func TestNonCanonicalSpellingsRefused(t *testing.T) {
	v := newTestVerifier(t, Config{})
	sign := func(header, payload string) string {
		m := hmac.New(sha256.New, v.key)
		m.Write([]byte(header + "." + payload))
		return header + "." + payload + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tok := signedVectors[2].token // "user:42"
	parts := strings.Split(tok, ".")
	if got, err := v.Verify(sign(parts[0], parts[1]), WithMaxAge(Infinity)); err != nil || got != "user:42" {
		t.Fatalf("canonical token: Verify = %#v, %v", got, err)
	}
	var altered []string
	for _, sig := range respellings(t, parts[2]) {
		altered = append(altered, parts[0]+"."+parts[1]+"."+sig)
	}
	for _, payload := range respellings(t, parts[1]) {
		altered = append(altered, sign(parts[0], payload))
	}
	for _, header := range respellings(t, parts[0]) {
		altered = append(altered, sign(header, parts[1]))
	}
	for _, token := range altered {
		if got, err := v.Verify(token, WithMaxAge(Infinity)); !errors.Is(err, ErrInvalid) || got != nil {
			t.Errorf("Verify(%q) = %#v, %v; want nil, ErrInvalid", token, got, err)
		}
	}
	body := strings.TrimPrefix(encryptedVector, encryptedPrefix)
	for _, b := range respellings(t, body) {
		if got, err := v.Decrypt(encryptedPrefix+b, WithMaxAge(Infinity)); !errors.Is(err, ErrInvalid) || got != nil {
			t.Errorf("Decrypt(%q) = %#v, %v; want nil, ErrInvalid", encryptedPrefix+b, got, err)
		}
	}
	if len(altered) < 10 {
		t.Fatalf("only %d altered tokens", len(altered))
	}
}

func TestCompressedPayload(t *testing.T) {
	v := newTestVerifier(t, Config{MaxDecompressedSize: 4096})
	compressed := func(term any, declared int) []byte {
		plain := mustEncode(t, term)[1:]
		var z bytes.Buffer
		zw := zlib.NewWriter(&z)
		zw.Write(plain)
		zw.Close()
		if declared < 0 {
			declared = len(plain)
		}
		out := []byte{131, tagCompressed}
		out = binary.BigEndian.AppendUint32(out, uint32(declared))
		return append(out, z.Bytes()...)
	}
	data := strings.Repeat("compress me ", 100)
	term := Tuple{data, int64(1), Atom("infinity")}
	if got, err := v.Verify(signPayload(t, v, headerHS256, compressed(term, -1), sha256.New)); err != nil || got != data {
		t.Fatalf("Verify(compressed) = %.20q…, %v", got, err)
	}
	for name, payload := range map[string][]byte{
		"size understated": compressed(term, 100),
		"size overstated":  compressed(term, 2000),
		"over the bound":   compressed(Tuple{strings.Repeat("x", 5000), int64(1), Atom("infinity")}, -1),
		"not zlib":         {131, tagCompressed, 0, 0, 0, 4, 1, 2, 3, 4},
		"short header":     {131, tagCompressed, 0, 0},
	} {
		if _, err := v.Verify(signPayload(t, v, headerHS256, payload, sha256.New)); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want ErrInvalid", name, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	now := time.UnixMilli(1_800_000_000_000)
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	for _, enc := range []AtomEncoding{AtomUTF8, AtomLatin1} {
		v := newTestVerifier(t, Config{Now: fixedClock(now), AtomEncoding: enc})
		tests := []struct {
			name string
			in   any
			want any
		}{
			{"int", 42, int64(42)},
			{"negative int", -42, int64(-42)},
			{"int32 bounds", []any{int32(-1 << 31), int32(1<<31 - 1)}, []any{int64(-1 << 31), int64(1<<31 - 1)}},
			{"int64 min", int64(-1 << 63), int64(-1 << 63)},
			{"uint64 max", uint64(1<<64 - 1), new(big.Int).SetUint64(1<<64 - 1)},
			{"big", huge, huge},
			{"float", 2.5, 2.5},
			{"string", "José ✓", "José ✓"},
			{"bytes", []byte{0, 255}, "\x00\xff"},
			{"bools and nil", []any{true, false, nil}, []any{true, false, nil}},
			{"atom", Atom("admin"), Atom("admin")},
			{"non-Latin-1 atom", Atom("ключ"), Atom("ключ")},
			{"Latin-1 atom", Atom("café"), Atom("café")},
			{"tuple", Tuple{Atom("ok"), int64(1)}, Tuple{Atom("ok"), int64(1)}},
			{"empty list", []any{}, []any{}},
			{"byte list", []int{1, 2, 3}, []any{int64(1), int64(2), int64(3)}},
			{"string list", []string{"a", "b"}, []any{"a", "b"}},
			{"nested", map[string]any{"user": map[Atom]any{"id": 7, "rooms": []string{"lobby"}}},
				map[any]any{"user": map[any]any{Atom("id"): int64(7), Atom("rooms"): []any{"lobby"}}}},
			{"mixed keys", map[any]any{1: "a", 2.5: "b", Atom("k"): "c", "k": "d", nil: "e", true: "f"},
				map[any]any{int64(1): "a", 2.5: "b", Atom("k"): "c", "k": "d", nil: "e", true: "f"}},
			{"large tuple", make(Tuple, 300), make(Tuple, 300)},
		}
		for _, tc := range tests {
			tok, err := v.Sign(tc.in, now.Add(-time.Minute), time.Hour)
			if err != nil {
				t.Errorf("%s: Sign: %v", tc.name, err)
				continue
			}
			got, err := v.Verify(tok)
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Errorf("%s (atoms %d): Verify = %#v, %v; want %#v", tc.name, enc, got, err, tc.want)
			}
		}
	}
}

func TestSignRefusesUnencodable(t *testing.T) {
	v := newTestVerifier(t, Config{})
	nested := []any{}
	for range maxDepth + 5 {
		nested = []any{nested}
	}
	for name, data := range map[string]any{
		"struct":        struct{ A int }{1},
		"channel":       make(chan int),
		"NaN":           []any{0.0, func() float64 { z := 0.0; return z / z }()},
		"long atom":     Atom(strings.Repeat("a", 256)),
		"invalid atom":  Atom("\xff"),
		"too deep":      nested,
		"func in a map": map[string]any{"f": func() {}},
	} {
		if _, err := v.Sign(data, vectorSignedAt, 0); err == nil {
			t.Errorf("%s: Sign succeeded", name)
		}
	}
}

func TestNewVerifierConfig(t *testing.T) {
	for name, tc := range map[string]struct {
		keyBase string
		cfg     Config
	}{
		"short key base":   {"0123456789012345678", Config{}},
		"negative iter":    {vectorKeyBase, Config{KeyIterations: -1}},
		"key too long":     {vectorKeyBase, Config{KeyLength: 4096}},
		"unknown digest":   {vectorKeyBase, Config{KeyDigest: 99}},
		"unknown atoms":    {vectorKeyBase, Config{AtomEncoding: 9}},
		"negative inflate": {vectorKeyBase, Config{MaxDecompressedSize: -1}},
	} {
		if _, err := NewVerifier(tc.keyBase, vectorSalt, tc.cfg); err == nil {
			t.Errorf("%s: NewVerifier succeeded", name)
		}
	}
	// Key options change the key; a 64-byte key still signs, but cannot
	// encrypt.
	v := newTestVerifier(t, Config{KeyLength: 64, KeyDigest: KeySHA512, KeyIterations: 10})
	if len(v.key) == 64 && bytes.HasPrefix(v.key, mustHex(t, vectorKeyHex)) {
		t.Fatal("key options ignored")
	}
	tok, err := v.Sign(1, time.Time{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := v.Verify(tok); err != nil || got != int64(1) {
		t.Fatalf("Verify = %v, %v", got, err)
	}
	if _, err := v.Encrypt(1, time.Time{}, 0); err == nil {
		t.Fatal("Encrypt with a 64-byte key succeeded")
	}
	if _, err := v.Decrypt(encryptedVector); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Decrypt with a 64-byte key: err = %v, want ErrInvalid", err)
	}
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVerifyConcurrent(t *testing.T) {
	v := newTestVerifier(t, Config{})
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for j := range 200 {
				tc := signedVectors[(i+j)%len(signedVectors)]
				if _, e := v.Verify(tc.token, WithMaxAge(Infinity)); e != nil && err == nil {
					err = e
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	v := newTestVerifier(b, Config{})
	tok := signedVectors[2].token
	opt := WithMaxAge(Infinity)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewVerifier(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		newTestVerifier(b, Config{})
	}
}
