package ingress_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/google/go-cmp/cmp"

	"github.com/fawkes-rt/fawkes/channels"
	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
	"github.com/fawkes-rt/fawkes/protocol"
)

// recorder is a channels.Transport that keeps every frame.
type recorder struct {
	mu     sync.Mutex
	frames [][]byte
}

func (r *recorder) Send(f protocol.Frame) {
	r.mu.Lock()
	r.frames = append(r.frames, bytes.Clone(f.Data))
	r.mu.Unlock()
}

func (r *recorder) Disconnect() {}

func (r *recorder) take() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.frames
	r.frames = nil
	return f
}

// world is an events service behind the ingress, and its members.
type world struct {
	t      *testing.T
	svc    *events.Service
	ps     *pubsub.Local
	router *channels.Router
	srv    *httptest.Server
}

func newWorld(t *testing.T, cfg ingress.Config) *world {
	w := &world{t: t, ps: pubsub.NewLocal(), router: channels.NewRouter()}
	w.svc = events.New(events.Config{PubSub: w.ps, HeartbeatInterval: events.HeartbeatOff, MaxEventBytes: 4096})
	w.router.Handle("events:*", w.svc.Factory())
	cfg.Events = w.svc
	mux := http.NewServeMux()
	mux.Handle("/events/{room}", ingress.New(cfg))
	w.srv = httptest.NewServer(mux)
	t.Cleanup(w.srv.Close)
	return w
}

// member joins topic with payload and returns its recorder, emptied.
func (w *world) member(topic, payload string) (*channels.Mux, *recorder) {
	w.t.Helper()
	tr := &recorder{}
	mux := channels.NewMux(channels.MuxConfig{Router: w.router, PubSub: w.ps, Transport: tr})
	w.t.Cleanup(mux.Close)
	dispatch(w.t, mux, `["1","1",`+quote(topic)+`,"phx_join",`+payload+`]`)
	if got := tr.take(); len(got) != 1 || !bytes.Contains(got[0], []byte(`"status":"ok"`)) {
		w.t.Fatalf("join %s: %q", topic, got)
	}
	return mux, tr
}

func dispatch(t *testing.T, mux *channels.Mux, text string) {
	t.Helper()
	m, err := protocol.V2JSON.Decode([]byte(text), false)
	if err != nil {
		t.Fatalf("bad test frame %s: %v", text, err)
	}
	mux.Dispatch(m)
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// post sends body to path with headers and returns the status and body.
func (w *world) post(path string, header map[string]string, body string) (int, string, http.Header) {
	w.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(w.t, req)
}

func do(t *testing.T, req *http.Request) (int, string, http.Header) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

// jsonEq reports whether two JSON texts are equal as values.
func jsonEq(t *testing.T, want, got string) {
	t.Helper()
	var w, g any
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %s", want)
	}
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("response is not JSON: %q", got)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Fatalf("JSON (-want +got):\n%s", diff)
	}
}

const structured = `{"specversion":"1.0","id":"e-1","source":"/crm","type":"com.example.order.created", "data":{"n": 1}}`

func TestStructuredReachesMembersAsTheSameBytesAsAMembersCloudEvent(t *testing.T) {
	w := newWorld(t, ingress.Config{Anonymous: true})
	_, viaHTTP := w.member("events:shop", `{}`)
	sender, _ := w.member("events:shop", `{}`)

	status, body, h := w.post("/events/shop", map[string]string{"Content-Type": "application/cloudevents+json"}, structured)
	if status != http.StatusAccepted || h.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d %s", status, body)
	}
	jsonEq(t, `{"ids":["e-1"]}`, body)
	gotHTTP := viaHTTP.take()

	// The same event pushed by a member over the channel.
	dispatch(t, sender, `["1","2","events:shop","cloudevent",`+structured+`]`)
	gotPush := viaHTTP.take()
	want := `[null,null,"events:shop","cloudevent",` + structured + `]`
	if len(gotHTTP) != 1 || string(gotHTTP[0]) != want {
		t.Fatalf("member got %q\nwant %q", gotHTTP, want)
	}
	if len(gotPush) != 1 || !bytes.Equal(gotPush[0], gotHTTP[0]) {
		t.Fatalf("a member's push gave %q, the ingress %q", gotPush, gotHTTP)
	}
}

func TestBinaryModeBuildsTheDocumentedJSON(t *testing.T) {
	for _, tc := range []struct {
		name        string
		contentType string
		body        string
		want        string
	}{
		{"json data", "application/json", " {\"n\": 1}\n",
			`{"specversion":"1.0","id":"b-1","source":"/crm","type":"com.example.t","datacontenttype":"application/json","subject":"café 100%","time":"2026-11-25T20:32:07Z","comexampleext":"x\"y","traceid":"1","data":{"n": 1}}`},
		{"text data", "text/plain; charset=utf-8", "hello\nworld",
			`{"specversion":"1.0","id":"b-1","source":"/crm","type":"com.example.t","datacontenttype":"text/plain; charset=utf-8","subject":"café 100%","time":"2026-11-25T20:32:07Z","comexampleext":"x\"y","traceid":"1","data":"hello\nworld"}`},
		{"binary data", "application/octet-stream", "\x00\x01\xff",
			`{"specversion":"1.0","id":"b-1","source":"/crm","type":"com.example.t","datacontenttype":"application/octet-stream","subject":"café 100%","time":"2026-11-25T20:32:07Z","comexampleext":"x\"y","traceid":"1","data_base64":"AAH/"}`},
		{"no data", "", "",
			`{"specversion":"1.0","id":"b-1","source":"/crm","type":"com.example.t","subject":"café 100%","time":"2026-11-25T20:32:07Z","comexampleext":"x\"y","traceid":"1"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, ingress.Config{Anonymous: true})
			_, m := w.member("events:lobby", `{}`)
			h := map[string]string{
				"ce-specversion": "1.0", "ce-id": "b-1", "ce-source": "/crm", "ce-type": "com.example.t",
				"ce-subject": "caf%C3%A9 100%25", "ce-time": "2026-11-25T20:32:07Z",
				"ce-traceid": "1", "CE-ComExampleExt": "x%22y",
			}
			if tc.contentType != "" {
				h["Content-Type"] = tc.contentType
			}
			status, body, _ := w.post("/events/lobby", h, tc.body)
			if status != http.StatusAccepted {
				t.Fatalf("status %d %s", status, body)
			}
			jsonEq(t, `{"ids":["b-1"]}`, body)
			want := `[null,null,"events:lobby","cloudevent",` + tc.want + `]`
			if got := m.take(); len(got) != 1 || string(got[0]) != want {
				t.Fatalf("member got %q\nwant %q", got, want)
			}
		})
	}
}

func TestBinaryModeErrors(t *testing.T) {
	base := map[string]string{"ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t"}
	for _, tc := range []struct {
		name   string
		header map[string]string
		body   string
		want   string
	}{
		{"unknown specversion, missing attributes", map[string]string{"ce-specversion": "2.0", "ce-id": "", "ce-source": "", "ce-type": ""}, "",
			`[{"attribute":"specversion","message":"must be \"1.0\""},{"attribute":"id","message":"is required"},{"attribute":"source","message":"is required"},{"attribute":"type","message":"is required"}]`},
		{"bad percent-encoding", map[string]string{"ce-subject": "50%", "ce-id": "%FF", "ce-zz": "%4"}, "",
			`[{"attribute":"id","message":"is not UTF-8 after percent-decoding"},{"attribute":"subject","message":"has a malformed percent-encoding"},{"attribute":"zz","message":"has a malformed percent-encoding"}]`},
		{"bad extension name and time", map[string]string{"ce-time": "yesterday", "ce-my_ext": "1"}, "",
			`[{"attribute":"time","message":"must be an RFC 3339 timestamp"},{"attribute":"my_ext","message":"is not a valid attribute name (1 to 20 characters of a-z and 0-9)"}]`},
		{"JSON content type, not JSON", map[string]string{"Content-Type": "application/json"}, "{nope",
			`[{"attribute":"data","message":"is not valid JSON, as its Content-Type says"}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, ingress.Config{Anonymous: true})
			_, m := w.member("events:lobby", `{}`)
			h := map[string]string{}
			for k, v := range base {
				h[k] = v
			}
			for k, v := range tc.header {
				h[k] = v
				if v == "" {
					delete(h, k) // "" means: no such header
				}
			}
			status, body, _ := w.post("/events/lobby", h, tc.body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d %s", status, body)
			}
			var got struct {
				Reason  string          `json:"reason"`
				Message string          `json:"message"`
				Errors  json.RawMessage `json:"errors"`
			}
			_ = json.Unmarshal([]byte(body), &got)
			if got.Reason != "invalid_cloudevent" || !strings.HasPrefix(got.Message, "The event is not a valid CloudEvent") {
				t.Fatalf("body %s", body)
			}
			jsonEq(t, tc.want, string(got.Errors))
			if n := len(m.take()); n != 0 {
				t.Fatalf("member got %d frames for an invalid event", n)
			}
		})
	}
}

func TestInvalidStructuredEventHasTheChannelsErrorsList(t *testing.T) {
	w := newWorld(t, ingress.Config{Anonymous: true})
	sender, tr := w.member("events:lobby", `{}`)
	bad := `{"specversion":"0.3","source":"","type":7,"time":"noon","Bad":1}`
	dispatch(t, sender, `["1","2","events:lobby","cloudevent",`+bad+`]`)
	frames := tr.take()
	var reply []json.RawMessage
	if len(frames) != 2 || json.Unmarshal(frames[1], &reply) != nil {
		t.Fatalf("channel answered %q", frames)
	}
	var r struct {
		Response json.RawMessage `json:"response"`
	}
	_ = json.Unmarshal(reply[4], &r)

	status, body, _ := w.post("/events/lobby", map[string]string{"Content-Type": "application/cloudevents+json; charset=utf-8"}, bad)
	if status != http.StatusBadRequest {
		t.Fatalf("status %d %s", status, body)
	}
	jsonEq(t, string(r.Response), body)
}

func TestBatchAllOrNothingWithFilters(t *testing.T) {
	w := newWorld(t, ingress.Config{Anonymous: true})
	_, all := w.member("events:orders", `{}`)
	_, filtered := w.member("events:orders", `{"event_types":["com.example.order.*"]}`)
	ev1 := `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.order.created"}`
	ev2 := `{"specversion":"1.0","id":"2","source":"/s","type":"com.example.invoice.sent"}`
	bad := `{"specversion":"1.0","id":"3","source":"/s"}`
	ct := map[string]string{"Content-Type": "application/cloudevents-batch+json; charset=UTF-8"}

	status, body, _ := w.post("/events/orders", ct, "["+ev1+","+bad+","+ev2+",42]")
	if status != http.StatusBadRequest {
		t.Fatalf("status %d %s", status, body)
	}
	jsonEq(t, `{"reason":"invalid_cloudevent","message":"2 of the 4 events are not valid CloudEvents; none was published.","events":[
		{"index":1,"errors":[{"attribute":"type","message":"is required"}]},
		{"index":3,"errors":[{"attribute":"","message":"must be a JSON object"}]}]}`, body)
	if n := len(all.take()) + len(filtered.take()); n != 0 {
		t.Fatalf("an invalid batch published %d frames", n)
	}

	status, body, _ = w.post("/events/orders", ct, "[\n"+ev1+",\n"+ev2+"\n]")
	if status != http.StatusAccepted {
		t.Fatalf("status %d %s", status, body)
	}
	jsonEq(t, `{"ids":["1","2"]}`, body)
	want1 := `[null,null,"events:orders","cloudevent",` + ev1 + `]`
	want2 := `[null,null,"events:orders","cloudevent",` + ev2 + `]`
	if diff := cmp.Diff([]string{want1, want2}, strings.Fields(string(bytes.Join(all.take(), []byte(" "))))); diff != "" {
		t.Errorf("unfiltered member (-want +got):\n%s", diff)
	}
	if got := filtered.take(); len(got) != 1 || string(got[0]) != want1 {
		t.Errorf("filtered member got %q, want only %s", got, want1)
	}

	for _, notArray := range []string{`{}`, `null`, `[1,`, ``} {
		status, body, _ = w.post("/events/orders", ct, notArray)
		if status != http.StatusBadRequest || !strings.Contains(body, `"invalid_batch"`) {
			t.Errorf("%q: status %d %s", notArray, status, body)
		}
	}
	status, body, _ = w.post("/events/orders", ct, `[]`)
	if status != http.StatusAccepted {
		t.Fatalf("empty batch: %d %s", status, body)
	}
	jsonEq(t, `{"ids":[]}`, body)
}

// TestBatchAnswerListsTheFirstSixteenInvalidEvents: the answer to a batch
// of many invalid events stays small, and says that there were more.
func TestBatchAnswerListsTheFirstSixteenInvalidEvents(t *testing.T) {
	w := newWorld(t, ingress.Config{Anonymous: true})
	ct := map[string]string{"Content-Type": "application/cloudevents-batch+json"}
	for _, tc := range []struct {
		invalid int
		message string
	}{
		{16, "16 of the 17 events are not valid CloudEvents; none was published."},
		{17, "More than 16 of the 18 events are not valid CloudEvents; the first 16 are listed, and none was published."},
		{10000, "More than 16 of the 10001 events are not valid CloudEvents; the first 16 are listed, and none was published."},
	} {
		body := "[" + structured + strings.Repeat(`,{}`, tc.invalid) + "]"
		status, answer, _ := w.post("/events/lobby", ct, body)
		var got struct {
			Message string
			Events  []struct{ Index int }
		}
		if err := json.Unmarshal([]byte(answer), &got); err != nil || status != http.StatusBadRequest {
			t.Fatalf("%d invalid: %d %s", tc.invalid, status, answer)
		}
		if got.Message != tc.message || len(got.Events) != 16 || got.Events[0].Index != 1 || got.Events[15].Index != 16 {
			t.Errorf("%d invalid: %q listing %d events %v", tc.invalid, got.Message, len(got.Events), got.Events)
		}
		if len(answer) > 8000 {
			t.Errorf("%d invalid: answer of %d bytes", tc.invalid, len(answer))
		}
	}
}

func TestRequestErrors(t *testing.T) {
	w := newWorld(t, ingress.Config{Anonymous: true, MaxBodyBytes: 1000})
	_, m := w.member("events:lobby", `{}`)
	ce := map[string]string{"Content-Type": "application/cloudevents+json"}
	for _, tc := range []struct {
		name   string
		method string
		path   string
		header map[string]string
		body   string
		status int
		reason string
	}{
		{"GET", http.MethodGet, "/events/lobby", nil, "", 405, "method_not_allowed"},
		{"PUT", http.MethodPut, "/events/lobby", ce, structured, 405, "method_not_allowed"},
		{"invalid room", http.MethodPost, "/events/a%20b", ce, structured, 404, "invalid topic"},
		{"room too long", http.MethodPost, "/events/" + strings.Repeat("r", 129), ce, structured, 404, "invalid topic"},
		{"plain JSON without ce headers", http.MethodPost, "/events/lobby", map[string]string{"Content-Type": "application/json"}, structured, 415, "unsupported_media_type"},
		{"no content type", http.MethodPost, "/events/lobby", nil, structured, 415, "unsupported_media_type"},
		{"another event format", http.MethodPost, "/events/lobby", map[string]string{"Content-Type": "application/cloudevents+avro"}, structured, 415, "unsupported_media_type"},
		{"latin-1", http.MethodPost, "/events/lobby", map[string]string{"Content-Type": "application/cloudevents+json; charset=ISO-8859-1"}, structured, 415, "unsupported_media_type"},
		{"too large", http.MethodPost, "/events/lobby", ce, `{"data":"` + strings.Repeat("x", 1000) + `"}`, 413, "too_large"},
	} {
		req, _ := http.NewRequest(tc.method, w.srv.URL+tc.path, strings.NewReader(tc.body))
		for k, v := range tc.header {
			req.Header.Set(k, v)
		}
		status, body, h := do(t, req)
		var got struct{ Reason string }
		_ = json.Unmarshal([]byte(body), &got)
		if status != tc.status || got.Reason != tc.reason {
			t.Errorf("%s: %d %s, want %d %s", tc.name, status, body, tc.status, tc.reason)
		}
		if status == 405 && h.Get("Allow") != "POST" {
			t.Errorf("%s: Allow %q", tc.name, h.Get("Allow"))
		}
	}
	// Chunked, so the limit is found while reading, not from Content-Length.
	req, _ := http.NewRequest(http.MethodPost, w.srv.URL+"/events/lobby", io.MultiReader(strings.NewReader(`{"data":"`), strings.NewReader(strings.Repeat("x", 5000))))
	req.Header.Set("Content-Type", "application/cloudevents+json")
	if status, body, _ := do(t, req); status != 413 {
		t.Errorf("chunked too large: %d %s", status, body)
	}
	if n := len(m.take()); n != 0 {
		t.Fatalf("member got %d frames", n)
	}
}

func TestBearerToken(t *testing.T) {
	w := newWorld(t, ingress.Config{Token: "s3cret"})
	_, m := w.member("events:lobby", `{}`)
	for auth, want := range map[string]int{"": 401, "Bearer wrong": 401, "Bearer s3cret2": 401, "Basic s3cret": 401, "Bearer s3cret": 202, "bearer s3cret": 202} {
		h := map[string]string{"Content-Type": "application/cloudevents+json"}
		if auth != "" {
			h["Authorization"] = auth
		}
		status, body, hdr := w.post("/events/lobby", h, structured)
		if status != want {
			t.Errorf("Authorization %q: %d %s, want %d", auth, status, body, want)
		}
		if status == 401 && (hdr.Get("WWW-Authenticate") == "" || !strings.Contains(body, `"unauthorized"`)) {
			t.Errorf("401 without WWW-Authenticate or reason: %v %s", hdr, body)
		}
	}
	if n := len(m.take()); n != 2 {
		t.Fatalf("member got %d events, want the 2 authorized ones", n)
	}
}

// TestNoCredentialsConfiguredRefusesEveryRequest: the zero Config
// publishes nothing, whatever the request carries.
func TestNoCredentialsConfiguredRefusesEveryRequest(t *testing.T) {
	w := newWorld(t, ingress.Config{})
	_, m := w.member("events:lobby", `{}`)
	for _, auth := range []string{"", "Bearer anything", "Bearer "} {
		h := map[string]string{"Content-Type": "application/cloudevents+json"}
		if auth != "" {
			h["Authorization"] = auth
		}
		status, body, hdr := w.post("/events/lobby", h, structured)
		if status != 401 || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: %d %s %v, want 401 with WWW-Authenticate", auth, status, body, hdr)
		}
		jsonEq(t, `{"reason":"unauthorized","message":"this ingress takes no events: no credentials are configured on the server"}`, body)
	}
	if n := len(m.take()); n != 0 {
		t.Fatalf("member got %d frames", n)
	}
}

// TestAuthorizeHook: requests without the token go to Authorize, which sees
// the room and the request and chooses 401 or 403 and the message.
func TestAuthorizeHook(t *testing.T) {
	w := newWorld(t, ingress.Config{Token: "s3cret", Authorize: func(r *http.Request, room string) error {
		token, _ := ingress.BearerToken(r)
		switch {
		case token == "user-a" && room == "lobby":
			return nil
		case token == "user-a":
			return &ingress.Refusal{Status: http.StatusForbidden, Message: "the token does not name this room"}
		case token == "expired":
			return &ingress.Refusal{Message: "token expired"}
		}
		return errors.New("internal detail")
	}})
	_, lobby := w.member("events:lobby", `{}`)
	_, other := w.member("events:other", `{}`)
	for _, tc := range []struct {
		auth, room string
		status     int
		body       string
	}{
		{"Bearer s3cret", "other", 202, ""},
		{"Bearer user-a", "lobby", 202, ""},
		{"Bearer user-a", "other", 403, `{"reason":"forbidden","message":"the token does not name this room"}`},
		{"Bearer expired", "lobby", 401, `{"reason":"unauthorized","message":"token expired"}`},
		{"Bearer junk", "lobby", 401, `{"reason":"unauthorized","message":"a valid bearer token is required (Authorization: Bearer <token>)"}`},
		{"", "lobby", 401, `{"reason":"unauthorized","message":"a valid bearer token is required (Authorization: Bearer <token>)"}`},
		{"Bearer user-a", "a%20b", 404, `{"reason":"invalid topic","message":"a room is 1 to 128 characters of A-Z a-z 0-9 . _ ~ : @ -"}`},
	} {
		h := map[string]string{"Content-Type": "application/cloudevents+json"}
		if tc.auth != "" {
			h["Authorization"] = tc.auth
		}
		status, body, hdr := w.post("/events/"+tc.room, h, structured)
		if status != tc.status {
			t.Errorf("%q to %s: %d %s, want %d", tc.auth, tc.room, status, body, tc.status)
			continue
		}
		if tc.body != "" {
			jsonEq(t, tc.body, body)
		}
		if (status == 401) != (hdr.Get("WWW-Authenticate") != "") {
			t.Errorf("%q to %s: %d with WWW-Authenticate %q", tc.auth, tc.room, status, hdr.Get("WWW-Authenticate"))
		}
	}
	if n, o := len(lobby.take()), len(other.take()); n != 1 || o != 1 {
		t.Fatalf("lobby got %d events and other %d, want 1 each", n, o)
	}
}

func TestSDKClientBinaryAndStructured(t *testing.T) {
	w := newWorld(t, ingress.Config{Anonymous: true})
	_, m := w.member("events:sdk", `{}`)
	c, err := cloudevents.NewClientHTTP(cloudevents.WithTarget(w.srv.URL + "/events/sdk"))
	if err != nil {
		t.Fatal(err)
	}
	ev := cloudevents.NewEvent()
	ev.SetID("sdk-1")
	ev.SetSource("/sdk")
	ev.SetType("com.example.sdk")
	ev.SetSubject("ünïcödé subject")
	ev.SetExtension("tenant", "acme")
	_ = ev.SetData(cloudevents.ApplicationJSON, map[string]int{"n": 1})

	if res := c.Send(context.Background(), ev); !cloudevents.IsACK(res) {
		t.Fatalf("binary send: %v", res)
	}
	ev.SetID("sdk-2")
	if res := c.Send(cloudevents.WithEncodingStructured(context.Background()), ev); !cloudevents.IsACK(res) {
		t.Fatalf("structured send: %v", res)
	}
	got := m.take()
	if len(got) != 2 {
		t.Fatalf("member got %q", got)
	}
	for i, f := range got {
		var frame []json.RawMessage
		_ = json.Unmarshal(f, &frame)
		back := cloudevents.NewEvent()
		if err := json.Unmarshal(frame[4], &back); err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if back.ID() != []string{"sdk-1", "sdk-2"}[i] || back.Subject() != "ünïcödé subject" || back.Extensions()["tenant"] != "acme" || string(back.Data()) != `{"n":1}` {
			t.Errorf("frame %d decodes to %v", i, back)
		}
	}
}
