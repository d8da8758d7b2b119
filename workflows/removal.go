package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
)

// RemovalFlow describes the removal of an indirect reseller partnership: the reseller leaves the
// provider's active resellers, and the reseller, every customer associated with it and the
// partner's subscribed systems are told, each delivery its own durable, tracked step.
var RemovalFlow = Flow{
	Kind:     models.KindRemoval,
	Type:     "PartnershipRemoval",
	Workflow: PartnershipRemoval,
	Helpers:  []any{RemovalBatch},
	Query:    QueryRemoval,
}

// The removal's query, and the defaults of its input.
const (
	QueryRemoval                   = "removal"
	defaultRemovalBatch            = 200
	defaultDeliveryAttempts        = 10
	defaultDeliveryInitialInterval = 5 * time.Second
)

// RemovalWorkflowID is the workflow ID of one removal.
func RemovalWorkflowID(removalID string) string { return "removal/" + removalID }

// RemovalInput starts a removal. A removal's history stays bounded whatever the number of
// customers: the parent lists customers a page per activity and hands deliveries to child
// workflows BatchSize at a time (a child's history is at most 5 events per delivery: 3 for the
// activity, and workflow tasks as results arrive), and it continues as new past
// ContinueAsNewAfter events.
type RemovalInput struct {
	RemovalID        string
	PartnerID        string
	ResellerID       string
	ResellerTenantID string
	// Retry sends what is pending again (the API made the failed deliveries pending) without
	// ending the partnership or planning anew.
	Retry bool
	// BatchSize is how many deliveries one child workflow sends (default 200).
	BatchSize int
	// MaxAttempts is how often one delivery is tried before it is listed as failed (default 10),
	// InitialInterval the first wait between tries, doubling up to five minutes.
	MaxAttempts        int
	InitialInterval    time.Duration
	ContinueAsNewAfter int
	Carry              *Carry[RemovalState] `json:",omitempty"`
}

// RemovalState is the live state the query returns and the workflow's result.
type RemovalState struct {
	Status string
	// Ended says the reseller left the active list; StillListed that Microsoft still lists the
	// partnership (it is removed in Partner Center's UI; there is no API for it).
	Ended       bool
	StillListed bool
	Planned     bool
	// PlanCursor continues listing the reseller's customers; AfterID is the last delivery handed
	// to a batch.
	PlanCursor string
	AfterID    int64
	Batches    int
	Counts     models.DeliveryCounts
}

// RemovalBatchInput is one child's share of a removal's deliveries.
type RemovalBatchInput struct {
	RemovalID       string
	DeliveryIDs     []int64
	MaxAttempts     int
	InitialInterval time.Duration
}

// PartnershipRemoval ends a provider's partnership with a reseller in partnerflow, checks
// whether Microsoft still lists it, and tells the reseller, each of its customers and the
// partner's subscribed systems, each delivery tracked until delivered or failed.
func PartnershipRemoval(ctx workflow.Context, in RemovalInput) (RemovalState, error) {
	if in.BatchSize <= 0 {
		in.BatchSize = defaultRemovalBatch
	}
	if in.MaxAttempts <= 0 {
		in.MaxAttempts = defaultDeliveryAttempts
	}
	var (
		state   = RemovalState{Status: models.RemovalNotifying}
		started = workflow.Now(ctx)
	)
	f := newFlow[models.Removal](
		models.KindRemoval,
		a.RecordRemoval,
		in.RemovalID,
		&state.Status,
		in.ContinueAsNewAfter,
	)
	resume(f, in.Carry, &state, &started)
	if err := publishState(ctx, f, QueryRemoval, &state); err != nil {
		return state, err
	}
	type change = models.FlowChange[models.Removal]
	continueAsNew := func() error {
		next := in
		next.Carry = carry(f, state, started)
		return workflow.NewContinueAsNewError(ctx, PartnershipRemoval, next)
	}
	fail := func(cause error) (RemovalState, error) {
		reason := rootMessage(cause)
		f.setStatus(ctx, models.RemovalFailed, change{
			Set:        models.Removal{FailureReason: reason},
			Step:       models.RemovalFailed,
			StepDetail: reason,
		})
		return state, temporal.NewNonRetryableApplicationError(reason, "RemovalFailed", cause)
	}
	actx := withServiceCalls(ctx)

	if in.Carry == nil {
		step, key := "started", ""
		if in.Retry {
			step, key = "retrying", in.RemovalID+"/retrying/"+workflow.GetInfo(ctx).WorkflowExecution.RunID
		}
		if err := f.tryRecord(ctx, change{Status: models.RemovalNotifying, Step: step, StepKey: key}); isFlowGone(err) {
			return state, nil
		}
		f.enter(ctx, models.RemovalNotifying)
		if in.Retry {
			state.Ended, state.Planned = true, true
		}
	}
	if !state.Ended {
		var ended activities.EndedPartnership
		if err := f.callService(ctx, withServiceCalls, &ended, a.EndPartnership, in.RemovalID); err != nil {
			return fail(err)
		}
		state.Ended, state.StillListed = true, ended.StillListed
		detail := "the reseller left the active resellers; " +
			"its customers and their delegated admin relationships are unchanged"
		if ended.StillListed {
			detail += "; Partner Center still lists the partnership: " +
				"remove it there (Indirect resellers), there is no API for it"
		}
		f.record(ctx, change{Step: "partnership-ended", StepDetail: detail})
	}
	for !state.Planned {
		var page activities.PlannedPage
		if err := f.callService(
			ctx,
			withServiceCalls,
			&page,
			a.PlanRemovalDeliveries,
			in.RemovalID,
			state.PlanCursor,
		); err != nil {
			return fail(err)
		}
		state.PlanCursor, state.Planned = page.Next, page.Next == ""
		if f.historyFull(ctx) {
			return state, continueAsNew()
		}
	}
	if err := workflow.ExecuteActivity(
		actx,
		a.CountDeliveries,
		models.KindRemoval,
		in.RemovalID,
	).Get(ctx, &state.Counts); err != nil {
		return fail(err)
	}
	f.record(ctx, change{Step: "planned", StepDetail: fmt.Sprintf("%d recipients", state.Counts.Total)})

	for {
		var ids []int64
		query := activities.PendingQuery{
			Kind:    models.KindRemoval,
			FlowID:  in.RemovalID,
			AfterID: state.AfterID,
			Limit:   in.BatchSize,
		}
		if err := workflow.ExecuteActivity(actx, a.PendingDeliveries, query).Get(ctx, &ids); err != nil {
			return fail(err)
		}
		if len(ids) == 0 {
			break
		}
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s/batch/%d", RemovalWorkflowID(in.RemovalID), ids[0]),
		})
		batch := RemovalBatchInput{
			RemovalID:       in.RemovalID,
			DeliveryIDs:     ids,
			MaxAttempts:     in.MaxAttempts,
			InitialInterval: in.InitialInterval,
		}
		if err := workflow.ExecuteChildWorkflow(cctx, RemovalBatch, batch).Get(ctx, nil); err != nil {
			return fail(err)
		}
		state.AfterID, state.Batches = ids[len(ids)-1], state.Batches+1
		if err := workflow.ExecuteActivity(
			actx,
			a.CountDeliveries,
			models.KindRemoval,
			in.RemovalID,
		).Get(ctx, &state.Counts); err != nil {
			return fail(err)
		}
		if f.historyFull(ctx) {
			return state, continueAsNew()
		}
	}
	c := state.Counts
	f.setStatus(ctx, models.RemovalCompleted, change{
		Step:       models.RemovalCompleted,
		StepKey:    in.RemovalID + "/completed/" + workflow.GetInfo(ctx).WorkflowExecution.RunID,
		StepDetail: fmt.Sprintf("%d of %d delivered, %d failed", c.Delivered, c.Total, c.Failed),
	})
	return state, nil
}

// RemovalBatch sends one batch of a removal's deliveries at once, each retried with backoff
// until delivered or its attempts run out (then it is recorded as failed, not dropped).
func RemovalBatch(ctx workflow.Context, in RemovalBatchInput) (int, error) {
	interval := in.InitialInterval
	if interval <= 0 {
		interval = defaultDeliveryInitialInterval
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Minute,
		RetryPolicy: &temporal.RetryPolicy{
			InitialInterval:    interval,
			BackoffCoefficient: 2,
			MaximumInterval:    5 * time.Minute,
			MaximumAttempts:    int32(in.MaxAttempts),
		},
	})
	futures := make([]workflow.Future, len(in.DeliveryIDs))
	for i, id := range in.DeliveryIDs {
		futures[i] = workflow.ExecuteActivity(actx, a.Deliver, activities.DeliverInput{
			DeliveryID:  id,
			MaxAttempts: in.MaxAttempts,
		})
	}
	var errs int
	for i, fut := range futures {
		if err := fut.Get(ctx, nil); err != nil {
			errs++
			workflow.GetLogger(ctx).Error(
				"delivery ended without a record",
				"delivery", in.DeliveryIDs[i],
				"error", err,
			)
		}
	}
	return len(futures) - errs, nil
}
