package events

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Input cost (issue 16): no input may cost more than linear time and memory
// in its size. Each family below builds an adversarial input of about
// scale × 2.5 KB; the test checks that the work counted per input byte does
// not grow from scale 1 to 10 and 100, and the benchmark measures CPU per
// byte at the same sizes (docs/BENCHMARKS.md, "Input cost").

// costScales are the sizes of every family: 1x, 10x and 100x. At 100x the
// events are just under the 256 KiB limit.
var costScales = []int{1, 10, 100}

// costBytes is the size of every family's input at scale 1, but for the
// nesting family (whose depth scales instead). At 100x an input is just
// under the default event limit of 256 KiB.
const costBytes = 2500

// eventHead is a valid event's context attributes, for the families to
// append members to.
const eventHead = `{"specversion":"1.0","id":"1","source":"/s","type":"com.example.a"`

// costFamily is an adversarial input of the events package and the code
// that reads it.
type costFamily struct {
	name  string
	input func(scale int) []byte
	// run processes the input; it returns the work it counted that is not
	// visible as allocation (comparisons), or 0.
	run func(in []byte) int
}

// fill returns head, then item(0), item(1)... separated by commas, then
// tail, with as many items as keep it within scale × costBytes.
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

func repeatMember(scale int, member func(i int) string) []byte {
	return fill(scale, eventHead+",", member, "}")
}

func validateProbes(in []byte) int {
	var v validator
	_, _ = v.validate(in, 0)
	return v.probes
}

var eventFamilies = []costFamily{
	// Distinct extension attributes: the duplicate check of each must not
	// scan the ones before it (1k cost 3 ms of CPU, 20k 529 ms).
	{"extensions", func(s int) []byte {
		return repeatMember(s, func(i int) string { return `"x` + strconv.Itoa(i) + `":1` })
	}, validateProbes},
	// Every extension twice: each duplicate is reported once.
	{"duplicate-extensions", func(s int) []byte {
		return repeatMember(s, func(i int) string { return `"x` + strconv.Itoa(i/2) + `":1` })
	}, validateProbes},
	// Invalid names: one problem each, all listed in the error.
	{"invalid-extensions", func(s int) []byte {
		return repeatMember(s, func(i int) string { return `"X` + strconv.Itoa(i) + `":1` })
	}, validateProbes},
	// One context attribute given again and again.
	{"repeated-attribute", func(s int) []byte {
		return repeatMember(s, func(int) string { return `"subject":"s"` })
	}, validateProbes},
	// data with many keys: checked, never decoded.
	{"data-keys", func(s int) []byte {
		return fill(s, eventHead+`,"data":{`, func(i int) string { return `"k` + strconv.Itoa(i) + `":` + strconv.Itoa(i) }, `}}`)
	}, validateProbes},
	// data nested 9,000 deep at 100x, under the scanner's limit of 10,000.
	{"data-nesting", func(s int) []byte {
		depth := s * 90
		return []byte(eventHead + `,"data":` + strings.Repeat(`[`, depth) + strings.Repeat(`]`, depth) + `}`)
	}, validateProbes},
	// Escapes in names and values: each name and value is unquoted.
	{"escapes", func(s int) []byte {
		return repeatMember(s, func(i int) string {
			return `"\u0078` + strconv.Itoa(i) + `":"\u00e9\n\ud83d\ude00"`
		})
	}, validateProbes},
	// A join payload with many patterns, most repeated (parsed, then
	// deduplicated against at most max patterns) and a presence meta with
	// many keys; twice the size of the other families.
	{"join-payload", func(s int) []byte {
		types := fill(s, "", func(i int) string { return `"com.example.` + strconv.Itoa(i%(DefaultMaxPatterns-1)) + `.*"` }, "")
		meta := fill(s, "", func(i int) string { return `"k` + strconv.Itoa(i) + `":1` }, "")
		return []byte(`{"event_types":[` + string(types) + `],"meta":{` + string(meta) + `}}`)
	}, func(in []byte) int {
		list, _, _ := parseEventTypes(in)
		_, _ = subscribe(nil, list, DefaultMaxPatterns)
		_, _ = presenceMeta(in, time.Unix(0, 0), 1<<30)
		return 0
	}},
	// A pattern "*aaa…ab*" against a type of a's: the matcher that
	// backtracked to the last star compared len(pattern) bytes per byte.
	{"pattern", func(s int) []byte {
		n := s * costBytes * 10 / 11
		return []byte("*" + strings.Repeat("a", n/10) + "b*\n" + strings.Repeat("a", n))
	}, func(in []byte) int {
		pattern, typ, _ := strings.Cut(string(in), "\n")
		_, work := matchPatternWork(pattern, typ)
		return work
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

// TestInputCostIsLinear fails when the work or the memory an input costs
// per byte grows with its size: at 10x and 100x it may be at most
// costSlack times what it is at 1x (a quadratic path makes it 10 and 100
// times). Work is counted, not timed, so that a loaded machine cannot make
// the test fail: comparisons made to find duplicate attributes and to
// match patterns (the two loops that allocate nothing), and bytes
// allocated.
func TestInputCostIsLinear(t *testing.T) {
	for _, fam := range eventFamilies {
		t.Run(fam.name, func(t *testing.T) {
			var base [2]float64 // work and bytes per input byte at 1x
			for _, scale := range costScales {
				in := fam.input(scale)
				work := float64(fam.run(in)) / float64(len(in))
				alloc := allocatedPerRun(5, func() { fam.run(in) }) / float64(len(in))
				t.Logf("%4dx %7d B: %.2f compared and %.2f allocated per byte", scale, len(in), work, alloc)
				if scale == 1 {
					base = [2]float64{work, alloc}
					continue
				}
				if work > costSlack*base[0]+1 {
					t.Errorf("at %dx, %.2f comparisons per byte, %.2f at 1x: not linear", scale, work, base[0])
				}
				if alloc > costSlack*base[1]+1 {
					t.Errorf("at %dx, %.2f bytes allocated per byte, %.2f at 1x: not linear", scale, alloc, base[1])
				}
			}
		})
	}
}

// costSlack is how much the cost per byte may grow from 1x to 100x: map
// and slice growth add a little per doubling, a quadratic path 100 times.
const costSlack = 2

// BenchmarkInputCost measures each family at 1x, 10x and 100x. Its ns/B
// metric is the CPU cost per input byte that docs/BENCHMARKS.md records.
func BenchmarkInputCost(b *testing.B) {
	for _, fam := range eventFamilies {
		for _, scale := range costScales {
			in := fam.input(scale)
			b.Run(fmt.Sprintf("%s/%dx", fam.name, scale), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					fam.run(in)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(in)), "ns/B")
			})
		}
	}
}
