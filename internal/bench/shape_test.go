package bench

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShapeOfTheRecordedInvitation(t *testing.T) {
	s, err := LoadShape(filepath.Join("..", "..", "workflows", "testdata", "invitation_active_spine.json"))
	if err != nil {
		t.Fatal(err)
	}
	// The recorded flow: mail, GDAP request, acceptance checks, activation and one assignment,
	// with its status and steps written by local activities while a reminder timer is armed.
	want := map[StepKind]int{StepActivity: 7, StepLocalActivity: 12, StepSignal: 3, StepTimer: 1, StepUpdate: 0}
	for k, n := range want {
		if got := s.Count(k); got != n {
			t.Errorf("%s: %d, want %d", k, got, n)
		}
	}
	if len(s.Steps) != 28 || s.Steps[0] == StepSignal {
		t.Errorf("steps in history order, the signals after the flow began: %v", s.Steps)
	}
	// Its GetVersion call (a marker and a TemporalChangeVersion upsert) is a version; its
	// FlowStatus upserts are upserts of its own; the GDAP watch it starts is not reproduced.
	if s.Count(StepVersion) != 1 || s.Count(StepUpsert) != 4 {
		t.Errorf("versions %d, own upserts %d, want 1 and 4: %v", s.Count(StepVersion), s.Count(StepUpsert), s.Steps)
	}
	if !strings.Contains(s.String(), "not reproduced: 1 child-workflows") {
		t.Errorf("the printed shape must say what the baseline leaves out: %s", s)
	}
	if want := []string{"CustomerDomain", "FlowStatus", "PartnerId"}; !slices.Equal(s.StartAttributes, want) {
		t.Errorf("the search attributes it starts with: %v, want %v", s.StartAttributes, want)
	}
}

func TestTheInvitationBaselineLeavesNothingOut(t *testing.T) {
	s, err := LoadShape(filepath.Join("..", "..", "workflows", "testdata", Histories[KindInvitation]))
	if err != nil {
		t.Fatal(err)
	}
	// An invitation the estate sync tells and watches: one version (the consolidated changes),
	// FlowStatus set twice, no child workflow.
	if s.Count(StepVersion) != 1 || s.Count(StepUpsert) != 2 || s.Counts["child-workflows"] != 0 {
		t.Errorf("versions %d, own upserts %d, children %d, want 1, 2, 0: %v",
			s.Count(StepVersion), s.Count(StepUpsert), s.Counts["child-workflows"], s.Steps)
	}
	if strings.Contains(s.String(), "not reproduced") {
		t.Errorf("the baseline reproduces every command of this history: %s", s)
	}
}

func TestAHistoryWithoutCommandsHasNoShape(t *testing.T) {
	if _, err := ShapeFromHistory(strings.NewReader(`{"events":[]}`)); err == nil {
		t.Fatal("an empty history must be refused")
	}
	if _, err := ShapeFromHistory(strings.NewReader(`not json`)); err == nil {
		t.Fatal("a file that is no history must be refused")
	}
}
