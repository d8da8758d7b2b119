package bench

import (
	"context"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/internal/flowsearch"
)

// Names of the baseline's workflow, task queue, signal and update.
const (
	BaselineWorkflowName = "PartnerflowBenchBaseline"
	BaselineTaskQueue    = "partnerflow-bench-baseline"
	BaselineSignal       = "bench-event"
	BaselineUpdate       = "bench-update"
	noopActivityName     = "PartnerflowBenchNoop"
)

// RegisterBaseline registers the baseline workflow and its no-op activity on a worker.
func RegisterBaseline(w worker.Registry) {
	w.RegisterWorkflowWithOptions(BaselineWorkflow, workflow.RegisterOptions{Name: BaselineWorkflowName})
	w.RegisterActivityWithOptions(noop, activity.RegisterOptions{Name: noopActivityName})
}

// BaselineWorkflow runs a shape's steps in order with no work in them: no-op activities and
// local activities, timers that stay armed (as reminders do) until the next signal or update
// settles the wait, waits for the signals and updates the driver sends, versions (GetVersion
// records its marker and upserts TemporalChangeVersion, as the flows' do) and upserts of the
// FlowStatus search attribute the flows set.
func BaselineWorkflow(ctx workflow.Context, steps []StepKind) error {
	retry := &temporal.RetryPolicy{MaximumAttempts: 3}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 30 * time.Second,
		RetryPolicy:         retry,
	})
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout: 10 * time.Second,
		RetryPolicy:         retry,
	})
	signals := workflow.GetSignalChannel(ctx, BaselineSignal)
	updates := 0
	if err := workflow.SetUpdateHandler(ctx, BaselineUpdate, func(workflow.Context) error {
		updates++
		return nil
	}); err != nil {
		return err
	}
	var armed []workflow.CancelFunc
	settle := func() {
		for _, cancel := range armed {
			cancel()
		}
		armed = nil
	}
	wantUpdates := 0
	for i, step := range steps {
		switch step {
		case StepVersion:
			workflow.GetVersion(ctx, fmt.Sprintf("bench-change-%d", i), workflow.DefaultVersion, 1)
		case StepUpsert:
			if err := workflow.UpsertTypedSearchAttributes(
				ctx, flowsearch.FlowStatusKey.ValueSet(fmt.Sprintf("bench-%d", i)),
			); err != nil {
				return err
			}
		case StepActivity:
			if err := workflow.ExecuteActivity(actx, noopActivityName).Get(ctx, nil); err != nil {
				return err
			}
		case StepLocalActivity:
			if err := workflow.ExecuteLocalActivity(lctx, noop).Get(ctx, nil); err != nil {
				return err
			}
		case StepTimer:
			tctx, cancel := workflow.WithCancel(ctx)
			workflow.NewTimer(tctx, 24*time.Hour)
			armed = append(armed, cancel)
		case StepSignal:
			signals.Receive(ctx, nil)
			settle()
		case StepUpdate:
			wantUpdates++
			if err := workflow.Await(ctx, func() bool { return updates >= wantUpdates }); err != nil {
				return err
			}
			settle()
		}
	}
	settle()
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

func noop(context.Context) error { return nil }
