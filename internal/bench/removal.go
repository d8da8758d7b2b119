package bench

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"go.temporal.io/sdk/client"
)

// removalKind drives partnership removals: each removal needs an active reseller of its own,
// so before the clock starts the bench drives one reseller partnership to active per removal
// (exactly as resellerKind does); the operator then removes it through the API with the
// good-faith attestation, and the flow is done when the removal's workflow completes with the
// removal completed and every recipient told. A removal has no counterpart who acts, so its
// acceptance-to-done is create-to-done.
type removalKind struct {
	driver   *httpDriver
	temporal client.Client
	// resellers makes and drives the reseller partnerships the removals end.
	resellers *resellerKind
	made      int
	mu        sync.Mutex
	// resellerIDs are the active resellers by flow number.
	resellerIDs map[int]string
}

func newRemovalKind(d *httpDriver, t Target, tc client.Client, runID string) *removalKind {
	return &removalKind{
		driver: d, temporal: tc,
		resellers:   newResellerKind(d, t, tc, runID+"-removal"),
		resellerIDs: map[int]string{},
	}
}

// prepare makes an active reseller for every flow up to upto: the reseller partners at the
// simulator, then each one's reseller flow driven to active.
func (k *removalKind) prepare(ctx context.Context, upto int) error {
	if err := k.resellers.prepare(ctx, upto); err != nil {
		return err
	}
	err := parallel(k.made, upto, func(i int) error {
		id, err := k.activate(ctx, i)
		if err != nil {
			return err
		}
		k.mu.Lock()
		k.resellerIDs[i] = id
		k.mu.Unlock()
		return nil
	})
	k.made = upto
	if err != nil {
		return fmt.Errorf("make the resellers the removals end active: %w", err)
	}
	return nil
}

// activate drives reseller i's partnership to active as the reseller kind does, and returns the
// reseller's ID.
func (k *removalKind) activate(ctx context.Context, i int) (string, error) {
	h, err := k.resellers.create(ctx, i)
	if err != nil {
		return "", fmt.Errorf("create reseller %d: %w", i, err)
	}
	if _, err := k.resellers.accept(ctx, h); err != nil {
		return "", fmt.Errorf("authorize reseller %s: %w", h.id, err)
	}
	if err := k.resellers.wait(ctx, h); err != nil {
		return "", fmt.Errorf("wait for reseller %s: %w", h.id, err)
	}
	return h.id, nil
}

func (k *removalKind) create(ctx context.Context, i int) (flowHandle, error) {
	k.mu.Lock()
	reseller := k.resellerIDs[i]
	k.mu.Unlock()
	var v struct {
		ID         string `json:"id"`
		WorkflowID string `json:"workflowId"`
	}
	err := k.driver.api(ctx, http.MethodPost, "/v1/resellers/"+reseller+"/removal", map[string]any{
		"attestation": true, "attestedBy": "Bench Operator",
	}, &v)
	return flowHandle{id: v.ID, workflowID: v.WorkflowID}, err
}

// accept returns at once: nobody answers a removal.
func (k *removalKind) accept(context.Context, flowHandle) (time.Time, error) {
	return time.Now(), nil
}

// wait waits for the removal's workflow to complete and checks its detail: completed, every
// recipient delivered and none failed.
func (k *removalKind) wait(ctx context.Context, h flowHandle) error {
	if err := k.temporal.GetWorkflow(ctx, h.workflowID, "").Get(ctx, nil); err != nil {
		return err
	}
	var v struct {
		Status     string `json:"status"`
		Recipients *struct {
			Total     int64 `json:"total"`
			Delivered int64 `json:"delivered"`
			Failed    int64 `json:"failed"`
		} `json:"recipients"`
	}
	path := "/v1/removals/" + h.id
	if err := k.driver.api(ctx, http.MethodGet, path, nil, &v); err != nil {
		return err
	}
	if v.Status != "completed" {
		return fmt.Errorf("%s ended %s, not completed", path, v.Status)
	}
	if r := v.Recipients; r == nil || r.Total == 0 || r.Delivered != r.Total || r.Failed != 0 {
		return fmt.Errorf("%s completed without telling every recipient: %+v", path, r)
	}
	return nil
}
