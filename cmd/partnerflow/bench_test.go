package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/partnerflow/partnerflow/internal/bench"
)

// runBenchCommand runs `partnerflow bench` with args and --json, and decodes its report.
func runBenchCommand(t *testing.T, report any, args ...string) {
	t.Helper()
	var out bytes.Buffer
	root := rootCommand()
	root.SetOut(&out)
	history := filepath.Join("..", "..", "workflows", "testdata", "invitation_active_spine.json")
	root.SetArgs(append([]string{"bench", "--json", "--history", history}, args...))
	if err := root.Execute(); err != nil {
		t.Fatalf("bench %v: %v\n%s", args, err, out.String())
	}
	if err := json.Unmarshal(out.Bytes(), report); err != nil {
		t.Fatalf("the --json report does not decode: %v\n%s", err, out.String())
	}
}

func TestBenchDrivesInvitationsAndTheirBaselineToTheEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev stack")
	}
	var r bench.Report
	runBenchCommand(t, &r, "--flows", "3", "--rounds", "2", "--concurrency", "2")
	if r.Flows != 3 || r.Rounds != 2 || !r.InProcess || r.PeakRSSMiB <= 0 {
		t.Fatalf("the report must say what ran: %+v", r)
	}
	if s := r.Shapes[bench.KindInvitation]; s.Count(bench.StepActivity) == 0 || s.Count(bench.StepSignal) == 0 || s.Count(bench.StepLocalActivity) == 0 {
		t.Fatalf("the invitation's baseline shape must come from its recorded history: %+v", s)
	}
	kinds := map[string]bench.KindResult{}
	for _, k := range r.Kinds {
		kinds[k.Kind] = k
	}
	inv, base := kinds[bench.KindInvitation], kinds["baseline:"+bench.KindInvitation]
	for _, k := range []bench.KindResult{inv, base} {
		if k.Completed != 3 || k.Failed != 0 || len(k.Errors) != 0 {
			t.Fatalf("every flow of %q must complete: %+v", k.Kind, k)
		}
		if k.FlowsPerSecond <= 0 || k.Create.N != 3 || k.AcceptToDone.N != 3 || k.CPUSecondsPerFlow <= 0 || k.PeakRSSMiB <= 0 {
			t.Fatalf("%q lacks figures: %+v", k.Kind, k)
		}
	}
	if inv.Baseline != base.Kind || inv.Ratio <= 0 {
		t.Fatalf("the invitation must be compared with its baseline: %+v", inv)
	}
	if len(r.Batches) != 4 || r.Batches[0].Kind != bench.KindInvitation || r.Batches[2].Kind != base.Kind {
		t.Fatalf("two rounds, the second starting with the baseline: %+v", r.Batches)
	}
}

func TestBenchScaleLeavesInvitationsWaitingAndMeasuresThem(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the dev stack")
	}
	var r bench.ScaleReport
	runBenchCommand(t, &r, "--scale", "3", "--samples", "4")
	if r.Started != 3 || r.Invitations != 3 || r.Database != "sqlite" || len(r.Errors) != 0 {
		t.Fatalf("three invitations must be waiting: %+v", r)
	}
	if r.ListPending.N != 4 || r.Detail.N != 4 || r.Create.N != 3 {
		t.Fatalf("every sample must be timed: %+v", r)
	}
	if r.RSSMiB <= 0 || r.TemporalDBMiB <= 0 || r.AppDBMiB <= 0 {
		t.Fatalf("memory and database sizes must be measured: %+v", r)
	}
}
