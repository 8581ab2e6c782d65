package server

import (
	"bufio"
	"bytes"
	"net/http"
	"strings"
	"testing"
)

const testUpgradePath = "/socket/websocket"

var goodHead = "GET /socket/websocket?vsn=2.0.0 HTTP/1.1\r\nHost: 127.0.0.1:4000\r\nConnection: Upgrade\r\n" +
	"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
	"Origin: https://app.example\r\nSec-WebSocket-Protocol: phoenix\r\nUser-Agent: test"

func TestUpgradeHeadParse(t *testing.T) {
	var h upgradeHead
	if !h.parse([]byte(goodHead), testUpgradePath) {
		t.Fatal("a phoenix.js upgrade was refused")
	}
	if string(h.rawQuery) != "vsn=2.0.0" || string(h.origin) != "https://app.example" || string(h.key) != "dGhlIHNhbXBsZSBub25jZQ==" ||
		len(h.protocols) != 1 || string(h.protocols[0]) != "phoenix" || string(h.host) != "127.0.0.1:4000" {
		t.Errorf("parsed %+v", h)
	}
	hdr := h.header()
	if hdr.Get("Sec-Websocket-Key") != "dGhlIHNhbXBsZSBub25jZQ==" || hdr.Get("User-Agent") != "test" {
		t.Errorf("header() = %v", hdr)
	}
	if u := h.uri(); u.Path != testUpgradePath || u.RawQuery != "vsn=2.0.0" {
		t.Errorf("uri() = %v", u)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"POST", "GET /", "POST /"},
		{"other path", "/socket/websocket?", "/socket/websockets?"},
		{"escaped path", "/socket/websocket?", "/socket/web%73ocket?"},
		{"HTTP/1.0", "HTTP/1.1\r\n", "HTTP/1.0\r\n"},
		{"no host", "Host: 127.0.0.1:4000\r\n", ""},
		{"empty host", "Host: 127.0.0.1:4000", "Host: "},
		{"two hosts", "Host: 127.0.0.1:4000\r\n", "Host: a\r\nHost: b\r\n"},
		{"bad host", "Host: 127.0.0.1:4000", "Host: a b"},
		{"no upgrade token", "Connection: Upgrade", "Connection: keep-alive"},
		{"upgrade h2c", "Upgrade: websocket", "Upgrade: h2c"},
		{"version 8", "Version: 13", "Version: 8"},
		{"short key", "b25jZQ==", "b25jZQ"},
		{"folded line", "\r\nUser-Agent: test", "\r\n test"},
		{"space before colon", "User-Agent: test", "User-Agent : test"},
		{"control byte", "User-Agent: test", "User-Agent: te\x01st"},
		{"body", "User-Agent: test", "Content-Length: 0"},
		{"protocol not a token", "Protocol: phoenix", "Protocol: pho/enix"},
		{"empty protocol", "Protocol: phoenix", "Protocol: phoenix,,x"},
	} {
		head := strings.Replace(goodHead, tc.from, tc.to, 1)
		if head == goodHead {
			t.Fatalf("%s: %q not in the head", tc.name, tc.from)
		}
		if h.parse([]byte(head), testUpgradePath) {
			t.Errorf("%s: the fast path took %q", tc.name, head)
		}
	}
	for _, tc := range []struct{ name, from, to string }{
		{"no query", "?vsn=2.0.0", ""},
		{"token list", "Connection: Upgrade", "Connection: keep-alive, Upgrade"},
		{"case", "Upgrade: websocket", "UPGRADE: WebSocket"},
		{"two protocol fields", "User-Agent: test", "Sec-WebSocket-Protocol: x"},
		{"no origin", "Origin: https://app.example\r\n", ""},
	} {
		if !h.parse([]byte(strings.Replace(goodHead, tc.from, tc.to, 1)), testUpgradePath) {
			t.Errorf("%s: refused", tc.name)
		}
	}
}

// FuzzUpgradeHead: whatever head the fast path takes, net/http reads as
// the same valid upgrade, so the fast path never answers a request net/http
// would refuse or read otherwise.
func FuzzUpgradeHead(f *testing.F) {
	f.Add([]byte(goodHead))
	f.Add([]byte(strings.ReplaceAll(goodHead, "\r\nOrigin: https://app.example", "")))
	f.Add([]byte("GET /socket/websocket HTTP/1.1\r\nhost: x\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ=="))
	f.Fuzz(func(t *testing.T, head []byte) {
		var h upgradeHead
		if bytes.Contains(head, []byte("\r\n\r\n")) || !h.parse(head, testUpgradePath) {
			return
		}
		r, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(append(bytes.Clone(head), "\r\n\r\n"...))))
		if err != nil {
			t.Fatalf("the fast path took a head net/http refuses (%v):\n%q", err, head)
		}
		switch {
		case r.Method != http.MethodGet || r.URL.Path != testUpgradePath || r.URL.RawQuery != string(h.rawQuery):
			t.Fatalf("net/http reads %s %s ?%s", r.Method, r.URL.Path, r.URL.RawQuery)
		case r.Host != string(h.host):
			t.Fatalf("Host: net/http %q, fast path %q", r.Host, h.host)
		case r.Header.Get("Origin") != string(h.origin):
			t.Fatalf("Origin: net/http %q, fast path %q", r.Header.Get("Origin"), h.origin)
		case r.Header.Get("Sec-Websocket-Key") != string(h.key):
			t.Fatalf("key: net/http %q, fast path %q", r.Header.Get("Sec-Websocket-Key"), h.key)
		case checkUpgradeRequest(r) != "":
			t.Fatalf("net/http's path refuses it: %s", checkUpgradeRequest(r))
		case strings.Join(r.Header.Values("Sec-Websocket-Protocol"), ",") != string(bytes.Join(h.protocols, []byte(","))):
			t.Fatalf("protocols: net/http %q, fast path %q", r.Header.Values("Sec-Websocket-Protocol"), h.protocols)
		}
	})
}
