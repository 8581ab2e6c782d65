package protocol_test

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/fawkes-rt/fawkes/protocol"
)

// Input cost (issue 16): decoding a frame costs time and memory linear in
// its size. The families below are adversarial frames of about scale ×
// 2.5 KB; TestInputCostIsLinear checks that the bytes allocated per input
// byte do not grow from 1x to 100x, and BenchmarkInputCost measures CPU per
// byte at the same sizes (docs/BENCHMARKS.md, "Input cost").

var costScales = []int{1, 10, 100}

const costBytes = 2500

// fill returns head, items separated by commas, then tail, with as many
// items as keep it within scale × costBytes.
func fill(scale int, head string, item func(i int) string, tail string) []byte {
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
	return append(b, tail...)
}

// costFamily is an adversarial frame and the serializer that decodes it.
type costFamily struct {
	name   string
	ser    protocol.Serializer
	binary bool
	input  func(scale int) []byte
}

var frameFamilies = []costFamily{
	// Elements after the payload: ignored, but scanned.
	{"v2-extra-elements", protocol.V2JSON, false, func(s int) []byte {
		return fill(s, `["1","2","room:a","e",{},`, func(int) string { return `{"a":[1]}` }, `]`)
	}},
	// A payload with many keys: scanned, never decoded.
	{"v2-payload-keys", protocol.V2JSON, false, func(s int) []byte {
		return fill(s, `["1","2","room:a","e",{`, func(i int) string { return `"k` + strconv.Itoa(i) + `":1` }, `}]`)
	}},
	// A payload nested 900 deep at 100x, under the codecs' limit of 1,000.
	{"v2-payload-nesting", protocol.V2JSON, false, func(s int) []byte {
		d := 9 * s
		return []byte(`["1","2","room:a","e",{"a":` + strings.Repeat("[", d) + strings.Repeat("]", d) + `}]`)
	}},
	// Escapes in the topic, the event and a ref: each is unquoted once.
	{"v2-escapes", protocol.V2JSON, false, func(s int) []byte {
		esc := strings.Repeat(`\u00e9\n\ud83d\ude00`, s*costBytes/3/20)
		return []byte(`["1","` + esc + `","` + esc + `","` + esc + `",{}]`)
	}},
	// Unknown keys around the four a V1 message needs.
	{"v1-unknown-keys", protocol.V1JSON, false, func(s int) []byte {
		return fill(s, `{"topic":"room:a","event":"e","payload":{},"ref":"1",`, func(i int) string { return `"x` + strconv.Itoa(i) + `":0` }, `}`)
	}},
	// The same key again and again: the last wins; each is read.
	{"v1-duplicate-refs", protocol.V1JSON, false, func(s int) []byte {
		return fill(s, `{"topic":"room:a","event":"e","payload":{},`, func(i int) string { return `"ref":"r` + strconv.Itoa(i) + `"` }, `}`)
	}},
	// Escaped keys: each is unquoted to be compared with the four names.
	{"v1-escaped-keys", protocol.V1JSON, false, func(s int) []byte {
		return fill(s, `{"topic":"room:a","event":"e","payload":{},"ref":"1",`, func(i int) string { return `"\u0078` + strconv.Itoa(i) + `":0` }, `}`)
	}},
	// A binary push: the payload is aliased, never copied.
	{"binary-push", protocol.V2JSON, true, func(s int) []byte {
		return append([]byte{0, 1, 1, 6, 1, '1', '2', 'r', 'o', 'o', 'm', ':', 'a', 'e'}, strings.Repeat("x", s*costBytes-14)...)
	}},
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

// TestInputCostIsLinear fails when the memory a frame costs per byte grows
// with its size (a count, not a timing: a loaded machine cannot make it
// fail). It also checks that every family decodes, so that a family that
// only tests the error path is noticed.
func TestInputCostIsLinear(t *testing.T) {
	for _, fam := range frameFamilies {
		t.Run(fam.name, func(t *testing.T) {
			var base float64
			for _, scale := range costScales {
				in := fam.input(scale)
				if _, err := fam.ser.Decode(in, fam.binary); err != nil {
					t.Fatalf("%dx does not decode: %v", scale, err)
				}
				alloc := allocatedPerRun(5, func() { _, _ = fam.ser.Decode(in, fam.binary) }) / float64(len(in))
				t.Logf("%4dx %7d B: %.2f allocated per byte", scale, len(in), alloc)
				if scale == 1 {
					base = alloc
				} else if alloc > costSlack*base+1 {
					t.Errorf("at %dx, %.2f bytes allocated per byte, %.2f at 1x: not linear", scale, alloc, base)
				}
			}
		})
	}
}

// BenchmarkInputCost decodes each family at 1x, 10x and 100x; its ns/B
// metric is the CPU cost per input byte that docs/BENCHMARKS.md records.
func BenchmarkInputCost(b *testing.B) {
	for _, fam := range frameFamilies {
		for _, scale := range costScales {
			in := fam.input(scale)
			b.Run(fmt.Sprintf("%s/%dx", fam.name, scale), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					_, _ = fam.ser.Decode(in, fam.binary)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(in)), "ns/B")
			})
		}
	}
}
