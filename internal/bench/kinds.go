package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
)

// invitationKind drives invitations: the partner creates one through the API, the customer
// accepts the reseller relationship and approves the GDAP request at the simulator, and the
// flow is done when its workflow completes with the invitation active.
type invitationKind struct {
	driver   *httpDriver
	t        Target
	temporal client.Client
	runID    string
	made     int
}

func (k *invitationKind) domain(i int) string {
	return fmt.Sprintf("bench-%s-%d.onmicrosoft.com", k.runID, i)
}

func (k *invitationKind) prepare(ctx context.Context, upto int) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := k.driver.createTenant(ctx, k.domain(i)); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i := k.made; i < upto; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	k.made = upto
	if len(errs) > 0 {
		return fmt.Errorf("create %d customer tenants at the simulator, first: %w", len(errs), errs[0])
	}
	return nil
}

func (k *invitationKind) create(ctx context.Context, i int) (flowHandle, error) {
	v, err := k.driver.invite(ctx, k.domain(i))
	return flowHandle{id: v.ID, workflowID: v.WorkflowID, domain: k.domain(i)}, err
}

func (k *invitationKind) accept(ctx context.Context, h flowHandle) (time.Time, error) {
	v, err := k.driver.untilSent(ctx, h.id)
	if err != nil {
		return time.Time{}, err
	}
	start := time.Now()
	upn := "admin@" + h.domain
	if err := k.driver.customerAction(ctx, "accept-reseller", map[string]string{
		"domain":    h.domain,
		"partnerId": k.t.PartnerID,
		"upn":       upn,
	}); err != nil {
		return start, err
	}
	return start, k.driver.customerAction(ctx, "approve-gdap", map[string]string{
		"relationshipId": v.GDAPRelationshipID,
		"upn":            upn,
	})
}

func (k *invitationKind) wait(ctx context.Context, h flowHandle) error {
	if err := k.temporal.GetWorkflow(ctx, h.workflowID, "").Get(ctx, nil); err != nil {
		return err
	}
	var v invitation
	if err := k.driver.api(ctx, http.MethodGet, "/v1/invitations/"+h.id, nil, &v); err != nil {
		return err
	}
	if v.Status != "active" {
		return fmt.Errorf("invitation %s ended %s, not active", h.id, v.Status)
	}
	return nil
}

// baselineKind runs BaselineWorkflow with a flow's shape: the create call starts it, the
// acceptance sends the signals and updates the shape waits for.
type baselineKind struct {
	temporal client.Client
	shape    Shape
	runID    string
}

func (k *baselineKind) prepare(context.Context, int) error { return nil }

func (k *baselineKind) create(ctx context.Context, i int) (flowHandle, error) {
	id := fmt.Sprintf("bench-baseline/%s/%d", k.runID, i)
	run, err := k.temporal.ExecuteWorkflow(
		ctx,
		client.StartWorkflowOptions{ID: id, TaskQueue: BaselineTaskQueue, TypedSearchAttributes: k.startAttributes(i)},
		BaselineWorkflowName,
		k.shape.Steps,
	)
	return flowHandle{id: id, workflowID: id, run: run}, err
}

// startAttributes are the search attributes the flow starts with (every custom one is a
// keyword), with values of the bench's own.
func (k *baselineKind) startAttributes(i int) temporal.SearchAttributes {
	var updates []temporal.SearchAttributeUpdate
	for _, name := range k.shape.StartAttributes {
		updates = append(updates, temporal.NewSearchAttributeKeyKeyword(name).ValueSet(fmt.Sprintf("bench-%d", i)))
	}
	return temporal.NewSearchAttributes(updates...)
}

func (k *baselineKind) accept(ctx context.Context, h flowHandle) (time.Time, error) {
	start := time.Now()
	for range k.shape.Count(StepSignal) {
		if err := k.temporal.SignalWorkflow(ctx, h.workflowID, "", BaselineSignal, nil); err != nil {
			return start, err
		}
	}
	for range k.shape.Count(StepUpdate) {
		u, err := k.temporal.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
			WorkflowID: h.workflowID, UpdateName: BaselineUpdate, WaitForStage: client.WorkflowUpdateStageCompleted,
		})
		if err != nil {
			return start, err
		}
		if err := u.Get(ctx, nil); err != nil {
			return start, err
		}
	}
	return start, nil
}

func (k *baselineKind) wait(ctx context.Context, h flowHandle) error {
	return h.run.Get(ctx, nil)
}
