//go:build linux || darwin || freebsd

package server

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/gobwas/ws"
)

// TestWriteNowOverIOVMax writes a batch of more frames than one writev can
// take (IOV_MAX iovecs) and checks every byte arrives in order.
func TestWriteNowOverIOVMax(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	raw, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}

	var batch []outFrame
	var want []byte
	for i := range 1500 { // 3,000 iovecs: three writev calls
		data := []byte{byte(i), byte(i >> 8), 'x'}
		batch = append(batch, outFrame{ws.OpText, data})
		want = appendFrameHeader(want, ws.OpText, len(data))
		want = append(want, data...)
	}
	var w writerScratch
	w.build(batch)
	if len(w.iovs) <= maxIovecs {
		t.Fatalf("only %d iovecs: the test must exceed IOV_MAX", len(w.iovs))
	}
	got := make([]byte, len(want))
	done := make(chan error, 1)
	go func() {
		_, err := io.ReadFull(client, got)
		done <- err
	}()
	n, err := w.writeNow(raw)
	if err != nil || n != w.total || n != len(want) {
		t.Fatalf("writeNow = %d, %v; want %d bytes", n, err, len(want))
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the bytes read differ from the frames written")
	}
}
