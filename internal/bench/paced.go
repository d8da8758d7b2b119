package bench

import (
	"context"
	"fmt"
	"time"
)

// DefaultPacedFraction is the share of a kind's peak throughput its paced phase offers.
const DefaultPacedFraction = 0.5

// minPacedFlows is the fewest flows a paced phase starts when Options.PacedFlows is unset.
const minPacedFlows = 20

// PacedResult is one kind's paced phase: flows started at a fixed rate, a fraction of the
// kind's throughput in the rounds (its peak: the rounds keep every client busy), whether or not
// the earlier ones are done, each then accepted and waited for as in the rounds. Its create
// latency is the create call's under that steady load, not under full load.
type PacedResult struct {
	// Fraction is the share of the kind's FlowsPerSecond offered.
	Fraction float64 `json:"fraction"`
	// Rate is the flows started per second (offered): Fraction times the kind's FlowsPerSecond.
	Rate      float64 `json:"offeredFlowsPerSecond"`
	Flows     int     `json:"flows"`
	Completed int     `json:"completed"`
	Failed    int     `json:"failed"`
	// FlowsPerSecond is the flows completed per second from the first completion to the last,
	// measured as the offered rate is (completions less one over that span): Rate when
	// partnerflow keeps up, less when flows pile up. 0 with fewer than two completions.
	FlowsPerSecond float64  `json:"achievedFlowsPerSecond"`
	Create         Latency  `json:"createMs"`
	AcceptToDone   Latency  `json:"acceptToDoneMs"`
	Errors         []string `json:"errors,omitempty"`
}

// pacedFlows is how many flows a kind's paced phase starts: opts.PacedFlows, or else as many
// as the first round's batch, at least minPacedFlows.
func pacedFlows(opts Options) int {
	if opts.PacedFlows > 0 {
		return opts.PacedFlows
	}
	return max((opts.Flows+opts.Rounds-1)/opts.Rounds, minPacedFlows)
}

// arrivals are the offsets from a paced phase's start at which its n flows start, rate a
// second: evenly spaced, the first at once. Each is i/rate from the start, not the sum of
// rounded gaps, so the schedule does not drift.
func arrivals(n int, rate float64) []time.Duration {
	at := make([]time.Duration, n)
	for i := range at {
		at[i] = time.Duration(float64(i) * float64(time.Second) / rate)
	}
	return at
}

// runPaced runs one kind's paced phase: pacedFlows(opts) flows, numbered from first, started
// at opts.PacedFraction of peak flows a second on the arrivals schedule (an open loop: a start
// never waits for an earlier flow), each created, accepted and waited for as runBatch does.
// A kind with no throughput in the rounds has no rate to pace at, and no paced phase (nil).
func runPaced(
	ctx context.Context, k flowKind, name string, peak float64, first int, opts Options,
) (*PacedResult, error) {
	rate := opts.PacedFraction * peak
	if rate <= 0 {
		return nil, nil
	}
	n := pacedFlows(opts)
	if err := k.prepare(ctx, first+n); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	var rec recorder
	stopProgress := progress(opts.Progress, fmt.Sprintf("paced %s %.2f/s", name, rate), n, &rec.done)
	start := time.Now()
	for i, at := range arrivals(n, rate) {
		if wait := time.Until(start.Add(at)); wait > 0 {
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
		}
		if ctx.Err() != nil {
			break
		}
		rec.flows.Add(1)
		go func() {
			defer rec.flows.Done()
			rec.drive(ctx, k, first+i)
		}()
	}
	rec.flows.Wait()
	stopProgress()
	r := &PacedResult{
		Fraction: opts.PacedFraction, Rate: round3(rate), Flows: n,
		Completed: rec.b.completed, Failed: rec.b.failed,
		Create: Summarize(rec.b.creates), AcceptToDone: Summarize(rec.b.accepts),
		Errors: firstErrors(rec.b.errs, 5),
	}
	if rec.b.completed > 1 {
		r.FlowsPerSecond = perSecond(rec.b.completed-1, rec.lastDone.Sub(rec.firstDone))
	}
	return r, ctx.Err()
}
