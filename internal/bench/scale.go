package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// ScaleOptions say how many invitations the scale mode leaves waiting and how it measures.
type ScaleOptions struct {
	// Invitations is how many invitations to start and leave waiting.
	Invitations int
	// Concurrency is how many create calls are in flight at once.
	Concurrency int
	// Samples is how many list pages and details are timed (default 200).
	Samples int
	// Settle is how long the flows are left alone after the last one settled, before the list
	// and the details are timed; in process, the wait ends once the process is idle.
	Settle time.Duration
	// Sent counts the invitations created since the given moment that have sent their customer
	// mail (in process, from the app database); with it the bench waits for every flow to get that
	// far, not only the last one started. nil: the last one's detail alone says the flows settled.
	Sent func(ctx context.Context, since time.Time) (int64, error)
	// Sizes reports the bytes of Temporal's database and the app database; nil skips them.
	Sizes func(ctx context.Context) (temporalBytes, appBytes int64, err error)
	// Database names the app database for the report ("sqlite" or "postgres").
	Database string
	// Idle is how long the simulator's requests are counted once the flows settled, with the
	// bench sending nothing (0 skips the count).
	Idle time.Duration
	// EstateSyncEvery is the stack's estate sync pause and NoPolling whether the waiting
	// invitations leave Partner Center to it (in process; for the report).
	EstateSyncEvery time.Duration
	NoPolling       bool
	// WorkflowCache is the worker's workflow cache, in workflows (in process; for the report).
	WorkflowCache int
	InProcess     bool
	Progress      io.Writer
}

// SimRequests are the requests the simulator answered while the flows were left alone.
type SimRequests struct {
	IntervalSeconds float64 `json:"intervalSeconds"`
	// Microsoft is the requests to the routes that stand in for Partner Center, Graph and Entra
	// ID, and ByRoute those by route pattern ("GET /v1/customers"); the simulator's admin API
	// (/sim/*) is left out.
	Microsoft int64            `json:"microsoft"`
	PerMinute float64          `json:"microsoftPerMinute"`
	ByRoute   map[string]int64 `json:"byRoute"`
}

// ScaleReport is what many waiting invitations cost.
type ScaleReport struct {
	Invitations int `json:"invitations"`
	// AllSentSeconds is how long after the last create every invitation had sent its mail (nil
	// when not counted: against a running deployment).
	AllSentSeconds *float64 `json:"allSentSeconds,omitempty"`
	// SettleSeconds is how long the flows were left alone before the timing.
	SettleSeconds float64 `json:"settleSeconds"`
	Started       int     `json:"started"`
	Database      string  `json:"database"`
	// StartSeconds is the wall time of every create call; StartRate the invitations per second.
	StartSeconds float64 `json:"startSeconds"`
	StartRate    float64 `json:"startPerSecond"`
	Create       Latency `json:"createMs"`
	// RSSMiB and PeakRSSMiB are the process's (in-process only).
	RSSMiB     float64 `json:"rssMiB,omitempty"`
	PeakRSSMiB float64 `json:"peakRssMiB,omitempty"`
	// Memory is where the process's memory is, after a collection (in-process only).
	Memory *MemoryBreakdown `json:"memory,omitempty"`
	// Bytes per waiting flow: growth of each database over the run divided by Started.
	TemporalBytesPerFlow int64   `json:"temporalDbBytesPerFlow,omitempty"`
	AppBytesPerFlow      int64   `json:"appDbBytesPerFlow,omitempty"`
	TemporalDBMiB        float64 `json:"temporalDbMiB,omitempty"`
	AppDBMiB             float64 `json:"appDbMiB,omitempty"`
	// ListPending is GET /v1/invitations?status=pending&limit=50 walking the pages; Detail is
	// GET /v1/invitations/{id} of random waiting invitations.
	ListPending Latency  `json:"listPendingMs"`
	Detail      Latency  `json:"detailMs"`
	Errors      []string `json:"errors,omitempty"`
	// EstateSyncEvery and NoPolling say how the waiting invitations were to learn of changes
	// (in process): from the estate sync, without polling on their own, when NoPolling.
	EstateSyncEvery string `json:"estateSyncEvery,omitempty"`
	NoPolling       bool   `json:"noPolling"`
	WorkflowCache   int    `json:"workflowCache,omitempty"`
	// SimRequests counts what reached the simulator over ScaleOptions.Idle once the flows settled.
	SimRequests *SimRequests `json:"simRequests,omitempty"`
}

// RunScale starts opts.Invitations invitations that stay waiting for their customers (the
// customers' tenants are never created, so nobody accepts) and measures what they cost.
func RunScale(ctx context.Context, t Target, opts ScaleOptions) (ScaleReport, error) {
	if opts.Invitations <= 0 || opts.Concurrency <= 0 {
		return ScaleReport{}, errors.New("invitations and concurrency must be positive")
	}
	if opts.Samples <= 0 {
		opts.Samples = 200
	}
	rep := ScaleReport{Invitations: opts.Invitations, Database: opts.Database, NoPolling: opts.NoPolling,
		WorkflowCache: opts.WorkflowCache}
	if opts.EstateSyncEvery > 0 {
		rep.EstateSyncEvery = opts.EstateSyncEvery.String()
	}
	var t0, a0 int64
	if opts.Sizes != nil {
		var err error
		if t0, a0, err = opts.Sizes(ctx); err != nil {
			return rep, err
		}
	}
	d := newHTTPDriver(t, opts.Concurrency)
	runID := newRunID()
	var (
		mu      sync.Mutex
		ids     []string
		creates []time.Duration
		errs    []string
		done    atomic.Int64
		wg      sync.WaitGroup
	)
	stop := progress(opts.Progress, "starting waiting invitations", opts.Invitations, &done)
	jobs := make(chan int)
	start := time.Now()
	for range min(opts.Concurrency, opts.Invitations) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				// The customer's tenant exists, as for a real invitation: partnerflow refuses a domain
				// no tenant holds. Only the invitation's create call is timed.
				domain := fmt.Sprintf("wait-%s-%d.onmicrosoft.com", runID, i)
				var v invitation
				var took time.Duration
				err := d.createTenant(ctx, domain)
				if err == nil {
					c0 := time.Now()
					v, err = d.invite(ctx, domain)
					took = time.Since(c0)
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err.Error())
				} else {
					ids, creates = append(ids, v.ID), append(creates, took)
				}
				mu.Unlock()
				done.Add(1)
			}
		}()
	}
	for i := range opts.Invitations {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	stop()
	rep.Started, rep.Errors = len(ids), firstErrors(errs, 5)
	rep.StartSeconds, rep.StartRate = round2(elapsed.Seconds()), perSecond(len(ids), elapsed)
	rep.Create = Summarize(creates)
	if len(ids) == 0 {
		return rep, fmt.Errorf("no invitation started: %v", rep.Errors)
	}
	// The flows settle (mail sent, GDAP request made, reminders armed) in about the order they
	// started, but only about: when the creates outrun the flows' first steps, the last one
	// started may settle long before tens of thousands of others, so with Sent the bench waits
	// for every one.
	if _, err := d.untilSent(ctx, ids[len(ids)-1]); err != nil {
		return rep, fmt.Errorf("the last invitation never settled: %w", err)
	}
	if opts.Sent != nil {
		if err := untilAllSent(ctx, opts, start, int64(len(ids))); err != nil {
			return rep, err
		}
		secs := round2(time.Since(start.Add(elapsed)).Seconds())
		rep.AllSentSeconds = &secs
	}
	// The figures are of flows that wait: the server may still be writing the last flows'
	// visibility records and the worker finishing their steps.
	rep.SettleSeconds = round2(settle(ctx, opts.Settle, opts.InProcess).Seconds())
	if opts.Idle > 0 {
		r, err := countSimRequests(ctx, d, opts.Idle)
		if err != nil {
			return rep, fmt.Errorf("count the simulator's requests: %w", err)
		}
		rep.SimRequests = &r
	}

	var lists, details []time.Duration
	cursor := ""
	for range opts.Samples {
		var page struct {
			NextCursor string `json:"nextCursor"`
		}
		c0 := time.Now()
		if err := d.api(
			ctx, http.MethodGet, "/v1/invitations?status=pending&limit=50&cursor="+url.QueryEscape(cursor), nil, &page,
		); err != nil {
			return rep, err
		}
		lists = append(lists, time.Since(c0))
		cursor = page.NextCursor
	}
	for range opts.Samples {
		id := ids[rand.IntN(len(ids))]
		c0 := time.Now()
		if err := d.api(ctx, http.MethodGet, "/v1/invitations/"+id, nil, nil); err != nil {
			return rep, err
		}
		details = append(details, time.Since(c0))
	}
	rep.ListPending, rep.Detail = Summarize(lists), Summarize(details)
	if opts.InProcess {
		rep.RSSMiB, rep.PeakRSSMiB = mib(currentRSS()), mib(peakRSS())
		m := memoryBreakdown()
		rep.Memory = &m
	}
	if opts.Sizes != nil {
		t1, a1, err := opts.Sizes(ctx)
		if err != nil {
			return rep, err
		}
		rep.TemporalBytesPerFlow, rep.AppBytesPerFlow = (t1-t0)/int64(len(ids)), (a1-a0)/int64(len(ids))
		rep.TemporalDBMiB, rep.AppDBMiB = mib(t1), mib(a1)
	}
	return rep, nil
}

// countSimRequests counts the requests the simulator answers over idle, the bench sending none
// but its two reads of the count.
func countSimRequests(ctx context.Context, d *httpDriver, idle time.Duration) (SimRequests, error) {
	var before, after sim.RequestCounts
	if err := d.simGet(ctx, "/sim/requests", &before); err != nil {
		return SimRequests{}, err
	}
	c0 := time.Now()
	select {
	case <-ctx.Done():
		return SimRequests{}, ctx.Err()
	case <-time.After(idle):
	}
	if err := d.simGet(ctx, "/sim/requests", &after); err != nil {
		return SimRequests{}, err
	}
	took := time.Since(c0)
	r := SimRequests{IntervalSeconds: round2(took.Seconds()), ByRoute: map[string]int64{}}
	for route, n := range after.ByRoute {
		if n -= before.ByRoute[route]; n > 0 && !sim.AdminRoute(route) {
			r.ByRoute[route] = n
			r.Microsoft += n
		}
	}
	r.PerMinute = round2(float64(r.Microsoft) / took.Minutes())
	return r, nil
}

// idleCPU is the share of one core below which a process counts as idle.
const idleCPU = 0.1

// settle waits at most max, and in process only until a two-second window in which the
// process used less than idleCPU of a core; it returns how long it waited.
func settle(ctx context.Context, max time.Duration, inProcess bool) time.Duration {
	start := time.Now()
	const window = 2 * time.Second
	for time.Since(start) < max && ctx.Err() == nil {
		cpu0 := cpuTime()
		select {
		case <-ctx.Done():
		case <-time.After(min(window, max-time.Since(start))):
		}
		if inProcess && float64(cpuTime()-cpu0) < idleCPU*float64(window) {
			break
		}
	}
	return time.Since(start)
}

// untilAllSent waits until every one of the n invitations created since start has sent its mail,
// with a progress line.
func untilAllSent(ctx context.Context, opts ScaleOptions, start time.Time, n int64) error {
	var sent atomic.Int64
	stop := progress(opts.Progress, "waiting for every first mail", int(n), &sent)
	defer stop()
	for {
		k, err := opts.Sent(ctx, start)
		if err != nil {
			return fmt.Errorf("count the invitations that sent their mail: %w", err)
		}
		sent.Store(k)
		if k >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d invitations sent their mail: %w", k, n, ctx.Err())
		case <-time.After(5 * time.Second):
		}
	}
}
