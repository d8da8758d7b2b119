package worker_test

import (
	"context"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
)

// startWithRawInput starts Echo through the Temporal frontend with input sealed by seal, as
// someone with frontend access and a codec endpoint's output would.
func startWithRawInput(
	t *testing.T,
	c client.Client,
	namespace, workflowID string,
	seal func([]*commonpb.Payload) ([]*commonpb.Payload, error),
) {
	t.Helper()
	plain, err := converter.GetDefaultDataConverter().ToPayload("MARKER")
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := seal([]*commonpb.Payload{plain})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.WorkflowService().StartWorkflowExecution(
		context.Background(),
		&workflowservice.StartWorkflowExecutionRequest{
			Namespace: namespace, WorkflowId: workflowID, RequestId: workflowID,
			WorkflowType: &commonpb.WorkflowType{Name: "Echo"}, TaskQueue: &taskqueuepb.TaskQueue{Name: codecQueue},
			Input: &commonpb.Payloads{Payloads: sealed},
		},
	)
	if err != nil {
		t.Fatal(err)
	}
}

func TestWorkersRefuseWorkflowsStartedWithTheCodecEndpointsPayloads(t *testing.T) {
	srv := startCodecWorker(t)
	startWithRawInput(
		t, srv.Client, srv.Test.GetDefaultNamespace(), "echo/from-codec-endpoint", srv.Codec.EncodeForDisplay,
	)
	if why := refusal(t, srv, "echo/from-codec-endpoint"); !strings.Contains(why, "codec endpoint") {
		t.Fatalf("the refusal must say the payload was sealed by the codec endpoint: %s", why)
	}
}

// Payloads sealed before binding (no workflow, no mark) still open, so histories written then
// keep running; nothing partnerflow runs writes them any more.
func TestWorkersStillRunFirstFormatPayloads(t *testing.T) {
	srv := startCodecWorker(t)
	startWithRawInput(t, srv.Client, srv.Test.GetDefaultNamespace(), "echo/first-format", srv.Codec.Encode)
	var out string
	if err := srv.Client.GetWorkflow(context.Background(), "echo/first-format", "").Get(
		context.Background(), &out,
	); err != nil || out != "MARKER" {
		t.Fatalf("a first-format payload must still run: %q %v", out, err)
	}
}
