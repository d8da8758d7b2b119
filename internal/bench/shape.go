// Package bench is partnerflow's load generator: it drives flows through the HTTP API and the
// Partner Center simulator's customer actions as a user would, runs bare Temporal workflows of
// the same shape on the same server as the baseline, and summarises throughput, latency, CPU
// and memory. It needs a Temporal client and HTTP addresses, never the Temporal server.
package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// changeVersionAttribute is the search attribute the Go SDK upserts with each new GetVersion.
const changeVersionAttribute = "TemporalChangeVersion"

// StepKind is one kind of command a workflow's history shows.
type StepKind string

// The step kinds the baseline reproduces.
const (
	StepActivity      StepKind = "activity"
	StepLocalActivity StepKind = "local-activity"
	StepTimer         StepKind = "timer"
	StepSignal        StepKind = "signal"
	StepUpdate        StepKind = "update"
	// StepVersion is a workflow.GetVersion seen for the first time: a version marker and the
	// upsert of TemporalChangeVersion the Go SDK makes with it.
	StepVersion StepKind = "version"
	// StepUpsert is an upsert of the flow's own search attributes.
	StepUpsert StepKind = "search-attribute-upsert"
)

// Shape is a flow's commands in the order a recorded history shows them, and the count of what
// the baseline does not reproduce (child workflows).
type Shape struct {
	Source string     `json:"source"`
	Steps  []StepKind `json:"steps"`
	// StartAttributes are the search attributes the flow is started with, by name.
	StartAttributes []string `json:"startAttributes,omitempty"`
	// Counts has every kind of step, and the events not reproduced, by name.
	Counts map[string]int `json:"counts"`
}

// Count is how many steps of kind k the shape has.
func (s Shape) Count(k StepKind) int { return s.Counts[string(k)] }

// String is the shape as the report prints it: "1 signal, 7 activities, ...".
func (s Shape) String() string {
	parts := []string{
		fmt.Sprintf("%d signals", s.Count(StepSignal)),
		fmt.Sprintf("%d updates", s.Count(StepUpdate)),
		fmt.Sprintf("%d activities", s.Count(StepActivity)),
		fmt.Sprintf("%d local activities", s.Count(StepLocalActivity)),
		fmt.Sprintf("%d timers", s.Count(StepTimer)),
		fmt.Sprintf("%d versions", s.Count(StepVersion)),
		fmt.Sprintf("%d search-attribute upserts", s.Count(StepUpsert)),
	}
	var skipped []string
	for _, name := range []string{"child-workflows"} {
		if n := s.Counts[name]; n > 0 {
			skipped = append(skipped, fmt.Sprintf("%d %s", n, name))
		}
	}
	out := strings.Join(parts, ", ")
	if len(skipped) > 0 {
		out += " (not reproduced: " + strings.Join(skipped, ", ") + ")"
	}
	return out
}

// LoadShape reads a recorded history (the JSON the Temporal CLI and UI export, as kept in
// workflows/testdata) and returns its shape.
func LoadShape(path string) (Shape, error) {
	f, err := os.Open(path)
	if err != nil {
		return Shape{}, fmt.Errorf("open the recorded history the baseline's shape comes from: %w", err)
	}
	defer f.Close()
	s, err := ShapeFromHistory(f)
	if err != nil {
		return Shape{}, fmt.Errorf("%s: %w", path, err)
	}
	s.Source = path
	return s, nil
}

// ShapeFromHistory derives a shape from a history in JSON.
func ShapeFromHistory(r io.Reader) (Shape, error) {
	h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
	if err != nil {
		return Shape{}, fmt.Errorf("parse history: %w", err)
	}
	s := Shape{Counts: map[string]int{}}
	add := func(k StepKind) {
		s.Steps = append(s.Steps, k)
		s.Counts[string(k)]++
	}
	for _, ev := range h.GetEvents() {
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
			fields := ev.GetWorkflowExecutionStartedEventAttributes().GetSearchAttributes().GetIndexedFields()
			for name := range fields {
				s.StartAttributes = append(s.StartAttributes, name)
			}
			slices.Sort(s.StartAttributes)
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			add(StepActivity)
		case enumspb.EVENT_TYPE_MARKER_RECORDED:
			switch ev.GetMarkerRecordedEventAttributes().GetMarkerName() {
			case "LocalActivity":
				add(StepLocalActivity)
			case "Version":
				add(StepVersion)
			}
		case enumspb.EVENT_TYPE_TIMER_STARTED:
			add(StepTimer)
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED:
			add(StepSignal)
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
			add(StepUpdate)
		case enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			fields := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
			if _, ok := fields[changeVersionAttribute]; ok && len(fields) == 1 {
				continue // the version step's own upsert
			}
			add(StepUpsert)
		case enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED:
			s.Counts["child-workflows"]++
		}
	}
	if len(s.Steps) == 0 {
		return Shape{}, fmt.Errorf("the history has no activity, timer, signal or update")
	}
	return s, nil
}
