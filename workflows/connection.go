package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/internal/flowsearch"
	"github.com/partnerflow/partnerflow/models"
)

// SignalConnected tells a flow waiting for the Partner Center connection that a global admin
// connected; connection.ResumeWaitingFlows sends it to every waiting flow.
const SignalConnected = flowsearch.SignalConnected

// StatusConnectionNeeded is the FlowStatus search attribute of a flow waiting for the Partner
// Center connection; the flow's own status is kept and comes back when it resumes.
const StatusConnectionNeeded = flowsearch.StatusConnectionNeeded

// Steps a flow records while it waits for the connection.
const (
	StepConnectionNeeded  = "connection-needed"
	StepConnectionResumed = "connection-resumed"
)

// connectionRecheck is how long a waiting flow first waits for SignalConnected before it tries
// again anyway (a signal lost with a crashed API process, say); each recheck that finds no
// connection doubles it, up to maxConnectionRecheck, so a long wait costs a few events a day.
const (
	connectionRecheck    = 15 * time.Minute
	maxConnectionRecheck = 4 * time.Hour
)

// errCancelledWaiting ends a wait for the connection that the flow's cancel interrupted.
var errCancelledWaiting = errors.New("cancelled while waiting for the Partner Center connection")

func isConnectionNeeded(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeConnectionNeeded
}

// callService runs a Partner Center activity with the options of service calls (withOptions),
// and while it needs the partner's connection, waits for it visibly: a timeline step and the
// FlowStatus search attribute, until a global admin connects (SignalConnected) or a recheck is
// due; then it calls again. The partner's contact is told by the activity, once per loss. A
// cancel ends the wait with errCancelledWaiting, which fail turns into the cancellation.
func (f *flow[R]) callService(ctx workflow.Context, withOptions func(workflow.Context) workflow.Context, out any, activity any, args ...any) error {
	waited, recheck := false, connectionRecheck
	defer func() { f.awaitingConnection = false }()
	for {
		err := workflow.ExecuteActivity(withOptions(ctx), activity, args...).Get(ctx, out)
		if !isConnectionNeeded(err) {
			if waited {
				f.upsertFlowStatus(ctx, *f.status)
				if err == nil {
					f.record(ctx, models.FlowChange[R]{Step: StepConnectionResumed, StepDetail: "Partner Center answered with the partner's connection",
						StepKey: fmt.Sprintf("%s/%s/%d", f.id, StepConnectionResumed, f.connectionWaits)})
				}
			}
			return err
		}
		if !waited {
			waited, f.awaitingConnection = true, true
			f.connectionWaits++
			f.record(ctx, models.FlowChange[R]{Step: StepConnectionNeeded, StepDetail: rootMessage(err),
				StepKey: fmt.Sprintf("%s/%s/%d", f.id, StepConnectionNeeded, f.connectionWaits)})
			f.upsertFlowStatus(ctx, StatusConnectionNeeded)
		}
		signalled, err := f.awaitConnection(ctx, recheck)
		if err != nil {
			return err
		}
		if !signalled {
			recheck = min(2*recheck, maxConnectionRecheck)
		}
	}
}

// awaitConnection waits for SignalConnected, a cancel or the recheck, and reports whether the
// signal came.
func (f *flow[R]) awaitConnection(ctx workflow.Context, recheck time.Duration) (bool, error) {
	connected := workflow.GetSignalChannel(ctx, SignalConnected)
	signalled := false
	_, err := workflow.AwaitWithTimeout(ctx, recheck, func() bool {
		for connected.ReceiveAsync(nil) {
			signalled = true
		}
		return signalled || f.cancelled != nil
	})
	switch {
	case err != nil:
		return false, err
	case f.cancelled != nil:
		return false, errCancelledWaiting
	}
	return signalled, nil
}

// upsertFlowStatus sets the FlowStatus search attribute alone.
func (f *flow[R]) upsertFlowStatus(ctx workflow.Context, status string) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, FlowStatusKey.ValueSet(status)); err != nil {
		workflow.GetLogger(ctx).Warn("could not update the status search attribute", "error", err)
	}
}
