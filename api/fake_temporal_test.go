package api_test

import (
	"context"
	"fmt"
	"slices"
	"sync"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/partnerflow/partnerflow/workflows"
)

// fakeTemporal stands in for the Temporal client in the API's tests, for every flow kind. It
// behaves like the SDK where the API relies on it — a running workflow ID refuses a second start
// only when the caller asks for the error, queries are answered only under the flows' query
// names — and records every start, update and signal. Values travel through the default data
// converter, so what the API sends must survive serialization, and a state set for one flow's
// workflow decodes into that flow's state type.
type fakeTemporal struct {
	client.Client

	mu        sync.Mutex
	healthErr error
	// startErr fails the next starts.
	startErr error
	// running holds the IDs of workflows the fake considers running.
	running map[string]bool
	starts  []startCall
	// states answers queries by workflow ID with any flow's live state; a workflow without one
	// is not found.
	states   map[string]any
	queryErr error
	queries  int
	// updateErr fails UpdateWorkflow itself; updateResultErr fails the handle's Get, as a
	// validator's rejection does.
	updateErr       error
	updateResultErr error
	updateState     any
	updates         []client.UpdateWorkflowOptions
	signalErr       map[string]error
	signals         []signalCall
}

type startCall struct {
	Options  client.StartWorkflowOptions
	Workflow any
	input    *commonpb.Payload
}

// startInput decodes a start's workflow input into the flow's input type.
func startInput[In any](c startCall) In {
	var in In
	if err := converter.GetDefaultDataConverter().FromPayload(c.input, &in); err != nil {
		panic(fmt.Sprintf("fake: decode the start input into %T: %v", in, err))
	}
	return in
}

type signalCall struct {
	WorkflowID string
	Name       string
	Event      workflows.PartnerCenterEvent
}

func newFakeTemporal() *fakeTemporal {
	return &fakeTemporal{running: map[string]bool{}, states: map[string]any{}, signalErr: map[string]error{}}
}

func (f *fakeTemporal) CheckHealth(context.Context, *client.CheckHealthRequest) (*client.CheckHealthResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return &client.CheckHealthResponse{}, f.healthErr
}

func (f *fakeTemporal) ExecuteWorkflow(
	_ context.Context, opts client.StartWorkflowOptions, wf any, args ...any,
) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := startCall{Options: opts, Workflow: wf}
	if len(args) != 1 {
		return nil, fmt.Errorf("fake: want one workflow argument, got %d", len(args))
	}
	p, err := converter.GetDefaultDataConverter().ToPayload(args[0])
	if err != nil {
		return nil, fmt.Errorf("fake: encode the workflow input: %w", err)
	}
	call.input = p
	f.starts = append(f.starts, call)
	if f.startErr != nil {
		return nil, f.startErr
	}
	if f.running[opts.ID] {
		if opts.WorkflowIDConflictPolicy == enumspb.WORKFLOW_ID_CONFLICT_POLICY_FAIL &&
			opts.WorkflowExecutionErrorWhenAlreadyStarted {
			return nil, serviceerror.NewWorkflowExecutionAlreadyStarted(
				"workflow execution is already running", "", "run-0",
			)
		}
		return fakeRun{id: opts.ID}, nil
	}
	f.running[opts.ID] = true
	return fakeRun{id: opts.ID}, nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(
	_ context.Context, workflowID, _ string,
) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.startErr != nil {
		return nil, f.startErr
	}
	if !f.running[workflowID] {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	return &workflowservice.DescribeWorkflowExecutionResponse{}, nil
}

func (f *fakeTemporal) QueryWorkflow(
	_ context.Context, workflowID, _ string, queryType string, _ ...any,
) (converter.EncodedValue, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if f.queryErr != nil {
		return nil, f.queryErr
	}
	if !slices.ContainsFunc(workflows.Flows, func(fl workflows.Flow) bool { return fl.Query == queryType }) {
		return nil, fmt.Errorf("fake: unknown query %q", queryType)
	}
	st, ok := f.states[workflowID]
	if !ok {
		return nil, serviceerror.NewNotFound("workflow not found for ID: " + workflowID)
	}
	return encodedValue(st)
}

func (f *fakeTemporal) UpdateWorkflow(
	_ context.Context, opts client.UpdateWorkflowOptions,
) (client.WorkflowUpdateHandle, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range opts.Args {
		if err := roundTrip(a, new(map[string]any)); err != nil {
			return nil, fmt.Errorf("fake: update argument %d: %w", i, err)
		}
	}
	f.updates = append(f.updates, opts)
	if f.updateErr != nil {
		return nil, f.updateErr
	}
	return fakeUpdateHandle{workflowID: opts.WorkflowID, state: f.updateState, err: f.updateResultErr}, nil
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID, _ string, name string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	call := signalCall{WorkflowID: workflowID, Name: name}
	if err := roundTrip(arg, &call.Event); err != nil {
		return err
	}
	if err := f.signalErr[workflowID]; err != nil {
		return err
	}
	f.signals = append(f.signals, call)
	return nil
}

func (f *fakeTemporal) set(fn func(f *fakeTemporal)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

func (f *fakeTemporal) startCalls() []startCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]startCall(nil), f.starts...)
}

func (f *fakeTemporal) updateCalls() []client.UpdateWorkflowOptions {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]client.UpdateWorkflowOptions(nil), f.updates...)
}

func (f *fakeTemporal) signalCalls() []signalCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]signalCall(nil), f.signals...)
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string    { return r.id }
func (r fakeRun) GetRunID() string { return "run-1" }

type fakeUpdateHandle struct {
	workflowID string
	state      any
	err        error
}

func (h fakeUpdateHandle) WorkflowID() string { return h.workflowID }
func (h fakeUpdateHandle) RunID() string      { return "run-1" }
func (h fakeUpdateHandle) UpdateID() string   { return "update-1" }

func (h fakeUpdateHandle) Get(_ context.Context, valuePtr any) error {
	if h.err != nil {
		return h.err
	}
	return roundTrip(h.state, valuePtr)
}

// payloadValue carries a value the way a query result arrives: as payloads.
type payloadValue struct{ payloads *commonpb.Payloads }

func encodedValue(v any) (converter.EncodedValue, error) {
	p, err := converter.GetDefaultDataConverter().ToPayloads(v)
	if err != nil {
		return nil, err
	}
	return payloadValue{payloads: p}, nil
}

func (v payloadValue) HasValue() bool { return v.payloads != nil }

func (v payloadValue) Get(valuePtr any) error {
	return converter.GetDefaultDataConverter().FromPayloads(v.payloads, valuePtr)
}

// roundTrip converts in to out through the default data converter, as Temporal would.
func roundTrip(in, out any) error {
	dc := converter.GetDefaultDataConverter()
	p, err := dc.ToPayload(in)
	if err != nil {
		return fmt.Errorf("fake: encode %T: %w", in, err)
	}
	if err := dc.FromPayload(p, out); err != nil {
		return fmt.Errorf("fake: decode %T into %T: %w", in, out, err)
	}
	return nil
}
