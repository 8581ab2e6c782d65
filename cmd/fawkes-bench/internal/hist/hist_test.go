package hist

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
)

func TestIndexUpperRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 15, 16, 17, 31, 32, 33, 1000, 123456789, 1 << 40, math.MaxInt64, math.MaxUint64} {
		i := index(v)
		if i >= buckets {
			t.Fatalf("index(%d) = %d, out of %d buckets", v, i, buckets)
		}
		if up := upper(i); up < v {
			t.Errorf("upper(index(%d)) = %d, below the value", v, up)
		}
		if i > 0 && upper(i-1) >= v {
			t.Errorf("value %d also fits the previous bucket (upper %d)", v, upper(i-1))
		}
	}
}

func TestQuantilesWithinRelativeError(t *testing.T) {
	var h Histogram
	vals := make([]int64, 0, 100000)
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		v := int64(r.ExpFloat64() * 2e6) // ~2 ms mean, long tail
		vals = append(vals, v)
		h.Record(v)
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/16)+1 {
			t.Errorf("p%v = %d, exact %d: want within +6.25%%", q*100, got, exact)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] {
		t.Errorf("min/max = %d/%d, want %d/%d", h.Min(), h.Max(), vals[0], vals[len(vals)-1])
	}
	if h.Quantile(1) != h.Max() {
		t.Errorf("p100 = %d, want max %d", h.Quantile(1), h.Max())
	}
}

func TestSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := int64(1); v <= 10; v++ {
		h.Record(v)
	}
	if got := h.Quantile(0.5); got != 5 {
		t.Errorf("p50 of 1..10 = %d, want 5", got)
	}
	if got := h.Quantile(0.9); got != 9 {
		t.Errorf("p90 of 1..10 = %d, want 9", got)
	}
	if h.Mean() != 5.5 {
		t.Errorf("mean = %v, want 5.5", h.Mean())
	}
}

func TestEmpty(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Min() != 0 || h.Max() != 0 || h.Mean() != 0 {
		t.Errorf("empty histogram reports non-zero figures: %+v", h.Summarize())
	}
}

func TestConcurrentRecordAndMerge(t *testing.T) {
	var a, b Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				a.Record(int64(g*10000 + i + 1))
			}
		}()
	}
	wg.Wait()
	b.Record(7)
	b.Record(1 << 50)
	a.Merge(&b)
	if a.Count() != 40002 {
		t.Fatalf("count = %d, want 40002", a.Count())
	}
	if a.Min() != 1 || a.Max() != 1<<50 {
		t.Errorf("min/max = %d/%d, want 1/%d", a.Min(), a.Max(), int64(1)<<50)
	}
	s := a.Summarize()
	if !(s.MinMS <= s.P50MS && s.P50MS <= s.P90MS && s.P90MS <= s.P99MS && s.P99MS <= s.P999MS && s.P999MS <= s.MaxMS) {
		t.Errorf("percentiles out of order: %+v", s)
	}
}
