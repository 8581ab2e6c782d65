package phxtoken

import (
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Input cost (issue 16): verifying a token costs time and memory linear in
// its length. Unauthenticated input goes no further than the MAC (over the
// text, linear); only a token signed with the key has its payload decoded.
// The families below are tokens of about scale × 2.5 KB;
// TestInputCostIsLinear checks that the bytes allocated per token byte do
// not grow from 1x to 100x, and BenchmarkInputCost measures CPU per byte
// (docs/BENCHMARKS.md, "Input cost"). Compressed payloads are left out:
// they inflate up to Config.MaxDecompressedSize by design, and only a
// token signed with the key gets that far.

var costScales = []int{1, 10, 100}

const costBytes = 2500

// tokenFamilies build a token of about n bytes with v.
var tokenFamilies = []struct {
	name  string
	valid bool
	token func(t testing.TB, v *Verifier, n int) string
}{
	// A forged token: the MAC over the text is all that runs.
	{"forged", false, func(t testing.TB, v *Verifier, n int) string {
		return headerHS256 + "." + strings.Repeat("g2gD", n/4) + "." + strings.Repeat("A", 43)
	}},
	// Data that is one long binary (an Elixir string).
	{"binary", true, func(t testing.TB, v *Verifier, n int) string {
		return signCost(t, v, strings.Repeat("x", n*3/4))
	}},
	// A list of integers, one term each (INTEGER_EXT: a list of bytes
	// would be one STRING_EXT).
	{"list", true, func(t testing.TB, v *Verifier, n int) string {
		l := make([]any, n*3/4/5)
		for i := range l {
			l[i] = int64(1000 + i%200)
		}
		return signCost(t, v, l)
	}},
	// A map with many keys, each checked for duplicates.
	{"map", true, func(t testing.TB, v *Verifier, n int) string {
		m := map[string]any{}
		for i := 0; len(m)*14 < n*3/4; i++ {
			m["k"+strconv.Itoa(i)] = int64(i)
		}
		return signCost(t, v, m)
	}},
	// A list of atoms (nil, true and false become Go values).
	{"atoms", true, func(t testing.TB, v *Verifier, n int) string {
		l := make([]any, n*3/4/8)
		for i := range l {
			l[i] = Atom("atom" + strconv.Itoa(i%10))
		}
		return signCost(t, v, l)
	}},
}

func signCost(t testing.TB, v *Verifier, data any) string {
	t.Helper()
	tok, err := v.Sign(data, time.Time{}, Infinity)
	if err != nil {
		t.Fatal(err)
	}
	return tok
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

// TestInputCostIsLinear fails when the memory a token costs per byte grows
// with its length (a count, not a timing: a loaded machine cannot make it
// fail).
func TestInputCostIsLinear(t *testing.T) {
	v := newTestVerifier(t, Config{})
	for _, fam := range tokenFamilies {
		t.Run(fam.name, func(t *testing.T) {
			var base float64
			for _, scale := range costScales {
				tok := fam.token(t, v, scale*costBytes)
				if _, err := v.Verify(tok); (err == nil) != fam.valid {
					t.Fatalf("%dx: Verify: %v", scale, err)
				}
				alloc := allocatedPerRun(5, func() { _, _ = v.Verify(tok) }) / float64(len(tok))
				t.Logf("%4dx %7d B: %.2f allocated per byte", scale, len(tok), alloc)
				if scale == 1 {
					base = alloc
				} else if alloc > costSlack*base+1 {
					t.Errorf("at %dx, %.2f bytes allocated per byte, %.2f at 1x: not linear", scale, alloc, base)
				}
			}
		})
	}
}

// BenchmarkInputCost verifies each family at 1x, 10x and 100x; its ns/B
// metric is the CPU cost per token byte that docs/BENCHMARKS.md records.
func BenchmarkInputCost(b *testing.B) {
	v := newTestVerifier(b, Config{})
	for _, fam := range tokenFamilies {
		for _, scale := range costScales {
			tok := fam.token(b, v, scale*costBytes)
			b.Run(fmt.Sprintf("%s/%dx", fam.name, scale), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(tok)))
				for b.Loop() {
					_, _ = v.Verify(tok)
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(tok)), "ns/B")
			})
		}
	}
}
