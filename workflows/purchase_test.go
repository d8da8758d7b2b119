package workflows_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// purchaseWorld fakes Partner Center and the target's row for the Purchase workflow, with the
// onboarding's fakes for the onboarding that starts it.
type purchaseWorld struct {
	customerWorld
	purchaseCheckouts []activities.PurchaseCheckoutInput
	recorded          []activities.PurchaseChange
	targets           []activities.PurchaseTarget
	subscriptionsFor  activities.PurchaseSubscriptionsInput
}

func (w *purchaseWorld) RecordPurchase(
	_ context.Context, target activities.PurchaseTarget, ch activities.PurchaseChange,
) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.targets, w.recorded = append(w.targets, target), append(w.recorded, ch)
	w.steps = append(w.steps, ch.Step)
	return nil
}

func (w *purchaseWorld) BuildPurchaseCart(
	ctx context.Context, in activities.PurchaseCartInput,
) (workflows.CartState, error) {
	return w.BuildCart(ctx, activities.BuildCartInput{CustomerID: in.RequestID, Products: in.Products, Round: in.Round})
}

func (w *purchaseWorld) CheckoutPurchase(
	ctx context.Context, in activities.PurchaseCheckoutInput,
) (activities.CheckoutOutcome, error) {
	w.mu.Lock()
	w.purchaseCheckouts = append(w.purchaseCheckouts, in)
	w.mu.Unlock()
	return w.Checkout(ctx, activities.CheckoutInput{CustomerID: in.RequestID, CartID: in.CartID, Attempt: in.Attempt})
}

func (w *purchaseWorld) WaitPurchaseProvisioned(ctx context.Context, in activities.PurchaseOrders) error {
	return w.WaitProvisioned(ctx, in.CustomerTenantID, in.OrderIDs)
}

func (w *purchaseWorld) RecordPurchaseSubscriptions(
	ctx context.Context, in activities.PurchaseSubscriptionsInput,
) ([]activities.SubscriptionState, error) {
	w.mu.Lock()
	w.subscriptionsFor = in
	w.mu.Unlock()
	return w.RecordSubscriptions(ctx, in.RequestID, in.OrderIDs)
}

func purchaseInput() workflows.PurchaseInput {
	return workflows.PurchaseInput{
		RequestID: "req-1", PartnerID: "p", CustomerTenantID: "tenant-1",
		Products: []workflows.Product{{
			CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			Quantity:      10,
			BillingCycle:  "monthly",
			TermDuration:  "P1M",
		}},
		Reseller:       workflows.PurchaseReseller{ID: "res-1", TenantID: "rt", MPNID: "1234567"},
		SupportContact: true, Record: workflows.PurchaseTarget{Kind: models.KindOnboarding, ID: "cus-1"},
		Keeps: []string{"the tenant stays"},
	}
}

func newPurchaseEnv(w *purchaseWorld) *testsuite.TestWorkflowEnvironment {
	env := quietEnv()
	env.RegisterActivity(w)
	return env
}

func purchaseResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) (workflows.PurchaseState, error) {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	var st workflows.PurchaseState
	err := env.GetWorkflowResult(&st)
	return st, err
}

func TestPurchase(t *testing.T) {
	t.Run("review, checkout, provisioning, recorded onto the target", func(t *testing.T) {
		w := &purchaseWorld{customerWorld: customerWorld{notReady: 2}}
		env := newPurchaseEnv(w)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{By: "ops"}, nil)
		}, time.Hour)
		env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
		st, err := purchaseResult(t, env)
		if err != nil || st.Status != models.OnboardingCompleted || len(st.OrderIDs) != 1 ||
			len(st.Subscriptions) != 1 {
			t.Fatalf("state %+v err %v", st, err)
		}
		if !hasAll(w.steps, "cart-ready", "ordering", "ordered", "completed") || w.targets[0].ID != "cus-1" ||
			w.recorded[0].CartID == "" {
			t.Fatalf("steps %v targets %v recorded %+v", w.steps, w.targets, w.recorded)
		}
		if w.purchaseCheckouts[0].RequestID != "req-1" || w.purchaseCheckouts[0].CustomerTenantID != "tenant-1" ||
			w.subscriptionsFor.Target.ID != "cus-1" || !w.subscriptionsFor.SupportContact ||
			w.subscriptionsFor.Reseller.ID != "res-1" {
			t.Fatalf("checkouts %+v subscriptions for %+v", w.purchaseCheckouts, w.subscriptionsFor)
		}
	})
	t.Run("a refused checkout comes back to review with the reason; the fixed cart is bought", func(t *testing.T) {
		w := &purchaseWorld{customerWorld: customerWorld{refuseFirst: true}}
		env := newPurchaseEnv(w)
		var during workflows.PurchaseState
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			v, _ := env.QueryWorkflow(workflows.QueryPurchase)
			_ = v.Get(&during)
			update(t, env, workflows.UpdateCart, workflows.CartRequest{Products: []workflows.Product{{
				CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
				Quantity:      5,
				BillingCycle:  "monthly",
			}}}, nil)
		}, 2*time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 3*time.Hour)
		env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
		st, err := purchaseResult(t, env)
		if during.Status != models.OnboardingReview || during.CheckoutError == "" {
			t.Fatalf("after the refusal: %+v", during)
		}
		if err != nil || st.Status != models.OnboardingCompleted || len(w.purchaseCheckouts) != 2 ||
			w.purchaseCheckouts[1].Attempt != 2 ||
			w.lastProducts[0].Quantity != 5 || w.carts != 2 || !hasAll(w.steps, "checkout-refused") {
			t.Fatalf("state %+v err %v checkouts %+v carts %d steps %v", st, err, w.purchaseCheckouts, w.carts, w.steps)
		}
	})
	t.Run("cancel at review leaves the cart to expire and says what else stays", func(t *testing.T) {
		w := &purchaseWorld{}
		env := newPurchaseEnv(w)
		env.RegisterDelayedCallback(func() {
			update(
				t,
				env,
				workflows.UpdateCancel,
				workflows.CancelRequest{By: "ops", Reason: "changed their mind"},
				nil,
			)
		}, time.Hour)
		env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
		st, err := purchaseResult(t, env)
		want := "the tenant stays; the cart cart-1 was not bought and expires at Partner Center within 7 days"
		if err != nil || st.Status != models.StatusCancelled || st.Outcome != want || len(w.purchaseCheckouts) != 0 ||
			!hasAll(w.steps, models.StatusCancelled) {
			t.Fatalf("state %+v err %v steps %v", st, err, w.steps)
		}
	})
	t.Run("cancel after checkout is refused", func(t *testing.T) {
		w := &purchaseWorld{customerWorld: customerWorld{notReady: 3}}
		env := newPurchaseEnv(w)
		var late error
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCancel, workflows.CancelRequest{}, &late)
		}, time.Hour+time.Second)
		env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
		st, err := purchaseResult(t, env)
		if late == nil || err != nil || st.Status != models.OnboardingCompleted {
			t.Fatalf("cancel after checkout %v, state %+v err %v", late, st, err)
		}
	})
	t.Run("a reseller failing verification fails the purchase with the reason, recorded", func(t *testing.T) {
		w := &purchaseWorld{customerWorld: customerWorld{resellerFails: true}}
		env := newPurchaseEnv(w)
		env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
		_, err := purchaseResult(t, env)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || !hasAll(w.steps, models.StatusFailed) {
			t.Fatalf("err %v steps %v", err, w.steps)
		}
	})
}

func TestCustomerOnboardingBuysThroughItsPurchase(t *testing.T) {
	t.Run("the onboarding starts its Purchase with what it needs, names it, and ends as it ends", func(t *testing.T) {
		w := &purchaseWorld{}
		env := newPurchaseEnv(w)
		var got workflows.PurchaseInput
		var during workflows.OnboardingState
		var refused error
		bought := workflows.PurchaseState{
			Status:        models.OnboardingCompleted,
			Cart:          workflows.CartState{ID: "cart-1"},
			OrderIDs:      []string{"order-1"},
			Subscriptions: []activities.SubscriptionState{{ID: "sub-1"}},
		}
		env.OnWorkflow(workflows.Purchase, mockAny, mockAny).Return(func(
			_ workflow.Context, in workflows.PurchaseInput,
		) (workflows.PurchaseState, error) {
			got = in
			return bought, nil
		}).After(3 * time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			v, _ := env.QueryWorkflow(workflows.QueryOnboarding)
			_ = v.Get(&during)
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, &refused)
		}, 2*time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingCompleted || len(st.Subscriptions) != 1 ||
			st.Cart.ID != "cart-1" {
			t.Fatalf("state %+v err %v", st, err)
		}
		if during.PurchaseWorkflowID != "purchase/tenant-new/cus-1" || refused == nil {
			t.Fatalf("during the purchase %+v, the onboarding's own checkout %v", during, refused)
		}
		if got.RequestID != "cus-1" || got.CustomerTenantID != "tenant-new" ||
			got.Record != (workflows.PurchaseTarget{Kind: models.KindOnboarding, ID: "cus-1"}) ||
			got.Reseller.MPNID != "1234567" || len(got.Products) != 1 || len(got.Keeps) != 1 {
			t.Fatalf("purchase input %+v", got)
		}
	})
}

// disconnectedPurchaseWorld answers the App+User call of recording the subscriptions (the
// support contact) as Partner Center does without the partner's connection, until connected.
type disconnectedPurchaseWorld struct {
	*purchaseWorld
	connected bool
	calls     int
}

func (w *disconnectedPurchaseWorld) RecordPurchaseSubscriptions(
	ctx context.Context, in activities.PurchaseSubscriptionsInput,
) ([]activities.SubscriptionState, error) {
	w.mu.Lock()
	connected := w.connected
	w.calls++
	w.mu.Unlock()
	if !connected {
		return nil, temporal.NewNonRetryableApplicationError(
			"Partner Center needs the partner's sign-in",
			activities.ErrTypeConnectionNeeded,
			nil,
		)
	}
	return w.purchaseWorld.RecordPurchaseSubscriptions(ctx, in)
}

// A Purchase waits for the Partner Center connection visibly, as every flow does, and resumes
// when a global admin connects; it neither fails nor retries into a storm.
func TestAPurchaseWaitsForTheConnection(t *testing.T) {
	w := &disconnectedPurchaseWorld{purchaseWorld: &purchaseWorld{}}
	env := quietEnv()
	env.RegisterActivity(w)
	env.RegisterDelayedCallback(func() {
		update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{By: "ops"}, nil)
	}, time.Hour)
	var waiting workflows.PurchaseState
	env.RegisterDelayedCallback(func() {
		v, _ := env.QueryWorkflow(workflows.QueryPurchase)
		_ = v.Get(&waiting)
		w.mu.Lock()
		w.connected = true
		w.mu.Unlock()
		env.SignalWorkflow(workflows.SignalConnected, nil)
	}, 5*time.Hour)
	env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
	st, err := purchaseResult(t, env)
	if err != nil || st.Status != models.OnboardingCompleted || len(st.Subscriptions) != 1 {
		t.Fatalf("state %+v err %v", st, err)
	}
	if waiting.Status != models.OnboardingProvisioning || waiting.ConnectionWaits != 1 {
		t.Fatalf("while waiting: %+v", waiting)
	}
	if !hasAll(w.steps, workflows.StepConnectionNeeded, workflows.StepConnectionResumed, "completed") {
		t.Fatalf("the wait is not on the target's timeline: %v", w.steps)
	}
	if w.calls > 6 {
		t.Fatalf("the support contact was tried %d times while waiting", w.calls)
	}
}

// recordFlowStatuses collects the FlowStatus search attribute each upsert sets.
func recordFlowStatuses(env *testsuite.TestWorkflowEnvironment) *[]string {
	var statuses []string
	env.OnUpsertTypedSearchAttributes(mock.Anything).Run(func(args mock.Arguments) {
		if status, ok := args.Get(0).(temporal.SearchAttributes).GetKeyword(workflows.FlowStatusKey); ok {
			statuses = append(statuses, status)
		}
	}).Return(nil)
	return &statuses
}

func TestAPurchaseAndItsOnboardingSayInFlowStatusWhereTheyStand(t *testing.T) {
	t.Run("the Purchase sets its status at every step", func(t *testing.T) {
		w := &purchaseWorld{}
		env := newPurchaseEnv(w)
		statuses := recordFlowStatuses(env)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, time.Hour)
		env.ExecuteWorkflow(workflows.Purchase, purchaseInput())
		if st, err := purchaseResult(t, env); err != nil || st.Status != models.OnboardingCompleted {
			t.Fatalf("state %+v err %v", st, err)
		}
		want := []string{
			models.OnboardingReview,
			models.OnboardingOrdering,
			models.OnboardingProvisioning,
			models.OnboardingCompleted,
		}
		if !slices.Equal(*statuses, want) {
			t.Fatalf("FlowStatus set to %v, want %v", *statuses, want)
		}
	})
	t.Run("the onboarding is purchasing while its Purchase runs, then ends as it ends", func(t *testing.T) {
		w := &purchaseWorld{}
		env := newPurchaseEnv(w)
		statuses := recordFlowStatuses(env)
		var during []string
		env.OnWorkflow(workflows.Purchase, mockAny, mockAny).Return(
			func(workflow.Context, workflows.PurchaseInput) (workflows.PurchaseState, error) {
				during = slices.Clone(*statuses)
				return workflows.PurchaseState{Status: models.OnboardingCompleted}, nil
			}).After(3 * time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		if st, err := customerResult(t, env); err != nil || st.Status != models.OnboardingCompleted {
			t.Fatalf("state %+v err %v", st, err)
		}
		if len(during) == 0 || during[len(during)-1] != workflows.StatusPurchasing {
			t.Fatalf("FlowStatus while the Purchase ran: %v, want it to end in %q", during, workflows.StatusPurchasing)
		}
		if last := (*statuses)[len(*statuses)-1]; last != models.OnboardingCompleted {
			t.Fatalf("FlowStatus set to %v, want it to end in %q", *statuses, models.OnboardingCompleted)
		}
	})
}
