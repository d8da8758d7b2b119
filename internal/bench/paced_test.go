package bench

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestArrivalsAreEvenlySpacedFromTheStart(t *testing.T) {
	got := arrivals(5, 2)
	want := []time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond, 2 * time.Second}
	if !slices.Equal(got, want) {
		t.Fatalf("arrivals(5, 2) = %v, want %v", got, want)
	}
	if len(arrivals(0, 2)) != 0 {
		t.Fatal("no flows, no arrivals")
	}
}

func TestArrivalsDoNotDrift(t *testing.T) {
	// A third of a second does not round to whole nanoseconds: summing rounded gaps would put
	// the 3,000th flow 1 µs early.
	at := arrivals(3001, 3)
	if at[1] != 333333333 || at[3] != time.Second || at[3000] != 1000*time.Second {
		t.Fatalf("flow i must start i/rate after the first: %v %v %v", at[1], at[3], at[3000])
	}
}

func TestPacedFlowsDefaultToTheFirstRoundsBatchAtLeastTwenty(t *testing.T) {
	cases := []struct {
		opts Options
		want int
	}{
		{Options{Flows: 200, Rounds: 2}, 100},
		{Options{Flows: 201, Rounds: 2}, 101},
		{Options{Flows: 40, Rounds: 2}, 20},
		{Options{Flows: 3, Rounds: 2}, 20},
		{Options{Flows: 3, Rounds: 2, PacedFlows: 2}, 2},
		{Options{Flows: 200, Rounds: 2, PacedFlows: 7}, 7},
	}
	for _, tc := range cases {
		if got := pacedFlows(tc.opts); got != tc.want {
			t.Errorf("pacedFlows(%+v) = %d, want %d", tc.opts, got, tc.want)
		}
	}
}

// stuckKind is a flow kind whose acceptances wait until every flow has been created.
type stuckKind struct {
	n       int32
	made    atomic.Int32
	created chan time.Time
	all     chan struct{}
}

func (k *stuckKind) prepare(context.Context, int) error { return nil }

func (k *stuckKind) create(_ context.Context, i int) (flowHandle, error) {
	k.created <- time.Now()
	if k.made.Add(1) == k.n {
		close(k.all)
	}
	return flowHandle{id: fmt.Sprint(i)}, nil
}

func (k *stuckKind) accept(ctx context.Context, _ flowHandle) (time.Time, error) {
	select {
	case <-k.all:
		return time.Now(), nil
	case <-ctx.Done():
		return time.Time{}, ctx.Err()
	}
}

func (k *stuckKind) wait(context.Context, flowHandle) error { return nil }

func TestPacedFlowsStartOnScheduleWhileEarlierOnesAreUnfinished(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	k := &stuckKind{n: 5, created: make(chan time.Time, 5), all: make(chan struct{})}
	start := time.Now()
	r, err := runPaced(ctx, k, "stuck", 40, 0, Options{PacedFraction: 0.5, PacedFlows: 5})
	if err != nil {
		t.Fatalf("a flow waited for an earlier one (a closed loop): %v", err)
	}
	if r.Rate != 20 || r.Fraction != 0.5 || r.Flows != 5 || r.Completed != 5 || r.Failed != 0 ||
		r.Create.N != 5 || r.AcceptToDone.N != 5 {
		t.Fatalf("five flows at half of 40/s must be started and completed: %+v", r)
	}
	close(k.created)
	i := 0
	for at := range k.created {
		// Flow i starts i/20 s after the first; a busy machine may start it late, never early.
		if early := start.Add(time.Duration(i) * 50 * time.Millisecond).Sub(at); early > time.Millisecond {
			t.Errorf("flow %d started %v early", i, early)
		}
		i++
	}
}

func TestAKindWithoutThroughputHasNoPacedPhase(t *testing.T) {
	r, err := runPaced(context.Background(), &stuckKind{}, "stuck", 0, 0, Options{PacedFraction: 0.5})
	if r != nil || err != nil {
		t.Fatalf("no rate to pace at, no phase: %+v %v", r, err)
	}
}
