package bench

import (
	"testing"
	"time"
)

func TestSummarizeUsesNearestRankPercentiles(t *testing.T) {
	var hundred []time.Duration
	for i := 100; i >= 1; i-- { // out of order on purpose
		hundred = append(hundred, time.Duration(i)*time.Millisecond)
	}
	cases := []struct {
		name   string
		sample []time.Duration
		want   Latency
	}{
		{"an empty sample is all zeros", nil, Latency{}},
		{
			"one value is every percentile",
			[]time.Duration{7 * time.Millisecond},
			Latency{N: 1, P50: 7, P95: 7, P99: 7, Max: 7},
		},
		{"1..100 ms gives the p-th value", hundred, Latency{N: 100, P50: 50, P95: 95, P99: 99, Max: 100}},
		{
			"sub-millisecond values keep a tenth",
			[]time.Duration{1500 * time.Microsecond, 2500 * time.Microsecond},
			Latency{N: 2, P50: 1.5, P95: 2.5, P99: 2.5, Max: 2.5},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Summarize(tc.sample); got != tc.want {
				t.Fatalf("Summarize = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPercentileOfTenValues(t *testing.T) {
	s := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for p, want := range map[float64]time.Duration{50: 5, 90: 9, 95: 10, 99: 10, 100: 10, 1: 1} {
		if got := Percentile(s, p); got != want {
			t.Errorf("p%v = %d, want %d", p, got, want)
		}
	}
}

func TestSummarizeLeavesTheSampleAlone(t *testing.T) {
	s := []time.Duration{3 * time.Millisecond, 1 * time.Millisecond, 2 * time.Millisecond}
	Summarize(s)
	if s[0] != 3*time.Millisecond || s[1] != time.Millisecond {
		t.Fatalf("the caller's sample was reordered: %v", s)
	}
}
