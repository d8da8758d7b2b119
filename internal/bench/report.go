package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteText prints a run's report for people: the baselines' shapes, one line per kind, one
// per round's batch, and one per kind's paced phase.
func (r Report) WriteText(w io.Writer) {
	fmt.Fprintf(w, "partnerflow bench: %d flows of each kind in %d interleaved rounds, %d at a time",
		r.Flows, r.Rounds, r.Concurrency)
	if r.InProcess {
		fmt.Fprint(w, ", dev in this process")
	}
	if r.PollInterval != "" {
		fmt.Fprintf(w, ", polling Partner Center every %s", r.PollInterval)
	}
	if r.SimActivationDelay != "" {
		fmt.Fprintf(w, ", the simulator activating approvals after %s", r.SimActivationDelay)
	}
	fmt.Fprintln(w)
	kinds := make([]string, 0, len(r.Shapes))
	for k := range r.Shapes {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	for _, k := range kinds {
		s := r.Shapes[k]
		fmt.Fprintf(w, "baseline shape of %s (from %s): %s\n", k, s.Source, s)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "kind\tdone\tflows/s\tratio\tcreate p50/p95/p99 ms\t"+
		"accept→done p50/p95/p99 ms\tCPU s/flow\tpeak RSS MiB\t")
	for _, k := range r.Kinds {
		ratio := "—"
		if k.Baseline != "" {
			ratio = fmt.Sprintf("%.2f", k.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%d/%d\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n",
			k.Kind, k.Completed, k.Flows, k.FlowsPerSecond, ratio,
			triple(k.Create), triple(k.AcceptToDone), orDash(k.CPUSecondsPerFlow, "%.3f"), orDash(k.PeakRSSMiB, "%.0f"))
	}
	_ = tw.Flush()
	fmt.Fprintln(w)
	for _, b := range r.Batches {
		fmt.Fprintf(w, "round %d %-20s %d/%d in %.1fs, %.2f flows/s\n",
			b.Round, b.Kind, b.Completed, b.Flows, b.Seconds, b.FlowsPerSecond)
	}
	for _, k := range r.Kinds {
		if p := k.Paced; p != nil {
			fmt.Fprintf(w, "%s at %g of peak (%.2f/s offered, %s/s done): %d/%d done, "+
				"create p50/p95/p99 %s ms, accept→done p50/p95/p99 %s ms\n",
				k.Kind, p.Fraction, p.Rate, orDash(p.FlowsPerSecond, "%.2f"), p.Completed, p.Flows,
				triple(p.Create), triple(p.AcceptToDone))
		}
	}
	for _, k := range r.Kinds {
		if len(k.Errors) > 0 {
			fmt.Fprintf(w, "%s errors:\n  %s\n", k.Kind, strings.Join(k.Errors, "\n  "))
		}
		if k.Paced != nil && len(k.Paced.Errors) > 0 {
			fmt.Fprintf(w, "%s paced errors:\n  %s\n", k.Kind, strings.Join(k.Paced.Errors, "\n  "))
		}
	}
}

// WriteText prints a scale report for people.
func (r ScaleReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "partnerflow bench --scale: %d of %d invitations waiting (app database %s)\n",
		r.Started, r.Invitations, r.Database)
	fmt.Fprintf(w, "started in %.1fs (%.1f/s), create p50/p95/p99 %s ms\n",
		r.StartSeconds, r.StartRate, triple(r.Create))
	if r.AllSentSeconds != nil {
		fmt.Fprintf(w, "every invitation had sent its mail %.1fs after the last create\n", *r.AllSentSeconds)
	}
	if r.RSSMiB > 0 {
		fmt.Fprintf(w, "RSS %.0f MiB (peak %.0f MiB)\n", r.RSSMiB, r.PeakRSSMiB)
	}
	if m := r.Memory; m != nil {
		fmt.Fprintf(w, "after a collection: heap live %.0f MiB (in use %.0f), stacks %.0f MiB in %d goroutines, "+
			"idle not released %.0f MiB, runtime total %.0f MiB\n",
			m.HeapLiveMiB, m.HeapInUseMiB, m.StackMiB, m.Goroutines, m.IdleMiB, m.RuntimeMiB)
		if m.RSSAnonMiB > 0 {
			fmt.Fprintf(w, "resident: %.0f MiB anonymous, %.0f MiB of files (the binary)\n", m.RSSAnonMiB, m.RSSFileMiB)
		}
	}
	if r.TemporalDBMiB > 0 || r.AppDBMiB > 0 {
		fmt.Fprintf(w, "database bytes per waiting flow: Temporal %d, app %d "+
			"(Temporal %.1f MiB, app %.1f MiB in all)\n",
			r.TemporalBytesPerFlow, r.AppBytesPerFlow, r.TemporalDBMiB, r.AppDBMiB)
	}
	if r.EstateSyncEvery != "" {
		fmt.Fprintf(w, "estate sync every %s; waiting invitations poll Partner Center on their own: %v; "+
			"workflow cache %d\n", r.EstateSyncEvery, !r.NoPolling, r.WorkflowCache)
	}
	if q := r.SimRequests; q != nil {
		fmt.Fprintf(w, "simulator requests over %.0fs left alone: %d to Partner Center, Graph and Entra ID "+
			"(%.1f a minute)\n", q.IntervalSeconds, q.Microsoft, q.PerMinute)
		routes := make([]string, 0, len(q.ByRoute))
		for route := range q.ByRoute {
			routes = append(routes, route)
		}
		slices.Sort(routes)
		for _, route := range routes {
			fmt.Fprintf(w, "  %6d %s\n", q.ByRoute[route], route)
		}
	}
	fmt.Fprintf(w, "after %.0fs left alone: list pending (50 a page) p50/p95/p99 %s ms over %d pages\n",
		r.SettleSeconds, triple(r.ListPending), r.ListPending.N)
	fmt.Fprintf(w, "one invitation's detail  p50/p95/p99 %s ms over %d reads\n", triple(r.Detail), r.Detail.N)
	if len(r.Errors) > 0 {
		fmt.Fprintf(w, "errors:\n  %s\n", strings.Join(r.Errors, "\n  "))
	}
}

func triple(l Latency) string {
	return fmt.Sprintf("%.1f/%.1f/%.1f", l.P50, l.P95, l.P99)
}

func orDash(f float64, format string) string {
	if f == 0 {
		return "—"
	}
	return fmt.Sprintf(format, f)
}
