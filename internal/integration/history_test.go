package integration

import (
	"context"
	"flag"
	"os"
	"path/filepath"

	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

var updateHistories = flag.Bool(
	"update-histories", false, "write the finished workflows' histories to workflows/testdata for the replay tests",
)

// historyGeneration names the code that recorded a history; fixtures of earlier generations are
// kept, so the replay test holds every change to the histories of workflows already running.
// Raise it when a change to the workflows alters their commands (with workflow.GetVersion).
const historyGeneration = "consolidated"

// recordHistory saves a finished workflow's history as a replay fixture when -update-histories
// is given; the replay test in package workflows then fails on any change that breaks it.
func (h *harness) recordHistory(workflowID, name string) {
	h.t.Helper()
	h.recordRunHistory(workflowID, "", name)
}

// recordRunHistory is recordHistory of one run of a workflow that continues as new ("" is the
// latest run).
func (h *harness) recordRunHistory(workflowID, runID, name string) {
	h.t.Helper()
	if !*updateHistories {
		return
	}
	history := historypb.History{Events: h.events(workflowID, runID)}
	data, err := protojson.MarshalOptions{Indent: "  "}.Marshal(&history)
	if err != nil {
		h.t.Fatal(err)
	}
	path := filepath.Join("..", "..", "workflows", "testdata", name+"_"+historyGeneration+".json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.t.Logf("recorded %d events to %s", len(history.Events), path)
}

// events is the history of one run of a workflow ("" is the latest run).
func (h *harness) events(workflowID, runID string) []*historypb.HistoryEvent {
	h.t.Helper()
	iter := h.temporal.Client.GetWorkflowHistory(context.Background(), workflowID, runID, false, 0)
	var events []*historypb.HistoryEvent
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			h.t.Fatal(err)
		}
		events = append(events, ev)
	}
	return events
}

// versionMarkers are the change IDs of the version markers in a workflow's latest run, in order,
// and how many upserts of TemporalChangeVersion (a visibility write each) came with them.
func (h *harness) versionMarkers(workflowID string) (changes []string, upserts int) {
	h.t.Helper()
	for _, ev := range h.events(workflowID, "") {
		if m := ev.GetMarkerRecordedEventAttributes(); m.GetMarkerName() == "Version" {
			var change string
			if err := h.temporal.Codec.DataConverter().FromPayloads(m.GetDetails()["change-id"], &change); err != nil {
				h.t.Fatal(err)
			}
			changes = append(changes, change)
		}
		fields := ev.GetUpsertWorkflowSearchAttributesEventAttributes().GetSearchAttributes().GetIndexedFields()
		if _, ok := fields["TemporalChangeVersion"]; ok {
			upserts++
		}
	}
	return changes, upserts
}
