package phxtoken

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"fmt"
	"hash"
	"time"
)

// Config holds the settings of a [Verifier]. The zero value matches
// Phoenix.Token's defaults.
type Config struct {
	// KeyIterations is the PBKDF2 iteration count (plug_crypto's
	// :key_iterations). Zero means 1000.
	KeyIterations int
	// KeyLength is the derived key length in bytes (:key_length). Zero means
	// 32. Encrypted tokens need 32; at most 1024 is accepted.
	KeyLength int
	// KeyDigest is the PBKDF2 hash (:key_digest). Zero means SHA-256. It
	// does not change the MAC, which the token's header selects.
	KeyDigest KeyDigest
	// MaxDecompressedSize bounds a compressed payload (term_to_binary's
	// :compressed option) once inflated, in bytes. Zero means 1 MiB.
	MaxDecompressedSize int
	// AtomEncoding is how Sign and Encrypt write atoms. Zero means
	// AtomUTF8, what OTP 26 and later write.
	AtomEncoding AtomEncoding
	// Now is the clock that expiry is checked against and that Sign uses
	// when no signing time is given. Zero means time.Now.
	Now func() time.Time
}

// KeyDigest is the hash PBKDF2 uses to derive the key.
type KeyDigest uint8

// The key digests plug_crypto accepts (:sha, :sha224, :sha256, :sha384,
// :sha512).
const (
	KeySHA256 KeyDigest = iota // the default
	KeySHA1
	KeySHA224
	KeySHA384
	KeySHA512
)

func (d KeyDigest) hash() (func() hash.Hash, error) {
	switch d {
	case KeySHA256:
		return sha256.New, nil
	case KeySHA1:
		return sha1.New, nil
	case KeySHA224:
		return sha256.New224, nil
	case KeySHA384:
		return sha512.New384, nil
	case KeySHA512:
		return sha512.New, nil
	}
	return nil, fmt.Errorf("phxtoken: unknown key digest %d", d)
}

// AtomEncoding selects how atoms are written into a term. Reading accepts
// every atom encoding.
type AtomEncoding uint8

const (
	// AtomUTF8 writes SMALL_ATOM_UTF8_EXT (119), or ATOM_UTF8_EXT (118) for
	// atoms longer than 255 bytes: what OTP 26 and later write by default.
	AtomUTF8 AtomEncoding = iota
	// AtomLatin1 writes ATOM_EXT (100) for atoms that fit Latin-1 and UTF-8
	// atoms otherwise: what OTP 20 to 25 write by default.
	AtomLatin1
)

const (
	defaultKeyIterations   = 1000
	defaultKeyLength       = 32
	maxKeyLength           = 1024
	defaultMaxDecompressed = 1 << 20
	// minSecretKeyBase is Phoenix.Token's minimum for a raw key base.
	minSecretKeyBase = 20
)
