package phxtoken

import (
	"encoding/base64"
	"errors"
	"reflect"
	"testing"
	"time"
)

// FuzzDecodeETF checks that the term decoder never panics on hostile
// bytes, and that whatever it accepts survives encode→decode unchanged.
func FuzzDecodeETF(f *testing.F) {
	for _, tc := range signedVectors {
		raw, _ := base64.RawURLEncoding.DecodeString(tc.token[len(headerHS256)+1 : len(tc.token)-44])
		f.Add(raw)
	}
	for _, seed := range [][]byte{
		{131, 116, 0, 0, 0, 2, 119, 4, 'd', 'a', 't', 'a', 97, 1, 119, 6, 's', 'i', 'g', 'n', 'e', 'd', 97, 1},
		{131, 108, 0, 0, 0, 2, 107, 0, 2, 1, 2, 70, 0x40, 0x04, 0, 0, 0, 0, 0, 0, 106},
		{131, 105, 0, 0, 0, 1, 111, 0, 0, 0, 9, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1},
		{131, 100, 0, 4, 'c', 'a', 'f', 0xe9},
		{131, 80, 0, 0, 0, 3, 0x78, 0x9c, 0x4b, 0x64, 0x04, 0x00, 0x00, 0xdf, 0x00, 0x63},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := decodeTerm(in, 4096)
		if err != nil {
			var te *termError
			if !errors.As(err, &te) {
				t.Fatalf("error is not a termError: %v", err)
			}
			return
		}
		for _, atoms := range []AtomEncoding{AtomUTF8, AtomLatin1} {
			enc, err := encodeTerm(v, atoms)
			if err != nil {
				t.Fatalf("decoded %#v but cannot encode it: %v", v, err)
			}
			again, err := decodeTerm(enc, 4096)
			if err != nil {
				t.Fatalf("re-decoding % x: %v", enc, err)
			}
			if !reflect.DeepEqual(again, v) {
				t.Fatalf("round trip changed %#v into %#v", v, again)
			}
		}
	})
}

// FuzzVerify checks that no token string makes Verify or Decrypt panic or
// return anything but the package's errors.
func FuzzVerify(f *testing.F) {
	for _, tc := range signedVectors {
		f.Add(tc.token)
	}
	f.Add(encryptedVector)
	f.Add("SFMzODQ..")
	v := newTestVerifier(f, Config{Now: fixedClock(time.UnixMilli(1_700_000_000_000))})
	f.Fuzz(func(t *testing.T, token string) {
		for _, fn := range []func(string, ...VerifyOption) (any, error){v.Verify, v.Decrypt} {
			_, err := fn(token)
			if err != nil && !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrExpired) && !errors.Is(err, ErrMissing) {
				t.Fatalf("unexpected error %v", err)
			}
		}
	})
}
