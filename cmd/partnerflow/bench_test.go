package main

import (
	"bytes"
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/internal/bench"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// runBenchCommand runs `partnerflow bench` with args and --json, and decodes its report.
func runBenchCommand(t *testing.T, report any, args ...string) {
	t.Helper()
	var out bytes.Buffer
	root := rootCommand()
	root.SetOut(&out)
	testdata := filepath.Join("..", "..", "workflows", "testdata")
	root.SetArgs(append([]string{"bench", "--json", "--testdata", testdata}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("bench %v: %v\n%s", args, err, out.String())
	}
	if err := json.Unmarshal(out.Bytes(), report); err != nil {
		t.Fatalf("the --json report does not decode: %v\n%s", err, out.String())
	}
}

func TestBenchDrivesEveryKindAndItsBaselineToTheEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev stack")
	}
	var r bench.Report
	runBenchCommand(t, &r, "--flows", "3", "--rounds", "2", "--concurrency", "2", "--paced-flows", "2")
	if r.Flows != 3 || r.Rounds != 2 || !r.InProcess || r.PeakRSSMiB <= 0 {
		t.Fatalf("the report must say what ran: %+v", r)
	}
	if r.PollInterval != "2s" {
		t.Fatalf("with resellers taking part the stack must poll often enough for them, got %q", r.PollInterval)
	}
	if r.SimActivationDelay != "0s" {
		t.Fatalf(
			"by default the simulator activates approvals at once (Microsoft's time is not partnerflow's), got %q",
			r.SimActivationDelay,
		)
	}
	if len(r.Shapes) != len(bench.Kinds) || len(r.Kinds) != 2*len(bench.Kinds) {
		t.Fatalf("every kind and its baseline must take part: %d shapes, kinds %+v", len(r.Shapes), r.Kinds)
	}
	kinds := map[string]bench.KindResult{}
	for _, k := range r.Kinds {
		kinds[k.Kind] = k
	}
	for _, name := range bench.Kinds {
		s := r.Shapes[name]
		if s.Count(bench.StepActivity) == 0 || s.Count(bench.StepLocalActivity) == 0 || s.Source == "" {
			t.Fatalf("the %s baseline's shape must come from its recorded history: %+v", name, s)
		}
		flow, base := kinds[name], kinds["baseline:"+name]
		for _, k := range []bench.KindResult{flow, base} {
			if k.Completed != 3 || k.Failed != 0 || len(k.Errors) != 0 {
				t.Fatalf("every flow of %q must complete: %+v", k.Kind, k)
			}
			if k.FlowsPerSecond <= 0 || k.Create.N != 3 || k.AcceptToDone.N != 3 || k.CPUSecondsPerFlow <= 0 ||
				k.PeakRSSMiB <= 0 {
				t.Fatalf("%q lacks figures: %+v", k.Kind, k)
			}
		}
		if flow.Baseline != base.Kind || flow.Ratio <= 0 {
			t.Fatalf("%s must be compared with its baseline: %+v", name, flow)
		}
		p := flow.Paced
		if p == nil || base.Paced != nil {
			t.Fatalf("%s must have a paced phase and its baseline none: %+v, %+v", name, p, base.Paced)
		}
		if p.Fraction != 0.5 || math.Abs(p.Rate-flow.FlowsPerSecond/2) > 0.001 || p.Flows != 2 {
			t.Fatalf(
				"%s's paced phase must offer half its flows/s in the rounds (%.2f): %+v",
				name,
				flow.FlowsPerSecond,
				p,
			)
		}
		if p.Create.N != 2 || p.Completed != 2 || p.Failed != 0 || p.AcceptToDone.N != 2 || p.FlowsPerSecond <= 0 ||
			len(p.Errors) != 0 {
			t.Fatalf("every paced %s must be created, timed and completed: %+v", name, p)
		}
	}
	// Resellers make the stack poll every 2 s, faster than its estate sync: the invitations then
	// poll and watch their access themselves, and the baseline takes that history's shape.
	if s := r.Shapes[bench.KindInvitation]; s.Count(bench.StepSignal) == 0 || s.Count(bench.StepVersion) == 0 ||
		s.Count(bench.StepUpsert) == 0 || len(s.StartAttributes) == 0 ||
		filepath.Base(s.Source) != bench.PollingHistories[bench.KindInvitation] {
		t.Fatalf("the invitation's shape has its signals, versions and search attributes: %+v", s)
	}
	if s := r.Shapes[bench.KindOnboarding]; s.Count(bench.StepUpdate) == 0 {
		t.Fatalf("the customer onboarding's shape has its updates (attestation, checkout): %+v", s)
	}
	if s := r.Shapes[bench.KindRemoval]; s.Counts["child-workflows"] == 0 ||
		!strings.Contains(s.String(), "not reproduced: ") ||
		s.Count(bench.StepSignal)+s.Count(bench.StepUpdate) != 0 {
		t.Fatalf(
			"the removal's shape has no signal or update, and its delivery batch is a child workflow "+
				"the baseline does not reproduce: %s",
			s,
		)
	}
	// Two rounds: each kind then its baseline in the first, the other way round in the second.
	if len(r.Batches) != 4*len(bench.Kinds) {
		t.Fatalf("two batches a kind and round: %+v", r.Batches)
	}
	for i, name := range bench.Kinds {
		first, second := r.Batches[2*i:2*i+2], r.Batches[2*len(bench.Kinds)+2*i:2*len(bench.Kinds)+2*i+2]
		if first[0].Kind != name || first[1].Kind != "baseline:"+name ||
			second[0].Kind != "baseline:"+name || second[1].Kind != name {
			t.Fatalf("%s and its baseline must be interleaved: %+v", name, r.Batches)
		}
	}
}

func TestBenchRunsOneKindAndRefusesUnknownOnes(t *testing.T) {
	root := rootCommand()
	root.SetOut(&bytes.Buffer{})
	root.SetErr(&bytes.Buffer{})
	root.SetArgs([]string{
		"bench",
		"--kinds", "invitation,partnership",
		"--testdata", filepath.Join("..", "..", "workflows", "testdata"),
	})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), `"partnership"`) {
		t.Fatalf("an unknown kind must be refused by name before anything starts, got %v", err)
	}
	if testing.Short() {
		t.Skip("starts the dev stack")
	}
	var r bench.Report
	runBenchCommand(
		t, &r,
		"--kinds", "customer",
		"--flows", "1",
		"--rounds", "1",
		"--concurrency", "1",
		"--paced-fraction", "0",
	)
	if len(r.Kinds) != 2 || r.Kinds[0].Kind != bench.KindOnboarding || r.Kinds[0].Completed != 1 ||
		r.Kinds[1].Completed != 1 {
		t.Fatalf("only customer onboardings and their baseline must run, and complete: %+v", r.Kinds)
	}
	if r.Kinds[0].Paced != nil {
		t.Fatalf("--paced-fraction 0 turns the paced phase off: %+v", r.Kinds[0].Paced)
	}
	if len(r.Shapes) != 1 || r.PollInterval != "15m0s" {
		t.Fatalf(
			"without resellers the stack polls at production's interval and one shape is read: %q %+v",
			r.PollInterval,
			r.Shapes,
		)
	}
}

func TestBenchScaleLeavesInvitationsWaitingAndMeasuresThem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev stack")
	}
	var r bench.ScaleReport
	runBenchCommand(t, &r, "--scale", "3", "--samples", "4", "--settle", "1s", "--idle", "1s")
	if r.Started != 3 || r.Invitations != 3 || r.Database != "sqlite" || len(r.Errors) != 0 {
		t.Fatalf("three invitations must be waiting: %+v", r)
	}
	// In process the bench waits until every invitation sent its mail, not only the last one.
	if r.AllSentSeconds == nil {
		t.Fatalf("the wait for every invitation's mail must be reported: %+v", r)
	}
	if r.ListPending.N != 4 || r.Detail.N != 4 || r.Create.N != 3 {
		t.Fatalf("every sample must be timed: %+v", r)
	}
	if r.RSSMiB <= 0 || r.TemporalDBMiB <= 0 || r.AppDBMiB <= 0 || r.SettleSeconds <= 0 || r.SettleSeconds > 1.5 {
		t.Fatalf("memory and database sizes must be measured: %+v", r)
	}
	if m := r.Memory; m == nil || m.HeapLiveMiB <= 0 || m.StackMiB <= 0 || m.Goroutines <= 0 ||
		m.RuntimeMiB < m.HeapLiveMiB {
		t.Fatalf("where the memory is must be reported: %+v", r.Memory)
	}
	// The stack runs the estate sync often enough that waiting invitations do not poll.
	if !r.NoPolling || r.EstateSyncEvery != "30s" || r.WorkflowCache <= 0 {
		t.Fatalf("the waiting invitations must leave Partner Center to the estate sync: %+v", r)
	}
	q := r.SimRequests
	if q == nil || q.IntervalSeconds < 1 || q.ByRoute == nil {
		t.Fatalf("the simulator's requests must be counted over the idle second: %+v", q)
	}
	var sum int64
	for route, n := range q.ByRoute {
		if sim.AdminRoute(route) || n <= 0 {
			t.Fatalf("only Microsoft's routes that were called count: %v", q.ByRoute)
		}
		sum += n
	}
	if sum != q.Microsoft {
		t.Fatalf("the routes' counts must add up to the total: %d vs %+v", sum, q)
	}
}
