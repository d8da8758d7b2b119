package bench

import (
	"math"
	"slices"
	"time"
)

// Latency summarises a sample of durations by nearest-rank percentiles.
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50Ms"`
	P95 float64 `json:"p95Ms"`
	P99 float64 `json:"p99Ms"`
	Max float64 `json:"maxMs"`
}

// Summarize returns the sample's nearest-rank p50, p95, p99 and maximum in milliseconds; an
// empty sample gives zeros.
func Summarize(sample []time.Duration) Latency {
	if len(sample) == 0 {
		return Latency{}
	}
	s := slices.Clone(sample)
	slices.Sort(s)
	return Latency{
		N:   len(s),
		P50: ms(Percentile(s, 50)),
		P95: ms(Percentile(s, 95)),
		P99: ms(Percentile(s, 99)),
		Max: ms(s[len(s)-1]),
	}
}

// Percentile is the nearest-rank p-th percentile of an ascending, non-empty sample: the
// smallest value at or below which p percent of the sample lies.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Millisecond)*10) / 10
}
