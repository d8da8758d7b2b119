package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
)

// How every workflow calls its activities: the options of each kind of call, and what their
// errors say.

// isFlowGone reports whether an activity failed because the flow's row does not exist.
func isFlowGone(err error) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == activities.ErrTypeFlowGone
}

// rootMessage is an activity failure's own message, without Temporal's wrapping.
func rootMessage(err error) string {
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) {
		return appErr.Message()
	}
	return err.Error()
}

// withServiceCalls sets the options of calls to Partner Center, Graph and the mail server:
// retried with backoff for a day, honouring Retry-After through the activities' NextRetryDelay.
func withServiceCalls(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			// A minute at most between attempts: a flow resumes within a minute of Partner Center
			// recovering, and a throttled call waits what Retry-After asks (NextRetryDelay).
			// Retry policies are not part of replay, so running flows take this at once.
			InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
		},
	})
}

// withStatusPolling sets the options of activities that wait for the service to reach a state.
func withStatusPolling(ctx workflow.Context) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout:    time.Minute,
		ScheduleToCloseTimeout: 7 * 24 * time.Hour,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 1.5, MaximumInterval: time.Minute,
		},
	})
}
