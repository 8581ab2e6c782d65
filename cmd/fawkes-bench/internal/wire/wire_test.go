package wire

import (
	"bytes"
	"strings"
	"testing"
)

func TestScan(t *testing.T) {
	m, err := Scan([]byte(` ["3", "7","events:bench" , "phx_reply",{"status":"ok","response":{"id":"a]"}}] `))
	if err != nil {
		t.Fatal(err)
	}
	if string(m.JoinRef) != "3" || string(m.Ref) != "7" || string(m.Topic) != "events:bench" || string(m.Event) != "phx_reply" {
		t.Errorf("fields = %q %q %q %q", m.JoinRef, m.Ref, m.Topic, m.Event)
	}
	if string(m.Payload) != `{"status":"ok","response":{"id":"a]"}}` {
		t.Errorf("payload = %s", m.Payload)
	}
	m, err = Scan([]byte(`[null,null,"t","e\"v",{}]`))
	if err != nil || m.JoinRef != nil || m.Ref != nil || string(m.Event) != `e\"v` {
		t.Errorf("nulls and escapes: %+v, %v", m, err)
	}
	for _, bad := range []string{``, `{}`, `[null,null,"t","e"]`, `[null,null,"t",{},{}]`, `[1,null,"t","e",{}]`, `[null,null,"t","e",{}`, `[null,null,"t","e", ]`} {
		if _, err := Scan([]byte(bad)); err == nil {
			t.Errorf("Scan(%q) accepted a malformed message", bad)
		}
	}
}

func TestFindIntHint(t *testing.T) {
	hint := 0
	ev := []byte(`{"id":"1","data":"\"sentat\":5","sentat" : "1732567927721038123"}`)
	for i := range 3 { // first a search, then from the hint
		if v, ok := FindIntHint(ev, `"sentat"`, &hint); !ok || v != 1732567927721038123 {
			t.Fatalf("pass %d: sentat = %d, %v", i, v, ok)
		}
		if hint != bytes.LastIndex(ev, []byte(`"sentat"`)) {
			t.Fatalf("pass %d: hint = %d, want the key's offset", i, hint)
		}
	}
	// A message of another layout: the stale hint falls back to a search.
	other := []byte(`{"sentat":7,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`)
	if v, ok := FindIntHint(other, `"sentat"`, &hint); !ok || v != 7 || hint != 1 {
		t.Errorf("other layout: %d, %v, hint %d", v, ok, hint)
	}
	// A hint past the end, or pointing at the key's text inside a value.
	hint = 1000
	if v, ok := FindIntHint([]byte(`{"a":"\"sentat\"","sentat":3}`), `"sentat"`, &hint); !ok || v != 3 {
		t.Errorf("hint past the end: %d, %v", v, ok)
	}
	if _, ok := FindIntHint([]byte(`{"a":"sentat"}`), `"sentat"`, &hint); ok {
		t.Error("found a key that is only a value")
	}
	if n := testing.AllocsPerRun(100, func() { FindIntHint(ev, `"sentat"`, &hint) }); n != 0 {
		t.Errorf("FindIntHint allocates %v times", n)
	}
}

func TestFindIntAndReplyStatus(t *testing.T) {
	ev := []byte(`{"id":"1","sentat" : "1732567927721038123","data":"\"sentat\":5","benchstep":42}`)
	if v, ok := FindInt(ev, `"sentat"`); !ok || v != 1732567927721038123 {
		t.Errorf("sentat = %d, %v", v, ok)
	}
	if v, ok := FindInt(ev, `"benchstep"`); !ok || v != 42 {
		t.Errorf("benchstep = %d, %v", v, ok)
	}
	if _, ok := FindInt([]byte(`{"a":"sentat"}`), `"sentat"`); ok {
		t.Error("found a key that is only a value")
	}
	for _, bad := range []string{`{"sentat":"9223372036854775808"}`, `{"sentat":"12x"}`, `{"sentat":""}`, `{"sentat":"12345678901234567890"}`} {
		if v, ok := FindInt([]byte(bad), `"sentat"`); ok {
			t.Errorf("FindInt(%s) = %d, want no number", bad, v)
		}
	}
	if v, ok := FindInt([]byte(`{"sentat":-9223372036854775807}`), `"sentat"`); !ok || v != -9223372036854775807 {
		t.Errorf("negative = %d, %v", v, ok)
	}
	if st := ReplyStatus([]byte(`{"response":{},"status":"error"}`)); string(st) != "error" {
		t.Errorf("status = %q", st)
	}
	if n, ok := Uint([]byte("1234")); !ok || n != 1234 {
		t.Errorf("Uint = %d, %v", n, ok)
	}
	if _, ok := Uint([]byte("12a")); ok {
		t.Error("Uint accepted 12a")
	}
}

// TestReaderChunks feeds a stream of frames (small, 16-bit and 64-bit
// lengths, masked, fragmented, control) split at every possible point.
func TestReaderChunks(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	big := strings.Repeat("b", 70000)
	var stream []byte
	stream = AppendFrame(stream, OpText, []byte("hello"), nil)
	stream = AppendFrame(stream, OpText, []byte(strings.Repeat("m", 300)), &key)
	stream = AppendFrame(stream, OpPing, []byte("p"), nil)
	stream = append(stream, 0x01, 3, 'a', 'b', 'c') // text, not FIN
	stream = append(stream, 0x80, 2, 'd', 'e')      // continuation, FIN
	stream = AppendFrame(stream, OpBinary, []byte(big), nil)
	want := []string{"1:hello", "1:" + strings.Repeat("m", 300), "9:p", "1:abcde", "2:" + big}

	for _, step := range []int{1, 2, 3, 7, 100, 4096, len(stream)} {
		var r Reader
		var got []string
		data := bytes.Clone(stream) // masked payloads are unmasked in place
		for i := 0; i < len(data); i += step {
			err := r.Feed(data[i:min(i+step, len(data))], func(f Frame) error {
				got = append(got, string('0'+f.Op)+":"+string(f.Payload))
				return nil
			})
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		if len(got) != len(want) {
			t.Fatalf("step %d: %d frames, want %d", step, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("step %d frame %d: %.20q..., want %.20q...", step, i, got[i], want[i])
			}
		}
		if len(r.pending) != 0 {
			t.Errorf("step %d: %d bytes left pending", step, len(r.pending))
		}
	}
}

// TestReaderReleasesLargeBuffers: a frame read in pieces leaves no large
// buffer behind once it is complete, as an idle connection would keep it.
func TestReaderReleasesLargeBuffers(t *testing.T) {
	for _, size := range []int{20 << 10, 40 << 10, 80 << 10} {
		var r Reader
		stream := AppendFrame(nil, OpText, bytes.Repeat([]byte("s"), size), nil)
		frames := 0
		for i := 0; i < len(stream); i += 16 << 10 {
			if err := r.Feed(stream[i:min(i+16<<10, len(stream))], func(Frame) error { frames++; return nil }); err != nil {
				t.Fatal(err)
			}
		}
		if frames != 1 || cap(r.pending) > 4<<10 {
			t.Errorf("%d-byte frame in 16 KiB reads: %d frames, %d bytes of buffer kept; want 1 and at most 4 KiB", size, frames, cap(r.pending))
		}
	}
}

func TestReaderRejectsHugeFrame(t *testing.T) {
	var r Reader
	hdr := AppendHeader(nil, OpText, MaxFrameBytes+1, nil)
	if err := r.Feed(hdr, func(Frame) error { return nil }); err != ErrTooLarge {
		t.Errorf("err = %v, want ErrTooLarge", err)
	}
}
