package events

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// numbered is the CloudEvent of id "e<n>", of type t.<n mod 2>.
func numbered(n int) string {
	return validEvent("e"+strconv.Itoa(n), "t."+strconv.Itoa(n%2))
}

// broadcastAll broadcasts numbered(from..to) to room "r".
func broadcastAll(t *testing.T, svc *Service, from, to int) {
	t.Helper()
	for n := from; n <= to; n++ {
		if err := svc.Broadcast("r", []byte(numbered(n))); err != nil {
			t.Fatal(err)
		}
	}
}

// resumeFrames joins room with payload and returns every frame since.
func (c *client) resumeFrames(payload string) []frame {
	c.t.Helper()
	c.send(`["1","1",` + quote(room) + `,"phx_join",` + payload + `]`)
	return decodeFrames(c.t, c.tr.Take())
}

// cloudEventIDs returns the ids of the cloudevent frames among fs, in order.
func cloudEventIDs(fs []frame) []string {
	var ids []string
	for _, f := range fs {
		if f.Event == EventCloudEvent {
			ids = append(ids, f.Payload.(map[string]any)["id"].(string))
		}
	}
	return ids
}

func ids(from, to int) []string {
	var out []string
	for n := from; n <= to; n++ {
		out = append(out, "e"+strconv.Itoa(n))
	}
	return out
}

func TestResumeJoinContract(t *testing.T) {
	tests := []struct {
		name     string
		history  bool
		payload  string
		status   string
		response string
		replay   []string
	}{
		{name: "no last_event_id: the reply of today", history: true, payload: `{}`, status: "ok", response: `{}`},
		{name: "null is none", history: true, payload: `{"last_event_id":null}`, status: "ok", response: `{}`},
		{name: "event_types without last_event_id", history: true, payload: `{"event_types":["t.1"]}`, status: "ok", response: `{"event_types":["t.1"]}`},
		{name: "recovered", history: true, payload: `{"last_event_id":"e3"}`, status: "ok",
			response: `{"recovered":true,"replayed":2}`, replay: ids(4, 5)},
		{name: "recovered after the newest: nothing to replay", history: true, payload: `{"last_event_id":"e5"}`, status: "ok",
			response: `{"recovered":true,"replayed":0}`},
		{name: "escaped id", history: true, payload: `{"last_event_id":"\u0065\u0033"}`, status: "ok",
			response: `{"recovered":true,"replayed":2}`, replay: ids(4, 5)},
		{name: "replay filtered by the join's event_types", history: true, payload: `{"last_event_id":"e1","event_types":["t.1"]}`, status: "ok",
			response: `{"event_types":["t.1"],"recovered":true,"replayed":2}`, replay: []string{"e3", "e5"}},
		{name: "unknown id", history: true, payload: `{"last_event_id":"nope"}`, status: "ok", response: `{"recovered":false}`},
		{name: "no history", history: false, payload: `{"last_event_id":"e3"}`, status: "ok", response: `{"recovered":false}`},
		{name: "not a string", history: true, payload: `{"last_event_id":3}`, status: "error",
			response: `{"reason":"invalid_last_event_id","message":"last_event_id must be a string, the id of the last event received"}`},
		{name: "not a string, no history", history: false, payload: `{"last_event_id":["e3"]}`, status: "error",
			response: `{"reason":"invalid_last_event_id","message":"last_event_id must be a string, the id of the last event received"}`},
		{name: "empty", history: true, payload: `{"last_event_id":""}`, status: "error",
			response: `{"reason":"invalid_last_event_id","message":"last_event_id must not be empty"}`},
		{name: "oversized", history: true, payload: `{"last_event_id":"` + strings.Repeat("x", 257) + `"}`, status: "error",
			response: `{"reason":"invalid_last_event_id","message":"last_event_id is 257 bytes, more than the limit of 256"}`},
		{name: "the last one wins", history: true, payload: `{"last_event_id":1,"last_event_id":"e4"}`, status: "ok",
			response: `{"recovered":true,"replayed":1}`, replay: ids(5, 5)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{}
			if tt.history {
				cfg.History = NewMemoryHistory(HistoryConfig{})
			}
			w := newWorld(t, cfg)
			broadcastAll(t, w.svc, 1, 5)
			c := w.connect(channels.Conn{})
			got := c.resumeFrames(tt.payload)
			want := fr(`"1"`, `"1"`, room, "phx_reply", `{"status":"`+tt.status+`","response":`+tt.response+`}`)
			if len(got) == 0 || fmt.Sprint(got[0]) != fmt.Sprint(want) {
				t.Fatalf("join reply %+v, want %+v", got, want)
			}
			if replay := cloudEventIDs(got[1:]); fmt.Sprint(replay) != fmt.Sprint(tt.replay) {
				t.Errorf("replayed %v, want %v", replay, tt.replay)
			}
			for _, f := range got[1:] {
				if f.JoinRef != `"1"` || f.Event != EventCloudEvent {
					t.Errorf("replay frame %+v: want cloudevent pushes of join ref \"1\"", f)
				}
			}
			wantMembers := 0
			if tt.status == "ok" {
				wantMembers = 1
			}
			if n := w.ps.Count(room); n != wantMembers {
				t.Errorf("%d subscriptions to the topic after the join, want %d (the handoff's is gone)", n, wantMembers)
			}
		})
	}
}

func TestReplayIsTheBroadcastBytes(t *testing.T) {
	w := newWorld(t, Config{History: NewMemoryHistory(HistoryConfig{})})
	live := w.connect(channels.Conn{})
	live.join(room, `{}`)
	ev := `{ "type":"t" , "specversion":"1.0","id":"x\u00e9","source":"/s","data":{"big":1.50e+3},"ext":-0 }`
	if err := w.svc.Broadcast("r", []byte(`{"specversion":"1.0","id":"first","source":"/s","type":"t"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.svc.Broadcast("r", []byte(ev)); err != nil {
		t.Fatal(err)
	}
	liveFrames := live.tr.Take()
	back := w.connect(channels.Conn{})
	back.send(`["1","1","events:r","phx_join",{"last_event_id":"first"}]`)
	got := back.tr.Take()
	if len(got) != 2 {
		t.Fatalf("got %d frames, want the reply and one push", len(got))
	}
	m, err := protocol.V2JSON.Decode(got[1].Data, false)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := protocol.V2JSON.Decode(liveFrames[1].Data, false)
	if string(m.Payload) != ev || string(want.Payload) != ev {
		t.Errorf("replayed payload %s, live payload %s, want both %s", m.Payload, want.Payload, ev)
	}
}

// TestDuplicateIDsTheNewestWins: a room may see an id twice (a publisher
// retrying a POST); a resume continues after the newer one, which is the
// one a member connected at the time received last.
func TestDuplicateIDsTheNewestWins(t *testing.T) {
	w := newWorld(t, Config{History: NewMemoryHistory(HistoryConfig{})})
	for _, id := range []string{"a", "x", "b", "x", "c"} {
		if err := w.svc.Broadcast("r", []byte(validEvent(id, "t"))); err != nil {
			t.Fatal(err)
		}
	}
	c := w.connect(channels.Conn{})
	got := c.resumeFrames(`{"last_event_id":"x"}`)
	if replay := cloudEventIDs(got); fmt.Sprint(replay) != "[c]" {
		t.Errorf("replayed %v, want [c]", replay)
	}
}

func TestHistoryBounds(t *testing.T) {
	clock := testNow
	var mu sync.Mutex
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	h := NewMemoryHistory(HistoryConfig{Size: 3, TTL: time.Minute, Now: now})
	w := newWorld(t, Config{History: h})
	broadcastAll(t, w.svc, 1, 5) // e1, e2 pushed out by size

	resume := func(id string) string {
		c := w.connect(channels.Conn{})
		got := c.resumeFrames(`{"last_event_id":"` + id + `"}`)
		c.mux.Close()
		return fmt.Sprint(got[0].Payload.(map[string]any)["response"], cloudEventIDs(got))
	}
	for id, want := range map[string]string{
		"e1": "map[recovered:false] []",
		"e2": "map[recovered:false] []",
		"e3": "map[recovered:true replayed:2] [e4 e5]",
	} {
		if got := resume(id); got != want {
			t.Errorf("resume after %s: %s, want %s", id, got, want)
		}
	}
	advance(40 * time.Second)
	broadcastAll(t, w.svc, 6, 6) // e4 e5 e6 kept, e4 and e5 40 s old
	advance(30 * time.Second)    // e4 and e5 expired
	if got, want := resume("e4"), "map[recovered:false] []"; got != want {
		t.Errorf("resume after an expired event: %s, want %s", got, want)
	}
	if got, want := resume("e6"), "map[recovered:true replayed:0] []"; got != want {
		t.Errorf("resume after the newest: %s, want %s", got, want)
	}
	page, _ := w.svc.ReadHistory(context.Background(), "r", "", 0)
	if got := recordIDs(page.Events); got != "[e6]" || !page.Found {
		t.Errorf("history from the oldest: %v (found %v), want [e6]", got, page.Found)
	}
	// A room nobody published to for a TTL is forgotten at the next sweep.
	if err := w.svc.Broadcast("other", []byte(numbered(1))); err != nil {
		t.Fatal(err)
	}
	advance(2 * time.Minute)
	if err := w.svc.Broadcast("third", []byte(numbered(1))); err != nil {
		t.Fatal(err)
	}
	h.mu.RLock()
	_, kept := h.rooms["other"]
	h.mu.RUnlock()
	if kept {
		t.Error("a room idle for more than the TTL is still kept")
	}
}

func recordIDs(recs []Record) string {
	var out []string
	for _, r := range recs {
		out = append(out, r.ID)
	}
	return fmt.Sprint(out)
}

func TestSinceLimit(t *testing.T) {
	w := newWorld(t, Config{History: NewMemoryHistory(HistoryConfig{Size: 10})})
	broadcastAll(t, w.svc, 1, 6)
	for _, tt := range []struct {
		after string
		limit int
		want  string
		more  bool
	}{
		{"", 0, "[e1 e2 e3 e4 e5 e6]", false},
		{"", 4, "[e1 e2 e3 e4]", true},
		{"e4", 2, "[e5 e6]", false},
		{"e2", 2, "[e3 e4]", true},
		{"e6", 2, "[]", false},
	} {
		page, err := w.svc.ReadHistory(context.Background(), "r", tt.after, tt.limit)
		if err != nil || !page.Found || recordIDs(page.Events) != tt.want || page.More != tt.more {
			t.Errorf("after %q limit %d: %v more %v found %v (%v), want %s more %v", tt.after, tt.limit, recordIDs(page.Events), page.More, page.Found, err, tt.want, tt.more)
		}
	}
	if _, err := w.svc.ReadHistory(context.Background(), "a b", "", 0); err == nil {
		t.Error("an invalid room was read")
	}
	off := newWorld(t, Config{})
	if _, err := off.svc.ReadHistory(context.Background(), "r", "", 0); err != ErrNoHistory {
		t.Errorf("without history: %v, want ErrNoHistory", err)
	}
}

func TestReplayOverTheByteLimitIsNotRecovered(t *testing.T) {
	w := newWorld(t, Config{History: NewMemoryHistory(HistoryConfig{}), MaxReplayBytes: 3 * len(numbered(10))})
	broadcastAll(t, w.svc, 10, 15)
	c := w.connect(channels.Conn{})
	if got := c.resumeFrames(`{"last_event_id":"e12"}`); fmt.Sprint(got[0].Payload) != "map[response:map[recovered:true replayed:3] status:ok]" || len(got) != 4 {
		t.Errorf("3 events of the limit: %+v", got)
	}
	c2 := w.connect(channels.Conn{})
	if got := c2.resumeFrames(`{"last_event_id":"e11"}`); fmt.Sprint(got[0].Payload) != "map[response:map[recovered:false] status:ok]" || len(got) != 1 {
		t.Errorf("4 events over the limit: %+v", got)
	}
}

// racingHistory publishes while a join reads: before the read (events the
// page has and the handoff receives too) and after it (events only the
// handoff receives).
type racingHistory struct {
	*MemoryHistory
	svc           *Service
	before, after []int
}

func (r *racingHistory) Since(ctx context.Context, room, after string, limit int) (Page, error) {
	for _, n := range r.before {
		_ = r.svc.Broadcast("r", []byte(numbered(n)))
	}
	page, err := r.MemoryHistory.Since(ctx, room, after, limit)
	for _, n := range r.after {
		_ = r.svc.Broadcast("r", []byte(numbered(n)))
	}
	r.before, r.after = nil, nil
	return page, err
}

func TestHandoffWithEventsDuringTheJoin(t *testing.T) {
	rh := &racingHistory{MemoryHistory: NewMemoryHistory(HistoryConfig{}), before: []int{4, 5}, after: []int{6, 7}}
	w := newWorld(t, Config{History: rh})
	rh.svc = w.svc
	broadcastAll(t, w.svc, 1, 3)
	c := w.connect(channels.Conn{})
	got := c.resumeFrames(`{"last_event_id":"e2"}`)
	if r := fmt.Sprint(got[0].Payload); r != "map[response:map[recovered:true replayed:3] status:ok]" {
		t.Errorf("reply %s", r)
	}
	if got := cloudEventIDs(got); fmt.Sprint(got) != fmt.Sprint(ids(3, 7)) {
		t.Errorf("got %v, want %v", got, ids(3, 7))
	}
	broadcastAll(t, w.svc, 8, 8)
	c.expect(broadcast(room, EventCloudEvent, numbered(8)))
	if n := w.ps.Count(room); n != 1 {
		t.Errorf("%d subscriptions, want the socket's only", n)
	}
}

// TestHandoffUnderAConcurrentPublisher drops and resumes a member again
// and again while events keep coming: it must end with every event once,
// in order.
func TestHandoffUnderAConcurrentPublisher(t *testing.T) {
	const total = 3000
	w := newWorld(t, Config{History: NewMemoryHistory(HistoryConfig{Size: 1000})})
	others := w.connect(channels.Conn{}) // a member that stays: the publisher pushes from it
	others.join(room, `{}`)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for n := 1; n <= total; n++ {
			ev := numbered(n)
			if n%2 == 0 {
				_ = w.svc.Broadcast("r", []byte(ev))
			} else {
				others.send(`["1","` + strconv.Itoa(n+1) + `","events:r","cloudevent",` + ev + `]`)
			}
			if n%50 == 0 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var got []string
	last := ""
	rejoins := 0
	for {
		c := w.connect(channels.Conn{})
		payload := `{}`
		if last != "" {
			payload = `{"last_event_id":"` + last + `"}`
		}
		c.send(`["1","1","events:r","phx_join",` + payload + `]`)
		deadline := time.Now().Add(5 * time.Second)
		seen := 0
		for seen < 40+rejoins%60 && time.Now().Before(deadline) {
			fs := decodeFrames(t, c.tr.Take())
			if len(fs) > 0 && fs[0].Event == "phx_reply" {
				resp := fs[0].Payload.(map[string]any)["response"].(map[string]any)
				if last != "" && resp["recovered"] != true {
					t.Fatalf("resume after %s not recovered: %v", last, resp)
				}
			}
			for _, id := range cloudEventIDs(fs) {
				got = append(got, id)
				last = id
				seen++
			}
			if last == "e"+strconv.Itoa(total) {
				break
			}
			time.Sleep(200 * time.Microsecond)
		}
		c.mux.Close()
		for _, id := range cloudEventIDs(decodeFrames(t, c.tr.Take())) {
			got = append(got, id) // what was sent before the close
			last = id
		}
		rejoins++
		if last == "e"+strconv.Itoa(total) {
			break
		}
		select {
		case <-done:
			if time.Now().After(deadline) {
				t.Fatalf("stuck after %s", last)
			}
		default:
		}
	}
	<-done
	if len(got) == 0 {
		t.Fatal("nothing received")
	}
	first, _ := strconv.Atoi(strings.TrimPrefix(got[0], "e"))
	if want := ids(first, total); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after %d rejoins the member has %d events from %s, want %d in order without gap or duplicate; first difference at %d", rejoins, len(got), got[0], len(want), firstDiff(got, want))
	}
	if rejoins < 10 {
		t.Errorf("only %d rejoins: the test did not exercise the handoff", rejoins)
	}
	t.Logf("%d rejoins, %d events", rejoins, len(got))
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// pageHistory answers every read with a page of another node's events
// (Seq 0): a resuming member must drop their live copies, which in a
// cluster arrive without a Meta, by their bytes.
type pageHistory struct{ *MemoryHistory }

func (p pageHistory) Since(ctx context.Context, room, after string, limit int) (Page, error) {
	return Page{
		Found:   true,
		Events:  []Record{{ID: "e1", Type: "t.1", Raw: []byte(numbered(1))}, {ID: "e2", Type: "t.0", Raw: []byte(numbered(2))}},
		Earlier: [][sha1.Size]byte{sha1.Sum([]byte(numbered(0)))},
	}, nil
}

func TestLateCopiesFromOtherNodesAreDropped(t *testing.T) {
	w := newWorld(t, Config{History: pageHistory{NewMemoryHistory(HistoryConfig{})}})
	c := w.connect(channels.Conn{})
	if got := cloudEventIDs(c.resumeFrames(`{"last_event_id":"e0"}`)); fmt.Sprint(got) != "[e1 e2]" {
		t.Fatalf("replay %v", got)
	}
	remote := func(ev string) { _ = w.ps.Publish(pubsub.NewBroadcast(room, EventCloudEvent, []byte(ev))) }
	remote(numbered(0)) // an event before e0 its node delivered before the history had it
	remote(numbered(2)) // late copy of a replayed event
	remote(numbered(3)) // new
	c.expect(broadcast(room, EventCloudEvent, numbered(3)))
	w.now = w.now.Add(resumeDedupWindow + time.Second) // the window is over
	remote(numbered(3))
	c.expect(broadcast(room, EventCloudEvent, numbered(3)))
	if ch := channelOf(t, w); ch.handoff.Load() != nil {
		t.Error("the handoff is kept after its window")
	}
	remote(numbered(2))
	c.expect(broadcast(room, EventCloudEvent, numbered(2)))
}

func TestResumeOverTheSameConnectionAfterALeave(t *testing.T) {
	w := newWorld(t, Config{History: NewMemoryHistory(HistoryConfig{})})
	c := w.connect(channels.Conn{})
	c.join(room, `{}`)
	broadcastAll(t, w.svc, 1, 2)
	c.tr.Take()
	c.send(`["1","2","events:r","phx_leave",{}]`)
	c.tr.Take()
	broadcastAll(t, w.svc, 3, 4)
	c.send(`["3","3","events:r","phx_join",{"last_event_id":"e2"}]`)
	got := decodeFrames(t, c.tr.Take())
	if ids := cloudEventIDs(got); fmt.Sprint(ids) != "[e3 e4]" || got[1].JoinRef != `"3"` {
		t.Errorf("got %+v", got)
	}
	var reply struct {
		Response map[string]any `json:"response"`
	}
	b, _ := json.Marshal(got[0].Payload)
	_ = json.Unmarshal(b, &reply)
	if fmt.Sprint(reply.Response) != "map[recovered:true replayed:2]" {
		t.Errorf("reply %v", reply.Response)
	}
}
