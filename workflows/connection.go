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

// connectionWaiter is what waiting visibly for the Partner Center connection needs from a
// workflow: its ID for step keys, its own status (shown again when the wait ends), how it
// records a timeline step, whether a cancel ended the wait, and its count of waits.
type connectionWaiter struct {
	id        string
	status    func() string
	record    func(ctx workflow.Context, step, detail, key string)
	cancelled func() bool
	waits     *int
	// awaiting, when set, says whether the workflow waits right now.
	awaiting *bool
}

// call runs a Partner Center activity with the options of service calls (withOptions), and
// while it needs the partner's connection, waits for it visibly: a timeline step and the
// FlowStatus search attribute, until a global admin connects (SignalConnected) or a recheck is
// due; then it calls again. The partner's contact is told by the activity, once per loss. A
// cancel ends the wait with errCancelledWaiting.
func (cw connectionWaiter) call(
	ctx workflow.Context, withOptions func(workflow.Context) workflow.Context, out any, activity any, args ...any,
) error {
	waited, recheck := false, connectionRecheck
	setAwaiting := func(v bool) {
		if cw.awaiting != nil {
			*cw.awaiting = v
		}
	}
	defer setAwaiting(false)
	for {
		err := workflow.ExecuteActivity(withOptions(ctx), activity, args...).Get(ctx, out)
		if !isConnectionNeeded(err) {
			if waited {
				upsertFlowStatus(ctx, cw.status())
				if err == nil {
					cw.record(ctx, StepConnectionResumed, "Partner Center answered with the partner's connection",
						fmt.Sprintf("%s/%s/%d", cw.id, StepConnectionResumed, *cw.waits))
				}
			}
			return err
		}
		if !waited {
			waited = true
			setAwaiting(true)
			*cw.waits++
			cw.record(
				ctx,
				StepConnectionNeeded,
				rootMessage(err),
				fmt.Sprintf("%s/%s/%d", cw.id, StepConnectionNeeded, *cw.waits),
			)
			upsertFlowStatus(ctx, StatusConnectionNeeded)
		}
		signalled, err := cw.await(ctx, recheck)
		if err != nil {
			return err
		}
		if !signalled {
			recheck = min(2*recheck, maxConnectionRecheck)
		}
	}
}

// await waits for SignalConnected, a cancel or the recheck, and reports whether the signal came.
func (cw connectionWaiter) await(ctx workflow.Context, recheck time.Duration) (bool, error) {
	connected := workflow.GetSignalChannel(ctx, SignalConnected)
	signalled := false
	_, err := workflow.AwaitWithTimeout(ctx, recheck, func() bool {
		for connected.ReceiveAsync(nil) {
			signalled = true
		}
		return signalled || cw.cancelled()
	})
	switch {
	case err != nil:
		return false, err
	case cw.cancelled():
		return false, errCancelledWaiting
	}
	return signalled, nil
}

// callService runs a Partner Center activity, waiting visibly for the connection while it needs
// one (connectionWaiter.call); fail turns a cancel during the wait into the cancellation.
func (f *flow[R]) callService(
	ctx workflow.Context, withOptions func(workflow.Context) workflow.Context, out any, activity any, args ...any,
) error {
	return connectionWaiter{
		id:     f.id,
		status: func() string { return *f.status },
		record: func(ctx workflow.Context, step, detail, key string) {
			f.record(ctx, models.FlowChange[R]{Step: step, StepDetail: detail, StepKey: key})
		},
		cancelled: func() bool { return f.cancelled != nil },
		waits:     &f.connectionWaits,
		awaiting:  &f.awaitingConnection,
	}.call(ctx, withOptions, out, activity, args...)
}

// upsertFlowStatus sets the FlowStatus search attribute alone.
func upsertFlowStatus(ctx workflow.Context, status string) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, FlowStatusKey.ValueSet(status)); err != nil {
		workflow.GetLogger(ctx).Warn("could not update the status search attribute", "error", err)
	}
}
