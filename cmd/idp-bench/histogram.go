package main

import (
	"math"
	"math/bits"
	"time"
)

// histogram records latencies in nanoseconds in log-linear buckets, the
// layout of HdrHistogram with 7 significant bits: values below 128 ns get a
// bucket each, and every power of two above is split into 64 equal
// buckets, so a bucket is at most 1/64 (1.6%) of its values wide. Recording
// is an index computation and an increment: no allocation, no lock (each
// worker owns one; they are merged at the end). About 2,300 buckets cover
// 1 ns to 2^40 ns (18 minutes).
type histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    uint64 // ns; overflows only after 584 years of recorded time
	min    uint64
	max    uint64
}

const (
	subBits    = 7
	subCount   = 1 << subBits // 128 linear buckets below 128 ns
	halfCount  = subCount / 2 // buckets per power of two above
	maxExp     = 40 - subBits + 1
	numBuckets = subCount + maxExp*halfCount
	maxValue   = uint64(1)<<40 - 1
)

// bucketOf is the index of v's bucket.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	if v > maxValue {
		v = maxValue
	}
	e := bits.Len64(v) - subBits // >= 1: v>>e is in [64, 128)
	return subCount + (e-1)*halfCount + int(v>>uint(e)) - halfCount
}

// bucketBounds returns the lowest and highest value that fall in bucket i.
func bucketBounds(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	e := (i-subCount)/halfCount + 1
	m := uint64((i-subCount)%halfCount + halfCount)
	return m << uint(e), (m+1)<<uint(e) - 1
}

func (h *histogram) record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// quantile returns the value at quantile q (0..1): the highest value of
// the bucket holding the ceil(q*n)-th smallest sample, clamped to the
// exact min and max, so the error is at most one bucket (1.6%) upward.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank < 1 {
		rank = 1
	}
	if rank > h.n {
		rank = h.n
	}
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bucketBounds(i)
			hi = min(max(hi, h.min), h.max)
			return time.Duration(hi)
		}
	}
	return time.Duration(h.max)
}

func (h *histogram) mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}
