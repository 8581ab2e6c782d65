package phxtoken

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"hash"
	"math"
	"math/big"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// DefaultMaxAge is the max age Phoenix.Token embeds when the caller of sign
// gives none, and the one that legacy payloads without a max age imply.
const DefaultMaxAge = 86400 * time.Second

// Infinity as a max age means the token never expires, like Elixir's
// max_age: :infinity.
const Infinity time.Duration = math.MaxInt64

// The protected headers of signed tokens: base64url("HS256") and so on.
const (
	headerHS256 = "SFMyNTY"
	headerHS384 = "SFMzODQ"
	headerHS512 = "SFM1MTI"
)

// Verifier verifies, and for tests and tools signs, the tokens of one
// (secret_key_base, salt) pair. It holds the derived key, so create one per
// pair and keep it: deriving takes about a millisecond, deliberately.
//
// A Verifier is safe for concurrent use.
type Verifier struct {
	key         []byte
	aead        cipher.AEAD // nil unless the key is 32 bytes
	now         func() time.Time
	maxInflated int
	atoms       AtomEncoding
	// macs pools keyed HMAC states by algorithm (HS256, HS384, HS512):
	// hmac.New costs more than the MAC of a typical token.
	macs [3]sync.Pool
}

// NewVerifier derives the key for secretKeyBase and salt, as
// Plug.Crypto.KeyGenerator does, and returns a Verifier that uses it.
// secretKeyBase is the endpoint's secret_key_base; Phoenix.Token refuses
// key bases shorter than 20 bytes and so does NewVerifier. salt is the
// namespace given to Phoenix.Token.sign, "user socket" in the Phoenix guides.
func NewVerifier(secretKeyBase, salt string, cfg Config) (*Verifier, error) {
	if len(secretKeyBase) < minSecretKeyBase {
		return nil, fmt.Errorf("phxtoken: secret_key_base must be at least %d bytes", minSecretKeyBase)
	}
	iter, length, maxInflated := cfg.KeyIterations, cfg.KeyLength, cfg.MaxDecompressedSize
	if iter == 0 {
		iter = defaultKeyIterations
	}
	if length == 0 {
		length = defaultKeyLength
	}
	if maxInflated == 0 {
		maxInflated = defaultMaxDecompressed
	}
	switch {
	case iter < 0:
		return nil, fmt.Errorf("phxtoken: KeyIterations %d is negative", iter)
	case length < 0 || length > maxKeyLength:
		return nil, fmt.Errorf("phxtoken: KeyLength %d is outside 1..%d", length, maxKeyLength)
	case maxInflated < 0:
		return nil, fmt.Errorf("phxtoken: MaxDecompressedSize %d is negative", maxInflated)
	case cfg.AtomEncoding > AtomLatin1:
		return nil, fmt.Errorf("phxtoken: unknown atom encoding %d", cfg.AtomEncoding)
	}
	h, err := cfg.KeyDigest.hash()
	if err != nil {
		return nil, err
	}
	key, err := pbkdf2.Key(h, secretKeyBase, []byte(salt), iter, length)
	if err != nil {
		return nil, fmt.Errorf("phxtoken: deriving key: %w", err)
	}
	v := &Verifier{key: key, now: cfg.Now, maxInflated: maxInflated, atoms: cfg.AtomEncoding}
	if v.now == nil {
		v.now = time.Now
	}
	if len(key) == chacha20poly1305.KeySize {
		if v.aead, err = chacha20poly1305.NewX(key); err != nil {
			return nil, fmt.Errorf("phxtoken: %w", err)
		}
	}
	for i, newHash := range [...]func() hash.Hash{sha256.New, sha512.New384, sha512.New} {
		v.macs[i].New = func() any { return hmac.New(newHash, key) }
	}
	return v, nil
}

// VerifyOption is a per-call setting of Verify and Decrypt.
type VerifyOption func(*verifyOptions)

type verifyOptions struct {
	maxAge    time.Duration
	hasMaxAge bool
}

// WithMaxAge overrides the max age embedded in the token, like the max_age
// option of Phoenix.Token.verify. Infinity never expires; zero or less is
// always expired. It is truncated to milliseconds.
func WithMaxAge(d time.Duration) VerifyOption {
	return func(o *verifyOptions) { o.maxAge, o.hasMaxAge = d, true }
}

// Verify checks a signed token ("SFMyNTY.…", or the HS384 and HS512
// variants) and returns its data. The errors are ErrMissing for an empty
// token, ErrExpired, and ErrInvalid for everything else.
//
// The max age is the one given with WithMaxAge, else the one embedded at
// signing time (86400 s for legacy payloads). A token signed after the
// Verifier's clock is invalid, as in plug_crypto 2.2 and later.
func (v *Verifier) Verify(token string, opts ...VerifyOption) (any, error) {
	if token == "" {
		return nil, ErrMissing
	}
	header, rest, ok1 := strings.Cut(token, ".")
	payload, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 {
		return nil, errMalformed
	}
	var alg int
	switch header {
	case headerHS256:
		alg = 0
	case headerHS384:
		alg = 1
	case headerHS512:
		alg = 2
	default:
		return nil, errAlgorithm
	}
	var sigBuf, macBuf [sha512.Size]byte
	if base64.RawURLEncoding.DecodedLen(len(sig)) > len(sigBuf) {
		return nil, errSignature
	}
	n, err := decodeBase64URL(sigBuf[:], sig)
	if err != nil {
		return nil, errMalformed
	}
	// The MAC covers the text "header.payload", not the decoded bytes.
	m := v.macs[alg].Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(token[:len(header)+1+len(payload)]))
	mac := m.Sum(macBuf[:0])
	v.macs[alg].Put(m)
	if !hmac.Equal(mac, sigBuf[:n]) {
		return nil, errSignature
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(payload)))
	n, err = decodeBase64URL(raw, payload)
	if err != nil {
		return nil, errMalformed
	}
	return v.open(raw[:n], opts)
}

// Sign returns a token that Phoenix.Token.verify accepts, as
// Phoenix.Token.sign(endpoint, salt, data, signed_at: …, max_age: …) makes
// it. A zero signedAt means now; a zero maxAge means DefaultMaxAge; Infinity
// embeds :infinity. Tokens are byte-identical to Elixir's for the same term
// encoding (see Config.AtomEncoding); map entries are written in key order.
//
// data may hold the types Verify returns, plus int, uint and the other
// sized integers, float32, []byte, []T and map[K]V for supported T, K and V.
func (v *Verifier) Sign(data any, signedAt time.Time, maxAge time.Duration) (string, error) {
	term, err := v.envelope(data, signedAt, maxAge)
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding
	out := make([]byte, 0, len(headerHS256)+2+enc.EncodedLen(len(term))+enc.EncodedLen(sha256.Size))
	out = append(out, headerHS256...)
	out = append(out, '.')
	out = enc.AppendEncode(out, term)
	m := v.macs[0].Get().(hash.Hash)
	m.Reset()
	m.Write(out)
	var macBuf [sha256.Size]byte
	mac := m.Sum(macBuf[:0])
	v.macs[0].Put(m)
	out = append(out, '.')
	out = enc.AppendEncode(out, mac)
	return string(out), nil
}

// envelope encodes {data, signed_at_ms, max_age_s} as Plug.Crypto does.
func (v *Verifier) envelope(data any, signedAt time.Time, maxAge time.Duration) ([]byte, error) {
	if signedAt.IsZero() {
		signedAt = v.now()
	}
	var age any
	switch {
	case maxAge == 0:
		age = int64(DefaultMaxAge / time.Second)
	case maxAge == Infinity:
		age = Atom("infinity")
	case maxAge%time.Second == 0:
		age = int64(maxAge / time.Second)
	default:
		age = maxAge.Seconds()
	}
	return encodeTerm(Tuple{data, signedAt.UnixMilli(), age}, v.atoms)
}

// open decodes a verified payload and applies the max age rules.
func (v *Verifier) open(payload []byte, opts []VerifyOption) (any, error) {
	term, err := decodeTerm(payload, v.maxInflated)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	var data, signed, maxAge any
	switch t := term.(type) {
	case Tuple:
		switch len(t) {
		case 3:
			data, signed, maxAge = t[0], t[1], t[2]
		case 2: // plug_crypto 1.1
			data, signed, maxAge = t[0], t[1], int64(DefaultMaxAge/time.Second)
		default:
			return nil, errShape
		}
	case map[any]any: // Phoenix before plug_crypto took over
		var ok1, ok2 bool
		data, ok1 = t[Atom("data")]
		signed, ok2 = t[Atom("signed")]
		if !ok1 || !ok2 {
			return nil, errShape
		}
		maxAge = int64(DefaultMaxAge / time.Second)
	default:
		return nil, errShape
	}
	var o verifyOptions
	for _, opt := range opts {
		opt(&o)
	}
	now := v.now().UnixMilli()
	switch {
	case !o.hasMaxAge:
		err = checkAge(signed, maxAge, now)
	case o.maxAge == Infinity:
		err = nil
	case o.maxAge <= 0:
		err = ErrExpired
	default:
		err = checkAgeMillis(signed, o.maxAge.Milliseconds(), now)
	}
	if err != nil {
		return nil, err
	}
	return data, nil
}

// checkAge applies plug_crypto's validate_age/2 to an embedded max age in
// seconds: :infinity never expires, ≤ 0 always has, a signing time after now
// is invalid, and signed + trunc(max_age*1000) < now has expired.
func checkAge(signed, maxAge any, now int64) error {
	switch a := maxAge.(type) {
	case Atom:
		if a == "infinity" {
			return nil
		}
		return errShape // Elixir raises on arithmetic with an atom
	case int64:
		if a <= 0 {
			return ErrExpired
		}
		if a > math.MaxInt64/1000 {
			return checkAgeMillis(signed, math.MaxInt64, now)
		}
		return checkAgeMillis(signed, a*1000, now)
	case float64:
		if a <= 0 {
			return ErrExpired
		}
		ms := math.Trunc(a * 1000)
		if ms >= math.MaxInt64 {
			return checkAgeMillis(signed, math.MaxInt64, now)
		}
		return checkAgeMillis(signed, int64(ms), now)
	case *big.Int:
		if a.Sign() <= 0 {
			return ErrExpired
		}
		return checkAgeMillis(signed, math.MaxInt64, now) // beyond any clock
	}
	return errShape
}

// checkAgeMillis is validate_age/2 once the max age, known to be positive,
// is in milliseconds.
func checkAgeMillis(signed any, maxAgeMs, now int64) error {
	switch s := signed.(type) {
	case int64:
		if s > now {
			return errFutureSigned
		}
		// signed + max_age < now, written so that it cannot overflow: age
		// is only negative when now-s wrapped around.
		if age := now - s; age < 0 || age > maxAgeMs {
			return ErrExpired
		}
		return nil
	case *big.Int: // outside int64: far in the future or the past
		if s.Sign() > 0 {
			return errFutureSigned
		}
		return ErrExpired
	}
	return errShape
}

// base64URL decodes unpadded base64url and refuses a last character whose
// unused low bits are not zero.
var base64URL = base64.RawURLEncoding.Strict()

// decodeBase64URL decodes s into dst when s is the canonical base64url
// encoding of its bytes: unpadded, with the unused bits of its last
// character zero, nothing but the 64 letters of the alphabet. That is what
// Phoenix.Token writes (Base.url_encode64(…, padding: false)), so every
// token Phoenix makes passes. Plug.Crypto reads with
// Base.url_decode64(…, padding: false), which also takes a correctly
// padded segment and ignores the unused bits, and Go's decoder skips \r
// and \n: several strings would then verify as one token. Refusing them
// gives a token one spelling, for the apps that use it as a key.
func decodeBase64URL(dst []byte, s string) (int, error) {
	for i := 0; i < len(s); i++ {
		if !isBase64URL(s[i]) {
			return 0, base64.CorruptInputError(i)
		}
	}
	return base64URL.Decode(dst, []byte(s))
}

func isBase64URL(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}
