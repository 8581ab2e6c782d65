package server

import "testing"

// A client's close code is echoed only when it may be sent; a reserved or
// undefined one is answered as a protocol error (1002), an empty close
// with an empty close.
func TestEchoCloseCode(t *testing.T) {
	for _, tt := range []struct {
		payload []byte
		want    uint16
	}{
		{nil, 0},
		{[]byte{0x03}, 0},
		{[]byte{0x03, 0xe8}, 1000},
		{[]byte{0x03, 0xe9, 'b', 'y', 'e'}, 1001},
		{[]byte{0x03, 0xf3}, 1011},
		{[]byte{0x0f, 0xa0}, 4000},
		{[]byte{0x03, 0xed}, 1002}, // 1005: reserved
		{[]byte{0x03, 0xee}, 1002}, // 1006: reserved
		{[]byte{0x03, 0xf7}, 1002}, // 1015: reserved
		{[]byte{0x03, 0xec}, 1002}, // 1004: reserved
		{[]byte{0x00, 0x01}, 1002}, // below 1000
		{[]byte{0x07, 0xd0}, 1002}, // 2000: undefined
		{[]byte{0x13, 0x88}, 1002}, // 5000: out of range
	} {
		if got := echoCloseCode(tt.payload); got != tt.want {
			t.Errorf("echoCloseCode(%x) = %d, want %d", tt.payload, got, tt.want)
		}
	}
}
