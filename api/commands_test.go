package api_test

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"go.temporal.io/api/serviceerror"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// owed returns the commands still owed to Temporal, made due now (as the dispatcher finds them
// once their hold or backoff has passed).
func (f *flowFixture) owed(t *testing.T) []models.FlowCommand {
	t.Helper()
	if err := f.store.DB.Model(&models.FlowCommand{}).Where("1 = 1").
		Update("claimed_until", time.Now().Add(-time.Second)).Error; err != nil {
		t.Fatal(err)
	}
	var cmds []models.FlowCommand
	if err := f.store.DB.Order("id").Find(&cmds).Error; err != nil {
		t.Fatal(err)
	}
	return cmds
}

func (f *flowFixture) dispatch(t *testing.T) int {
	t.Helper()
	n, err := f.server.DispatchDue(context.Background())
	if err != nil {
		t.Fatalf("dispatch: %v", err)
	}
	return n
}

func (f *flowFixture) startsOf(workflowID string) int {
	n := 0
	for _, c := range f.temporal.startCalls() {
		if c.Options.ID == workflowID {
			n++
		}
	}
	return n
}

func TestAFlowWhoseStartFailedStartsByItself(t *testing.T) {
	f := newFlowFixture(t)
	f.temporal.set(func(ft *fakeTemporal) { ft.startErr = serviceerror.NewUnavailable("connection refused") })
	resp := f.admin.Do("POST", "/v1/invitations", validInvitation())
	if resp.Status != http.StatusCreated {
		t.Fatalf("a flow whose workflow cannot start yet is recorded all the same: %d %s", resp.Status, resp.Body)
	}
	var created struct{ ID, WorkflowID string }
	resp.JSON(t, &created)
	if created.WorkflowID != workflows.InvitationWorkflowID(created.ID) {
		t.Fatalf("workflow ID %q is not the invitation's own", created.WorkflowID)
	}
	cmds := f.owed(t)
	if len(cmds) != 1 || cmds[0].Command != models.CommandStart || cmds[0].FlowID != created.ID ||
		cmds[0].LastError == "" {
		t.Fatalf("owed commands %+v, want the start with its error", cmds)
	}
	var detail map[string]any
	f.admin.Do("GET", "/v1/invitations/"+created.ID, nil).JSON(t, &detail)
	if detail["workflowStarted"] != false {
		t.Fatalf("the detail must say the workflow has not started: %v", detail)
	}

	// Temporal answers again: the dispatcher starts it, once, with the input the request gave.
	f.temporal.set(func(ft *fakeTemporal) { ft.startErr = nil })
	if n := f.dispatch(t); n != 1 {
		t.Fatalf("dispatched %d commands, want 1", n)
	}
	calls := f.temporal.startCalls()
	last := calls[len(calls)-1]
	in := startInput[workflows.InvitationInput](last)
	if last.Options.ID != created.WorkflowID || in.InvitationID != created.ID ||
		in.CustomerDomain != "contoso.onmicrosoft.com" {
		t.Fatalf("started %s with %+v", last.Options.ID, in)
	}
	if last.Options.TypedSearchAttributes.Size() == 0 {
		t.Fatal("the dispatched start lost its search attributes")
	}
	if cmds := f.owed(t); len(cmds) != 0 || f.dispatch(t) != 0 {
		t.Fatalf("the start is still owed: %+v", cmds)
	}
	detail = nil
	f.admin.Do("GET", "/v1/invitations/"+created.ID, nil).JSON(t, &detail)
	if _, shown := detail["workflowStarted"]; shown {
		t.Fatalf("a started flow's detail says nothing of it: %v", detail)
	}
}

// A crash after the start and before the command was dropped leaves it behind: carrying it out
// again is refused by Temporal (the workflow ID is the flow's own), which counts as done.
func TestAStartCarriedOutTwiceStartsOneWorkflow(t *testing.T) {
	f := newFlowFixture(t)
	resp := f.sales.Do("POST", "/v1/resellers", map[string]any{
		"email":       "admin@adatum.example",
		"companyName": "Adatum",
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("%d %s", resp.Status, resp.Body)
	}
	var created struct{ ID, WorkflowID string }
	resp.JSON(t, &created)
	start := f.temporal.startCalls()[0]
	left := models.FlowCommand{
		FlowKind:     models.KindReseller,
		FlowID:       created.ID,
		Command:      models.CommandStart,
		WorkflowID:   created.WorkflowID,
		WorkflowType: workflows.ResellerFlow.Type,
		Payload:      `{}`,
		Attributes:   `{"partnerId":"p","status":"pending"}`,
		CreatedAt:    time.Now(),
	}
	if err := f.store.DB.Create(&left).Error; err != nil {
		t.Fatal(err)
	}
	f.owed(t)
	if n := f.dispatch(t); n != 1 {
		t.Fatalf("dispatched %d, want the left-behind start done", n)
	}
	if got := f.startsOf(created.WorkflowID); got != 2 || f.temporal.running[start.Options.ID] != true {
		t.Fatalf("%d start calls for %s", got, created.WorkflowID)
	}
	if len(f.owed(t)) != 0 {
		t.Fatal("the refused second start is still owed")
	}
}

// A retried create after a lost answer points at the flow, and starts it if it is still owed.
func TestARetriedCreateStartsTheFlowItNames(t *testing.T) {
	f := newFlowFixture(t)
	f.temporal.set(func(ft *fakeTemporal) { ft.startErr = serviceerror.NewUnavailable("connection refused") })
	first := f.admin.Do("POST", "/v1/invitations", validInvitation())
	var created struct{ ID, WorkflowID string }
	first.JSON(t, &created)
	f.temporal.set(func(ft *fakeTemporal) { ft.startErr = nil })
	f.owed(t) // the first attempt's backoff has passed
	again := f.admin.Do("POST", "/v1/invitations", validInvitation())
	if again.Status != http.StatusConflict || again.Header.Get("Location") != "/v1/invitations/"+created.ID {
		t.Fatalf("retry: %d %s %s", again.Status, again.Header.Get("Location"), again.Body)
	}
	if !f.temporal.running[created.WorkflowID] || len(f.owed(t)) != 0 {
		t.Fatal("the retry's answer names a flow whose workflow has not started")
	}
}

func TestCancellingAFlowBeforeItsWorkflowStartsSendsNothing(t *testing.T) {
	f := newFlowFixture(t)
	f.temporal.set(func(ft *fakeTemporal) { ft.startErr = serviceerror.NewUnavailable("connection refused") })
	var created struct{ ID, WorkflowID string }
	f.admin.Do("POST", "/v1/invitations", validInvitation()).JSON(t, &created)
	f.owed(t)
	resp := f.admin.Do("POST", "/v1/invitations/"+created.ID+"/cancel", map[string]any{"reason": "wrong customer"})
	if resp.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.Status, resp.Body)
	}
	var detail struct {
		Status string
		Steps  []struct{ Name, Detail string }
	}
	resp.JSON(t, &detail)
	if detail.Status != models.InvitationCancelled ||
		!slices.ContainsFunc(detail.Steps, func(s struct{ Name, Detail string }) bool {
			return s.Name == "cancelled" && s.Detail == "by admin-agent before its workflow started: wrong customer"
		}) {
		t.Fatalf("cancelled flow: %+v", detail)
	}
	f.temporal.set(func(ft *fakeTemporal) { ft.startErr = nil })
	if n := f.dispatch(t); n != 0 || f.temporal.running[created.WorkflowID] {
		t.Fatal("a cancelled flow's workflow started")
	}
	// The one-open-invitation rule no longer holds the domain.
	if resp := f.admin.Do("POST", "/v1/invitations", validInvitation()); resp.Status != http.StatusCreated {
		t.Fatalf("a new invitation after the cancel: %d %s", resp.Status, resp.Body)
	}
}

// An earlier version could leave a flow recorded without its workflow. The migration that
// brings the command table owes a check of every open flow; the dispatcher closes, as failed
// with the reason, those whose workflow does not exist, and leaves the others alone.
func TestFlowsAnEarlierVersionLeftWithoutAWorkflowAreClosed(t *testing.T) {
	ctx := context.Background()
	store, err := models.Open(filepath.Join(t.TempDir(), "app.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if _, err := store.MigrateTo(ctx, 12); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	legacy := func(id, domain string) *models.Invitation {
		inv := &models.Invitation{
			ID:             id,
			PartnerID:      partnerID,
			CustomerDomain: domain,
			CustomerEmail:  "admin@" + domain,
			Status:         models.InvitationPending,
			WorkflowID:     "invitation/" + partnerID + "/" + domain,
			CreatedAt:      now,
			UpdatedAt:      now,
			ExpiresAt:      now.AddDate(0, 0, 90),
		}
		// The row as version 12 wrote it: without the columns later migrations add.
		old := &models.Store{
			DB:      store.DB.Omit("DomainTenantID", "EstateWatch", "AlertEmail", "State"),
			Dialect: store.Dialect,
		}
		if _, err := old.CreateInvitation(ctx, inv); err != nil {
			t.Fatal(err)
		}
		return inv
	}
	lost, running := legacy("inv_lost", "lost.example"), legacy("inv_running", "running.example")
	if _, err := store.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	f := newFlowFixture(t)
	f.store = store
	f.server = api.New(api.Config{Store: store, Temporal: f.temporal, Flows: api.FlowConfig{PartnerID: partnerID}})
	f.temporal.set(func(ft *fakeTemporal) { ft.running[running.WorkflowID] = true })
	if n := f.dispatch(t); n != 2 {
		t.Fatalf("dispatched %d checks, want 2", n)
	}
	got, err := models.Find[models.Invitation](ctx, store, lost.ID)
	if err != nil || got.Status != models.InvitationFailed {
		t.Fatalf("the invitation without a workflow is %+v, %v", got, err)
	}
	steps, _, _ := store.Steps(ctx, models.KindInvitation, lost.ID, "", 10)
	if len(steps) != 2 || steps[1].Name != "failed" || steps[1].Detail == "" {
		t.Fatalf("its timeline: %+v", steps)
	}
	if got, _ := models.Find[models.Invitation](ctx, store, running.ID); got.Status != models.InvitationPending {
		t.Fatalf("the invitation whose workflow runs became %s", got.Status)
	}
	if len(f.owed(t)) != 0 {
		t.Fatal("checks still owed")
	}
}

// Every flow kind the spine knows can be closed when its workflow never started.
func TestEveryFlowKindCanBeClosedWithoutItsWorkflow(t *testing.T) {
	for _, fl := range workflows.Flows {
		if !api.ClosesUnstarted(fl.Kind) {
			t.Errorf("flow kind %s cannot be closed when its workflow never started", fl.Kind)
		}
	}
}
