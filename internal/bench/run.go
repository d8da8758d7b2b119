package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/client"
)

// Flow kinds a run measures. Each partnerflow kind has a baseline kind of the same shape.
const (
	KindInvitation = "invitation"
	KindReseller   = "reseller"
	KindOnboarding = "customer"
	KindRemoval    = "removal"
	baselineOf     = "baseline:"
)

// Kinds are the flow kinds the bench can drive, in the order a run takes them.
var Kinds = []string{KindInvitation, KindReseller, KindOnboarding, KindRemoval}

// Histories are the recorded histories in workflows/testdata each kind's baseline shape is
// read from. The invitation's is one that leaves Partner Center and the watch of its access to
// the estate sync, as the in-process stack's invitations do (its sync runs more often than they
// would poll).
var Histories = map[string]string{
	KindInvitation: "invitation_told_by_sync_consolidated.json",
	KindReseller:   "reseller_active_spine.json",
	KindOnboarding: "customer_completed_spine.json",
	KindRemoval:    "removal_completed_spine.json",
}

// PollingHistories replace Histories for the kinds whose flows poll Partner Center and watch
// their own access when no estate sync runs at least as often as they would poll.
var PollingHistories = map[string]string{
	KindInvitation: "invitation_active_consolidated.json",
}

// Options say how much load a run makes.
type Options struct {
	// Flows is how many flows of each kind the run drives, split over the rounds.
	Flows int
	// Rounds interleaves the kinds: odd rounds run the baseline first.
	Rounds int
	// Concurrency is how many flows are being created and accepted at once.
	Concurrency int
	// PacedFraction is the share of each partnerflow kind's throughput in the rounds its paced
	// phase offers after them (runPaced); 0 skips the phase.
	PacedFraction float64
	// PacedFlows is how many flows each paced phase starts (0: the first round's batch, at
	// least 20).
	PacedFlows int
	// Kinds are the flow kinds to drive (Kinds when empty); each runs with its baseline.
	Kinds []string
	// Shapes are the baselines' shapes by partnerflow kind (LoadShape), one per kind driven.
	Shapes map[string]Shape
	// Temporal reaches the Temporal server the deployment runs on; the baseline's worker must
	// be polling BaselineTaskQueue through it.
	Temporal client.Client
	// InProcess says the deployment runs in this process, so its CPU time and RSS are this
	// process's (the bench's own client work included).
	InProcess bool
	// Progress, if set, gets a progress line that rewrites itself (a terminal).
	Progress io.Writer
}

// Report is a run's result.
type Report struct {
	Flows       int              `json:"flowsPerKind"`
	Rounds      int              `json:"rounds"`
	Concurrency int              `json:"concurrency"`
	InProcess   bool             `json:"inProcess"`
	Shapes      map[string]Shape `json:"shapes"`
	Kinds       []KindResult     `json:"kinds"`
	Batches     []BatchResult    `json:"batches"`
	PeakRSSMiB  float64          `json:"peakRssMiB,omitempty"`
	// PollInterval is how often the in-process flows poll Partner Center (set by the caller).
	PollInterval string `json:"pollInterval,omitempty"`
	// SimActivationDelay is how long the in-process simulator takes to activate what a customer
	// approved (set by the caller): Microsoft's time, not partnerflow's.
	SimActivationDelay string `json:"simActivationDelay,omitempty"`
}

// KindResult is one flow kind's figures over every round.
type KindResult struct {
	Kind      string `json:"kind"`
	Baseline  string `json:"baseline,omitempty"`
	Flows     int    `json:"flows"`
	Completed int    `json:"completed"`
	Failed    int    `json:"failed"`
	// FlowsPerSecond is completed flows over the batches' wall time (first create to last done).
	FlowsPerSecond float64 `json:"flowsPerSecond"`
	// Ratio is FlowsPerSecond over the baseline's (partnerflow kinds only).
	Ratio        float64 `json:"ratioToBaseline,omitempty"`
	Create       Latency `json:"createMs"`
	AcceptToDone Latency `json:"acceptToDoneMs"`
	// CPUSecondsPerFlow is the process's CPU time over the kind's batches per flow (in-process).
	CPUSecondsPerFlow float64 `json:"cpuSecondsPerFlow,omitempty"`
	// PeakRSSMiB is the process's peak RSS at the end of the kind's last batch (in-process).
	PeakRSSMiB float64  `json:"peakRssMiB,omitempty"`
	Errors     []string `json:"errors,omitempty"`
	// Paced is the kind's paced phase (partnerflow kinds, when the run has one).
	Paced *PacedResult `json:"paced,omitempty"`
}

// BatchResult is one kind's batch in one round.
type BatchResult struct {
	Round          int     `json:"round"`
	Kind           string  `json:"kind"`
	Flows          int     `json:"flows"`
	Completed      int     `json:"completed"`
	Seconds        float64 `json:"seconds"`
	FlowsPerSecond float64 `json:"flowsPerSecond"`
}

// flowKind drives one kind of flow.
type flowKind interface {
	// prepare makes what n flows need before the clock starts (the customers' tenants).
	prepare(ctx context.Context, n int) error
	// create makes flow i the way a user does; its duration is the create call's latency.
	create(ctx context.Context, i int) (flowHandle, error)
	// accept acts as the counterpart; it returns when the acceptance was made, and the time
	// the acceptance began (after waiting for what the counterpart needs).
	accept(ctx context.Context, h flowHandle) (time.Time, error)
	// wait returns once the flow is done.
	wait(ctx context.Context, h flowHandle) error
}

type flowHandle struct {
	id, workflowID, domain string
	run                    client.WorkflowRun
}

type batchStats struct {
	completed, failed int
	wall, cpu         time.Duration
	creates, accepts  []time.Duration
	errs              []string
}

// Run drives opts.Flows flows of each kind and of its baseline, interleaved over the rounds.
func Run(ctx context.Context, t Target, opts Options) (Report, error) {
	if opts.Flows <= 0 || opts.Rounds <= 0 || opts.Concurrency <= 0 {
		return Report{}, errors.New("flows, rounds and concurrency must be positive")
	}
	if opts.PacedFraction < 0 || opts.PacedFlows < 0 {
		return Report{}, errors.New("the paced fraction and flows must not be negative")
	}
	names := opts.Kinds
	if len(names) == 0 {
		names = Kinds
	}
	driver := newHTTPDriver(t, opts.Concurrency)
	runID := newRunID()
	type namedKind struct {
		name string
		kind flowKind
	}
	// pairs holds each partnerflow kind and its baseline, in that order.
	var pairs [][2]namedKind
	for _, name := range names {
		shape, ok := opts.Shapes[name]
		if !ok {
			return Report{}, fmt.Errorf("no shape for the %s baseline", name)
		}
		var k flowKind
		switch name {
		case KindInvitation:
			k = &invitationKind{driver: driver, t: t, temporal: opts.Temporal, runID: runID}
		case KindReseller:
			k = newResellerKind(driver, t, opts.Temporal, runID)
		case KindOnboarding:
			k = &customerKind{driver: driver, temporal: opts.Temporal, runID: runID}
		case KindRemoval:
			k = newRemovalKind(driver, t, opts.Temporal, runID)
		default:
			return Report{}, fmt.Errorf("unknown flow kind %q (known: %v)", name, Kinds)
		}
		pairs = append(pairs, [2]namedKind{
			{name, k},
			{baselineOf + name, &baselineKind{temporal: opts.Temporal, shape: shape, runID: runID + "-" + name}},
		})
	}
	var kinds []namedKind
	for _, p := range pairs {
		kinds = append(kinds, p[0], p[1])
	}
	rep := Report{
		Flows:       opts.Flows,
		Rounds:      opts.Rounds,
		Concurrency: opts.Concurrency,
		InProcess:   opts.InProcess,
		Shapes:      opts.Shapes,
	}
	totals, peaks := map[string]*batchStats{}, map[string]int64{}
	for _, k := range kinds {
		totals[k.name] = &batchStats{}
	}
	for r := range opts.Rounds {
		n := opts.Flows / opts.Rounds
		if r < opts.Flows%opts.Rounds {
			n++
		}
		var order []namedKind
		for _, p := range pairs {
			if r%2 == 1 {
				order = append(order, p[1], p[0])
			} else {
				order = append(order, p[0], p[1])
			}
		}
		for _, k := range order {
			b, err := runBatch(ctx, k.kind, fmt.Sprintf("round %d %s", r+1, k.name), r*opts.Flows, n, opts)
			if err != nil {
				return rep, fmt.Errorf("%s, round %d: %w", k.name, r+1, err)
			}
			tot := totals[k.name]
			tot.completed += b.completed
			tot.failed += b.failed
			tot.wall += b.wall
			tot.cpu += b.cpu
			tot.creates = append(tot.creates, b.creates...)
			tot.accepts = append(tot.accepts, b.accepts...)
			tot.errs = append(tot.errs, b.errs...)
			rep.Batches = append(rep.Batches, BatchResult{
				Round: r + 1, Kind: k.name, Flows: n, Completed: b.completed,
				Seconds: round2(b.wall.Seconds()), FlowsPerSecond: perSecond(b.completed, b.wall),
			})
			if opts.InProcess {
				peaks[k.name] = peakRSS()
			}
		}
	}
	for _, k := range kinds {
		tot := totals[k.name]
		kr := KindResult{
			Kind: k.name, Flows: opts.Flows, Completed: tot.completed, Failed: tot.failed,
			FlowsPerSecond: perSecond(tot.completed, tot.wall),
			Create:         Summarize(tot.creates), AcceptToDone: Summarize(tot.accepts),
			Errors: firstErrors(tot.errs, 5),
		}
		if opts.InProcess && tot.completed > 0 {
			kr.CPUSecondsPerFlow = round3(tot.cpu.Seconds() / float64(opts.Flows))
			kr.PeakRSSMiB = mib(peaks[k.name])
		}
		rep.Kinds = append(rep.Kinds, kr)
	}
	for i := range rep.Kinds {
		k := &rep.Kinds[i]
		for _, b := range rep.Kinds {
			if b.Kind == baselineOf+k.Kind {
				k.Baseline = b.Kind
				if b.FlowsPerSecond > 0 {
					k.Ratio = round3(k.FlowsPerSecond / b.FlowsPerSecond)
				}
			}
		}
	}
	if opts.PacedFraction > 0 {
		// Numbered after the last round's flows (a round's batch starts at round×Flows), so what
		// their prepare made is not made again.
		first := (opts.Rounds-1)*opts.Flows + opts.Flows/opts.Rounds
		for _, p := range pairs {
			kr := &rep.Kinds[slices.IndexFunc(rep.Kinds, func(k KindResult) bool { return k.Kind == p[0].name })]
			paced, err := runPaced(ctx, p[0].kind, p[0].name, kr.FlowsPerSecond, first, opts)
			if err != nil {
				return rep, fmt.Errorf("%s, paced: %w", p[0].name, err)
			}
			kr.Paced = paced
		}
	}
	if opts.InProcess {
		rep.PeakRSSMiB = mib(peakRSS())
	}
	return rep, nil
}

// runBatch drives n flows of one kind, numbered from first, opts.Concurrency at a time.
func runBatch(ctx context.Context, k flowKind, label string, first, n int, opts Options) (batchStats, error) {
	if err := k.prepare(ctx, first+n); err != nil {
		return batchStats{}, fmt.Errorf("prepare: %w", err)
	}
	var (
		rec     recorder
		workers sync.WaitGroup
	)
	stopProgress := progress(opts.Progress, label, n, &rec.done)
	jobs := make(chan int)
	cpu0, start := cpuTime(), time.Now()
	for range min(opts.Concurrency, n) {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := range jobs {
				rec.drive(ctx, k, i)
			}
		}()
	}
	for i := range n {
		jobs <- first + i
	}
	close(jobs)
	workers.Wait()
	rec.flows.Wait()
	rec.b.wall, rec.b.cpu = time.Since(start), cpuTime()-cpu0
	stopProgress()
	return rec.b, ctx.Err()
}

// recorder collects the outcomes of a batch's flows from the goroutines driving them.
type recorder struct {
	mu sync.Mutex
	b  batchStats
	// firstDone and lastDone are when the first and the last flow completed.
	firstDone, lastDone time.Time
	// done counts the flows completed or failed (the progress line's).
	done atomic.Int64
	// flows counts the goroutines still driving a flow or waiting for its end.
	flows sync.WaitGroup
}

// drive creates flow i and accepts it, recording the create call's latency, then waits for its
// end in a goroutine of its own (counted in r.flows) and records acceptance-to-done.
func (r *recorder) drive(ctx context.Context, k flowKind, i int) {
	t0 := time.Now()
	h, err := k.create(ctx, i)
	if err != nil {
		r.fail(fmt.Errorf("create: %w", err))
		return
	}
	took := time.Since(t0)
	r.mu.Lock()
	r.b.creates = append(r.b.creates, took)
	r.mu.Unlock()
	accepted, err := k.accept(ctx, h)
	if err != nil {
		r.fail(fmt.Errorf("accept %s: %w", h.id, err))
		return
	}
	r.flows.Add(1)
	go func() {
		defer r.flows.Done()
		if err := k.wait(ctx, h); err != nil {
			r.fail(fmt.Errorf("wait %s: %w", h.id, err))
			return
		}
		now := time.Now()
		r.mu.Lock()
		r.b.completed++
		r.b.accepts = append(r.b.accepts, now.Sub(accepted))
		if r.firstDone.IsZero() {
			r.firstDone = now
		}
		r.lastDone = now
		r.mu.Unlock()
		r.done.Add(1)
	}()
}

// fail records a flow that failed.
func (r *recorder) fail(err error) {
	r.mu.Lock()
	r.b.failed++
	r.b.errs = append(r.b.errs, err.Error())
	r.mu.Unlock()
	r.done.Add(1)
}

// progress rewrites one line on w every quarter second until stopped.
func progress(w io.Writer, label string, n int, done *atomic.Int64) (stop func()) {
	if w == nil {
		return func() {}
	}
	quit, finished := make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			d := int(done.Load())
			bar := make([]byte, 30)
			for i := range bar {
				bar[i] = '.'
				if i < d*len(bar)/max(n, 1) {
					bar[i] = '#'
				}
			}
			fmt.Fprintf(w, "\r%-34s [%s] %d/%d %5.1fs", label, bar, d, n, time.Since(start).Seconds())
			select {
			case <-quit:
				fmt.Fprintln(w)
				return
			case <-tick.C:
			}
		}
	}()
	return func() {
		close(quit)
		<-finished
	}
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return round2(float64(n) / d.Seconds())
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }
func round3(f float64) float64 { return math.Round(f*1000) / 1000 }

func firstErrors(errs []string, n int) []string {
	if len(errs) > n {
		return append(errs[:n:n], fmt.Sprintf("... and %d more", len(errs)-n))
	}
	return errs
}

func newRunID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
