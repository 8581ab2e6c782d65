package ingress_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/channels/events"
	"github.com/fawkes-rt/fawkes/channels/events/ingress"
	"github.com/fawkes-rt/fawkes/channels/pubsub"
)

// Input cost (issue 16): a request costs time and memory linear in its
// size, answer included. The families below are adversarial requests of
// about scale × 2.5 KB (bodies, or headers in binary mode);
// TestInputCostIsLinear checks that the bytes allocated per input byte do
// not grow from 1x to 100x, and BenchmarkInputCost measures CPU per byte at
// the same sizes (docs/BENCHMARKS.md, "Input cost").

var costScales = []int{1, 10, 100}

const costBytes = 2500

// fill returns head, items separated by commas, then tail, with as many
// items as keep it within scale × costBytes.
func fill(scale int, head string, item func(i int) string, tail string) string {
	target := scale * costBytes
	b := []byte(head)
	for i := 0; ; i++ {
		it := item(i)
		if len(b)+1+len(it)+len(tail) > target {
			break
		}
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, it...)
	}
	return string(append(b, tail...))
}

// costRequest is one request of a family: its headers and body.
type costRequest struct {
	header http.Header
	body   string
}

func (c costRequest) size() int {
	n := len(c.body)
	for k, vs := range c.header {
		for _, v := range vs {
			n += len(k) + len(v) + 4
		}
	}
	return n
}

const (
	contentStructured = "application/cloudevents+json"
	contentBatch      = "application/cloudevents-batch+json"
	smallEvent        = `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.a"}`
)

var requestFamilies = []struct {
	name   string
	status int
	input  func(scale int) costRequest
}{
	// A batch of small valid events: each validated, then published.
	{"batch-valid", 202, func(s int) costRequest {
		return costRequest{http.Header{"Content-Type": {contentBatch}}, fill(s, "[", func(int) string { return smallEvent }, "]")}
	}},
	// A batch of empty objects: four problems each, every one answered.
	{"batch-invalid", 400, func(s int) costRequest {
		return costRequest{http.Header{"Content-Type": {contentBatch}}, fill(s, "[", func(int) string { return "{}" }, "]")}
	}},
	// One event with many invalid attribute names: one problem each.
	{"structured-invalid-extensions", 400, func(s int) costRequest {
		return costRequest{http.Header{"Content-Type": {contentStructured}}, fill(s, strings.TrimSuffix(smallEvent, "}")+",", func(i int) string { return `"X` + strconv.Itoa(i) + `":1` }, "}")}
	}},
	// Binary mode with many extension headers, sorted by name.
	{"binary-extensions", 202, func(s int) costRequest {
		h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"com.example.a"}}
		for i, n := 0, 0; n < s*costBytes-120; i++ {
			k, v := "Ce-X"+strconv.Itoa(i), "caf%C3%A9"
			h[k] = []string{v}
			n += len(k) + len(v) + 4
		}
		return costRequest{h, ""}
	}},
	// Binary mode with a text body of characters that JSON escapes (to
	// twice their size: at 100x the event is just under its limit).
	{"binary-text-escapes", 202, func(s int) costRequest {
		h := http.Header{"Ce-Specversion": {"1.0"}, "Ce-Id": {"1"}, "Ce-Source": {"/s"}, "Ce-Type": {"com.example.a"}, "Content-Type": {"text/plain"}}
		return costRequest{h, strings.Repeat("\"\\\n\t", s*costBytes/8)}
	}},
}

// costHandler is an ingress that publishes to a room nobody joined, with
// the default limits.
func costHandler() http.Handler {
	svc := events.New(events.Config{PubSub: pubsub.NewLocal(), HeartbeatInterval: events.HeartbeatOff})
	mux := http.NewServeMux()
	mux.Handle("/events/{room}", ingress.New(ingress.Config{Events: svc, Anonymous: true}))
	return mux
}

// serve answers one request of c and returns the status.
func serve(h http.Handler, c costRequest) int {
	r := httptest.NewRequest(http.MethodPost, "/events/lobby", strings.NewReader(c.body))
	r.Header = c.header
	w := httptest.NewRecorder()
	w.Body = bytes.NewBuffer(nil)
	h.ServeHTTP(w, r)
	return w.Code
}

// allocatedPerRun returns the bytes f allocates per call, on average over
// runs calls (the heap's running total: independent of timing and of the
// garbage collector).
func allocatedPerRun(runs int, f func()) float64 {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	f()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return float64(after.TotalAlloc-before.TotalAlloc) / float64(runs)
}

// costSlack is how much the cost per byte may grow from 1x to 100x: a
// quadratic path makes it 100 times.
const costSlack = 2

// TestInputCostIsLinear fails when the memory a request costs per byte,
// answer included, grows with its size (a count, not a timing: a loaded
// machine cannot make it fail).
func TestInputCostIsLinear(t *testing.T) {
	h := costHandler()
	for _, fam := range requestFamilies {
		t.Run(fam.name, func(t *testing.T) {
			var base float64
			for _, scale := range costScales {
				in := fam.input(scale)
				if status := serve(h, in); status != fam.status {
					t.Fatalf("%dx: status %d, want %d", scale, status, fam.status)
				}
				alloc := allocatedPerRun(3, func() { serve(h, in) }) / float64(in.size())
				t.Logf("%4dx %7d B: %.2f allocated per byte", scale, in.size(), alloc)
				if scale == 1 {
					base = alloc
				} else if alloc > costSlack*base+1 {
					t.Errorf("at %dx, %.2f bytes allocated per byte, %.2f at 1x: not linear", scale, alloc, base)
				}
			}
		})
	}
}

// BenchmarkInputCost serves each family at 1x, 10x and 100x; its ns/B
// metric is the CPU cost per input byte that docs/BENCHMARKS.md records.
func BenchmarkInputCost(b *testing.B) {
	h := costHandler()
	for _, fam := range requestFamilies {
		for _, scale := range costScales {
			in := fam.input(scale)
			b.Run(fmt.Sprintf("%s/%dx", fam.name, scale), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(in.size()))
				for b.Loop() {
					serve(h, in)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(in.size()), "ns/B")
			})
		}
	}
}
