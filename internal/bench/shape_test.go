package bench

import (
	"path/filepath"
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
	if len(s.Steps) != 23 || s.Steps[0] == StepSignal {
		t.Errorf("steps in history order, the signals after the flow began: %v", s.Steps)
	}
	if !strings.Contains(s.String(), "not reproduced: 5 search-attribute-upserts") {
		t.Errorf("the printed shape must say what the baseline leaves out: %s", s)
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
