package workflows_test

import (
	"bytes"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

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
				replayer.RegisterWorkflow(wf)
			}
			logger := log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := replayer.ReplayWorkflowHistoryFromJSONFile(logger, file); err != nil {
				t.Fatalf("replaying %s: %v", file, err)
			}
		})
	}
}
