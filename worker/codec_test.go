package worker_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	failurepb "go.temporal.io/api/failure/v1"
	historypb "go.temporal.io/api/history/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/codec"
	"github.com/partnerflow/partnerflow/internal/testtemporal"
)

const codecQueue = "codec-test"

// Echo is a workflow that returns its input.
func Echo(_ workflow.Context, s string) (string, error) { return s, nil }

// startCodecWorker runs Echo on a worker whose client encrypts, as partnerflow's workers do.
func startCodecWorker(t *testing.T) *testtemporal.Server {
	t.Helper()
	srv := testtemporal.Start(t)
	w := sdkworker.New(srv.Client, codecQueue, sdkworker.Options{})
	w.RegisterWorkflow(Echo)
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return srv
}

func quiet() log.Logger {
	return log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// refusal waits for the worker to fail the workflow's task (or the workflow) and returns why.
func refusal(t *testing.T, srv *testtemporal.Server, workflowID string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var failure *failurepb.Failure
		it := srv.Client.GetWorkflowHistory(
			context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
		)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			switch ev.GetEventType() {
			case enumspb.EVENT_TYPE_WORKFLOW_TASK_FAILED:
				failure = ev.GetWorkflowTaskFailedEventAttributes().GetFailure()
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
				failure = ev.GetWorkflowExecutionFailedEventAttributes().GetFailure()
			case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
				t.Fatalf("workflow %s completed: the worker accepted its input", workflowID)
			}
		}
		if failure != nil {
			return srv.Codec.FailureConverter().FailureToError(failure).Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the worker neither ran nor refused workflow %s", workflowID)
	return ""
}

func TestWorkersRefuseWorkflowsStartedWithoutTheKey(t *testing.T) {
	srv := startCodecWorker(t)
	plain := srv.Test.NewClientWithOptions(client.Options{Logger: quiet()})
	run, err := plain.ExecuteWorkflow(
		context.Background(),
		client.StartWorkflowOptions{ID: "echo/plain", TaskQueue: codecQueue},
		Echo,
		"MARKER",
	)
	if err != nil {
		t.Fatal(err)
	}
	if why := refusal(t, srv, run.GetID()); !strings.Contains(why, "not encrypted") {
		t.Fatalf("the refusal must say the payload is not encrypted: %s", why)
	}
}

func TestAPayloadMovedToAnotherWorkflowDoesNotOpen(t *testing.T) {
	srv := startCodecWorker(t)
	ctx := context.Background()
	run, err := srv.Client.ExecuteWorkflow(
		ctx,
		client.StartWorkflowOptions{ID: "echo/a", TaskQueue: codecQueue},
		Echo,
		"MARKER-a",
	)
	if err != nil {
		t.Fatal(err)
	}
	var out string
	if err := run.Get(ctx, &out); err != nil || out != "MARKER-a" {
		t.Fatalf("a workflow started with the key must run: %q %v", out, err)
	}

	it := srv.Client.GetWorkflowHistory(ctx, "echo/a", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	first, err := it.Next()
	if err != nil {
		t.Fatal(err)
	}
	input := first.GetWorkflowExecutionStartedEventAttributes().GetInput()
	if got := string(input.GetPayloads()[0].GetMetadata()["encryption-workflow-id"]); got != "echo/a" {
		t.Fatalf("the client must bind the input to its workflow, metadata names %q", got)
	}

	// A recorded history of bound payloads replays under its own workflow ID, which the
	// replayer must be given (by default it replays as "ReplayId", to which nothing opens).
	replay := func(id string) error {
		t.Helper()
		var events []*historypb.HistoryEvent
		it := srv.Client.GetWorkflowHistory(ctx, "echo/a", "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			events = append(events, ev)
		}
		replayer, err := sdkworker.NewWorkflowReplayerWithOptions(sdkworker.WorkflowReplayerOptions{
			DataConverter: srv.Codec.DataConverter(), FailureConverter: srv.Codec.FailureConverter(),
		})
		if err != nil {
			t.Fatal(err)
		}
		replayer.RegisterWorkflow(Echo)
		return replayer.ReplayWorkflowHistoryWithOptions(quiet(), &historypb.History{Events: events},
			sdkworker.ReplayWorkflowHistoryOptions{OriginalExecution: workflow.Execution{ID: id}})
	}
	if err := replay(codec.BoundWorkflowID(input.GetPayloads()[0])); err != nil {
		t.Fatalf("replaying under the bound workflow ID: %v", err)
	}
	if err := replay(""); err == nil {
		t.Fatal("replaying under another workflow ID must fail: its payloads are bound to echo/a")
	}

	// Someone with access to the Temporal frontend, but not the key, starts another workflow
	// with the first one's sealed input.
	_, err = srv.Client.WorkflowService().StartWorkflowExecution(ctx, &workflowservice.StartWorkflowExecutionRequest{
		Namespace: srv.Test.GetDefaultNamespace(), WorkflowId: "echo/b", RequestId: "moved-payload",
		WorkflowType: &commonpb.WorkflowType{Name: "Echo"}, TaskQueue: &taskqueuepb.TaskQueue{Name: codecQueue},
		Input: &commonpb.Payloads{Payloads: input.GetPayloads()},
	})
	if err != nil {
		t.Fatal(err)
	}
	if why := refusal(t, srv, "echo/b"); !strings.Contains(why, `bound to workflow "echo/a"`) {
		t.Fatalf("the refusal must say the payload belongs to another workflow: %s", why)
	}
}
