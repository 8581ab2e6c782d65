package phxtoken

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
)

// encryptedPrefix starts the tokens of Phoenix.Token.encrypt (plug_crypto
// 2.x). The AES-GCM "QTEyOEdDTQ." tokens of plug_crypto 1.x are not read.
const encryptedPrefix = "XCP."

// aad is the additional data plug_crypto authenticates, kept from the days
// of AES-GCM.
var aad = []byte("A128GCM")

const tagSize = chacha20poly1305.Overhead

// Decrypt checks an encrypted token ("XCP.…", from Phoenix.Token.encrypt)
// and returns its data, with the same options, max age rules and errors as
// Verify. For Phoenix.Token.encrypt, the salt of NewVerifier is the secret
// argument. It needs the default 32-byte key.
func (v *Verifier) Decrypt(token string, opts ...VerifyOption) (any, error) {
	if token == "" {
		return nil, ErrMissing
	}
	if v.aead == nil {
		return nil, errKeyLength
	}
	text, ok := strings.CutPrefix(token, encryptedPrefix)
	if !ok {
		return nil, errAlgorithm
	}
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(text)))
	n, err := decodeBase64URL(raw, text)
	if err != nil {
		return nil, errMalformed
	}
	raw = raw[:n]
	if len(raw) < chacha20poly1305.NonceSizeX+tagSize {
		return nil, errMalformed
	}
	// plug_crypto writes iv ‖ tag ‖ ciphertext; Go's AEAD wants the tag
	// after the ciphertext.
	iv := raw[:chacha20poly1305.NonceSizeX]
	tag := raw[chacha20poly1305.NonceSizeX : chacha20poly1305.NonceSizeX+tagSize]
	sealed := make([]byte, 0, len(raw)-chacha20poly1305.NonceSizeX)
	sealed = append(sealed, raw[chacha20poly1305.NonceSizeX+tagSize:]...)
	sealed = append(sealed, tag...)
	plain, err := v.aead.Open(sealed[:0], iv, sealed, aad)
	if err != nil {
		return nil, errDecryption
	}
	return v.open(plain, opts)
}

// Encrypt returns a token that Phoenix.Token.decrypt accepts, with the
// signedAt and maxAge rules of Sign and a random nonce.
func (v *Verifier) Encrypt(data any, signedAt time.Time, maxAge time.Duration) (string, error) {
	if v.aead == nil {
		return "", errors.New("phxtoken: encrypted tokens need a 32-byte key")
	}
	plain, err := v.envelope(data, signedAt, maxAge)
	if err != nil {
		return "", err
	}
	iv := make([]byte, chacha20poly1305.NonceSizeX, chacha20poly1305.NonceSizeX+tagSize+len(plain))
	if _, err := rand.Read(iv); err != nil {
		return "", fmt.Errorf("phxtoken: %w", err)
	}
	sealed := v.aead.Seal(nil, iv, plain, aad)
	ct, tag := sealed[:len(plain)], sealed[len(plain):]
	raw := append(append(iv, tag...), ct...)
	return encryptedPrefix + base64.RawURLEncoding.EncodeToString(raw), nil
}
