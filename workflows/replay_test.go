package workflows_test

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestReplayRecordedHistories replays histories recorded from real runs (see
// internal/integration, flag -update-histories): a change to the workflow code that would break
// workflows already running fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 2 {
		t.Fatalf("expected recorded histories in testdata, found %v", files)
	}
	// The integration tests encrypt payloads with this fixed test key.
	c, err := codec.New(bytes.Repeat([]byte{42}, codec.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
				DataConverter: c.DataConverter(), FailureConverter: c.FailureConverter(),
			})
			if err != nil {
				t.Fatal(err)
			}
			for _, wf := range workflows.All() {
				replayer.RegisterWorkflowWithOptions(wf.Workflow, workflow.RegisterOptions{Name: wf.Name})
			}
			logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			history, err := client.HistoryFromJSON(f, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			// Payloads recorded since they are bound to their workflow open only under its ID.
			var original workflow.Execution
			if in := history.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().
				GetInput().GetPayloads(); len(in) > 0 {
				original.ID = codec.BoundWorkflowID(in[0])
			}
			if err := replayer.ReplayWorkflowHistoryWithOptions(logger, history, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: original,
			}); err != nil {
				t.Fatalf("replaying %s: %v", file, err)
			}
		})
	}
}
