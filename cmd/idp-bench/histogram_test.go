package main

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketsCoverEveryValueOnce(t *testing.T) {
	prevHi := uint64(0)
	for i := 0; i < numBuckets; i++ {
		lo, hi := bucketBounds(i)
		if i > 0 && lo != prevHi+1 {
			t.Fatalf("bucket %d starts at %d, want %d (gap or overlap)", i, lo, prevHi+1)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d [%d,%d]: bucketOf gives %d and %d", i, lo, hi, bucketOf(lo), bucketOf(hi))
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/64+1e-9 {
			t.Fatalf("bucket %d [%d,%d] is wider than 1/64 of its values", i, lo, hi)
		}
		prevHi = hi
		if hi >= maxValue {
			break
		}
	}
}

func TestQuantilesOfAUniformRange(t *testing.T) {
	var h histogram
	for v := 1; v <= 10000; v++ { // 1..10000 microseconds
		h.record(time.Duration(v) * time.Microsecond)
	}
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 5000 * time.Microsecond}, {0.9, 9000 * time.Microsecond}, {0.99, 9900 * time.Microsecond}, {1, 10000 * time.Microsecond}} {
		got := h.quantile(c.q)
		if got < c.want || float64(got) > float64(c.want)*(1+1.0/64) {
			t.Errorf("p%v = %v, want %v (at most 1/64 above)", c.q*100, got, c.want)
		}
	}
	if h.quantile(1) != 10*time.Millisecond || h.min != uint64(time.Microsecond) {
		t.Errorf("max %v min %v", h.quantile(1), time.Duration(h.min))
	}
	if m := h.mean(); m < 5000*time.Microsecond || m > 5001*time.Microsecond {
		t.Errorf("mean %v", m)
	}
}

func TestQuantilesAgreeWithSortingWithinOneBucket(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var a, b, all histogram
	var samples []time.Duration
	for i := 0; i < 50000; i++ {
		// log-normal-ish: most around 1 ms, a tail to seconds
		d := time.Duration(float64(time.Millisecond) * (0.2 + r.ExpFloat64()*r.ExpFloat64()*3))
		samples = append(samples, d)
		if i%2 == 0 {
			a.record(d)
		} else {
			b.record(d)
		}
	}
	all.merge(&a)
	all.merge(&b)
	slices.Sort(samples)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := samples[int(q*float64(len(samples)))-1]
		got := all.quantile(q)
		if got < exact || float64(got) > float64(exact)*(1+1.0/64)+1 {
			t.Errorf("q%v: histogram %v, exact %v", q, got, exact)
		}
	}
	if all.n != 50000 || time.Duration(all.max) != samples[len(samples)-1] || time.Duration(all.min) != samples[0] {
		t.Errorf("merge lost samples: n %d max %v min %v", all.n, time.Duration(all.max), time.Duration(all.min))
	}
}

func TestEmptyAndSingleSample(t *testing.T) {
	var h histogram
	if h.quantile(0.99) != 0 || h.mean() != 0 {
		t.Fatal("empty histogram must report zeros")
	}
	h.record(1234567 * time.Nanosecond)
	for _, q := range []float64{0, 0.5, 1} {
		if got := h.quantile(q); got != 1234567 {
			t.Errorf("one sample: q%v = %v", q, got)
		}
	}
	h.record(-5) // a clock step backwards counts as zero, not a panic
	if h.min != 0 || h.n != 2 {
		t.Errorf("min %d n %d", h.min, h.n)
	}
}

func TestRecordDoesNotAllocate(t *testing.T) {
	var h histogram
	if n := testing.AllocsPerRun(1000, func() { h.record(3 * time.Millisecond) }); n != 0 {
		t.Fatalf("record allocates %v times", n)
	}
}
