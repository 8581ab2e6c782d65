// Package hist is a log-linear latency histogram in the manner of
// HdrHistogram: every power of two is split into 16 linear buckets, so a
// percentile is exact below 16 and within 1/16 (6.25%) above, over the whole
// int64 range, in 7.8 KiB. Recording is lock-free.
package hist

import (
	"math/bits"
	"sync/atomic"
	"time"
)

const (
	subBits = 4
	subs    = 1 << subBits // linear buckets per power of two
	buckets = (64 - subBits + 1) * subs
)

// Histogram counts non-negative values (durations in nanoseconds here).
// Record is safe for concurrent use; read it (Quantile, Snapshot) after the
// recording goroutines are done, or accept a slightly torn view.
type Histogram struct {
	counts [buckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64
	min    atomic.Int64 // stored as value+1 so that zero means "none"
	max    atomic.Int64
}

func index(v uint64) int {
	if v < subs {
		return int(v)
	}
	e := bits.Len64(v) - 1 // v in [2^e, 2^(e+1)), e >= subBits
	sub := (v >> (e - subBits)) & (subs - 1)
	return (e-subBits+1)*subs + int(sub)
}

// upper returns the largest value that falls in bucket i.
func upper(i int) uint64 {
	if i < subs {
		return uint64(i)
	}
	e := i/subs + subBits - 1
	sub := uint64(i % subs)
	width := uint64(1) << (e - subBits)
	return (subs+sub)*width + width - 1
}

// Record adds one value; negative values count as zero.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	h.counts[index(uint64(v))].Add(1)
	h.n.Add(1)
	h.sum.Add(uint64(v))
	for {
		m := h.min.Load()
		if m != 0 && m-1 <= v || h.min.CompareAndSwap(m, v+1) {
			break
		}
	}
	for {
		m := h.max.Load()
		if m >= v || h.max.CompareAndSwap(m, v) {
			break
		}
	}
}

// RecordDuration records d in nanoseconds.
func (h *Histogram) RecordDuration(d time.Duration) { h.Record(int64(d)) }

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Max returns the largest recorded value, or 0.
func (h *Histogram) Max() int64 { return h.max.Load() }

// Min returns the smallest recorded value, or 0.
func (h *Histogram) Min() int64 {
	if m := h.min.Load(); m > 0 {
		return m - 1
	}
	return 0
}

// Mean returns the average recorded value, or 0.
func (h *Histogram) Mean() float64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return float64(h.sum.Load()) / float64(n)
}

// Quantile returns the value below or at which a fraction q (0..1) of the
// recorded values fall: the upper bound of the bucket that holds the
// ceil(q*n)-th value, clamped to [Min, Max]. It returns 0 when empty.
func (h *Histogram) Quantile(q float64) int64 {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(q * float64(n))
	if float64(rank) < q*float64(n) {
		rank++
	}
	rank = max(rank, 1)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			v := int64(min(upper(i), uint64(h.Max())))
			return max(v, h.Min())
		}
	}
	return h.Max()
}

// Merge adds every value of o to h. o must not be recorded to meanwhile.
func (h *Histogram) Merge(o *Histogram) {
	if o.n.Load() == 0 {
		return
	}
	for i := range o.counts {
		if c := o.counts[i].Load(); c > 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	omin, omax := o.Min(), o.Max()
	for {
		m := h.min.Load()
		if m != 0 && m-1 <= omin || h.min.CompareAndSwap(m, omin+1) {
			break
		}
	}
	for {
		m := h.max.Load()
		if m >= omax || h.max.CompareAndSwap(m, omax) {
			break
		}
	}
}

// Summary is a histogram of durations in milliseconds, as the JSON summary
// reports it.
type Summary struct {
	Count  uint64  `json:"count"`
	MinMS  float64 `json:"min_ms"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// Summarize reports h, whose values are nanoseconds, in milliseconds.
func (h *Histogram) Summarize() Summary {
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	return Summary{
		Count:  h.Count(),
		MinMS:  ms(h.Min()),
		MeanMS: h.Mean() / 1e6,
		P50MS:  ms(h.Quantile(0.50)),
		P90MS:  ms(h.Quantile(0.90)),
		P99MS:  ms(h.Quantile(0.99)),
		P999MS: ms(h.Quantile(0.999)),
		MaxMS:  ms(h.Max()),
	}
}
