package workflows_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// customerWorld fakes Partner Center, the mail server and the app database for the onboarding
// workflow.
type customerWorld struct {
	mu             sync.Mutex
	tenants        int
	mails          []string
	attested       int
	carts          int
	checkouts      []activities.CheckoutInput
	refuseFirst    bool // the first checkout is refused with 10002
	resellerFails  bool // the reseller fails verification at purchase
	notReady       int  // WaitProvisioned answers NotReady this often first
	agreementAtPC  bool // Partner Center already holds the MCA
	steps          []string
	lastProducts   []workflows.Product
	subscriptionsN int
}

func (w *customerWorld) RecordCustomer(_ context.Context, _ string, ch models.OnboardingChange) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if ch.Step != "" {
		w.steps = append(w.steps, ch.Step)
	}
	return nil
}

func (w *customerWorld) CreateTenant(context.Context, string) (activities.TenantResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.tenants++
	return activities.TenantResult{TenantID: "tenant-new", Domain: "contosoit.onmicrosoft.com"}, nil
}

func (w *customerWorld) SendCustomerMail(_ context.Context, m activities.CustomerMail) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.mails = append(w.mails, m.Kind)
	return nil
}

func (w *customerWorld) CheckAgreement(context.Context, string) (bool, error) {
	return w.agreementAtPC, nil
}

func (w *customerWorld) AttestAgreement(context.Context, string) (string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.attested++
	return "attested", nil
}

func (w *customerWorld) BuildCart(_ context.Context, in activities.BuildCartInput) (workflows.CartState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.resellerFails {
		return workflows.CartState{}, temporal.NewNonRetryableApplicationError(
			"the reseller failed verification before the purchase (2203: not signed)",
			"PartnerCenterRefusal",
			nil,
		)
	}
	w.carts++
	w.lastProducts = in.Products
	cart := workflows.CartState{ID: "cart-" + string(rune('0'+in.Round))}
	for _, p := range in.Products {
		cart.Lines = append(cart.Lines, activities.CartLine{
			CatalogItemID: p.CatalogItemID,
			Quantity:      p.Quantity,
			Reseller:      "1234567",
		})
	}
	return cart, nil
}

func (w *customerWorld) Checkout(_ context.Context, in activities.CheckoutInput) (activities.CheckoutOutcome, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.checkouts = append(w.checkouts, in)
	if w.refuseFirst && len(w.checkouts) == 1 {
		return activities.CheckoutOutcome{
			Reason: "checkout refused: a quantity is not allowed for the item (10002)",
		}, nil
	}
	return activities.CheckoutOutcome{OrderIDs: []string{"order-1"}}, nil
}

func (w *customerWorld) WaitProvisioned(context.Context, string, []string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.notReady > 0 {
		w.notReady--
		return temporal.NewApplicationError("order order-1 line 1 is pending", "NotReady")
	}
	return nil
}

func (w *customerWorld) RecordSubscriptions(context.Context, string, []string) ([]activities.SubscriptionState, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.subscriptionsN++
	return []activities.SubscriptionState{{
		ID:        "sub-1",
		OfferID:   "CFQ7TTC0LFLZ:0002",
		Quantity:  10,
		Status:    "active",
		PartnerID: "1234567",
	}}, nil
}

func customerInput(env *testsuite.TestWorkflowEnvironment) workflows.OnboardingInput {
	return workflows.OnboardingInput{
		CustomerID: "cus-1", PartnerID: "p", CompanyName: "Contoso Italia",
		Domain: "contosoit.onmicrosoft.com", Language: "it",
		ContactEmail: "maria@contoso.it", PartnerContact: "ops@provider.example",
		ResellerID: "res-1", ResellerMPNID: "1234567",
		Products: []workflows.Product{{
			CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			Quantity:      10,
			BillingCycle:  "monthly",
			TermDuration:  "P1M",
		}},
		ExpiresAt: env.Now().Add(30 * day),
		Policy: workflows.WaitPolicy{
			Reminders:     []time.Duration{3 * day},
			RepeatEvery:   7 * day,
			EscalateAfter: 2,
			PollEvery:     time.Hour,
		},
	}
}

// newCustomerEnv runs onboardings that buy inline, as those started before their purchase was
// a workflow of its own (purchase_test.go covers the Purchase).
func newCustomerEnv(w *customerWorld) *testsuite.TestWorkflowEnvironment {
	env := quietEnv()
	env.RegisterActivity(w)
	env.OnGetVersion("purchase-child", workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	return env
}

// update sends an update from a delayed callback and reports a rejection to the test.
func update(t *testing.T, env *testsuite.TestWorkflowEnvironment, name string, arg any, rejected *error) {
	env.UpdateWorkflow(name, name+"-"+env.Now().String(), &testsuite.TestUpdateCallback{
		OnReject: func(err error) {
			if rejected != nil {
				*rejected = err
				return
			}
			t.Errorf("%s refused: %v", name, err)
		},
		OnAccept: func() {}, OnComplete: func(any, error) {},
	}, arg)
}

func customerResult(t *testing.T, env *testsuite.TestWorkflowEnvironment) (workflows.OnboardingState, error) {
	t.Helper()
	if !env.IsWorkflowCompleted() {
		t.Fatal("the workflow did not complete")
	}
	var st workflows.OnboardingState
	err := env.GetWorkflowResult(&st)
	return st, err
}

func TestCustomerOnboarding(t *testing.T) {
	t.Run("the partner attests, the cart is checked out, "+
		"the subscriptions are provisioned after a delay", func(t *testing.T) {
		w := &customerWorld{notReady: 3}
		env := newCustomerEnv(w)
		env.RegisterDelayedCallback(func() {
			update(
				t,
				env,
				workflows.UpdateAgreement,
				workflows.AgreementNotice{Method: models.AgreementByPartner, By: "ops"},
				nil,
			)
		}, day)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{By: "ops"}, nil)
		}, 2*day)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingCompleted || st.CustomerTenantID != "tenant-new" ||
			w.tenants != 1 || w.attested != 1 {
			t.Fatalf("state %+v err %v tenants %d attested %d", st, err, w.tenants, w.attested)
		}
		if len(st.Subscriptions) != 1 || st.Subscriptions[0].PartnerID != "1234567" || len(st.OrderIDs) != 1 {
			t.Fatalf("subscriptions %+v orders %v", st.Subscriptions, st.OrderIDs)
		}
		if !hasAll(
			w.steps,
			"started",
			"tenant-created",
			"awaiting-agreement",
			"agreement-requested",
			"agreement-attested",
			"cart-ready",
			"ordering",
			"ordered",
			"completed",
		) {
			t.Fatalf("steps %v", w.steps)
		}
	})
	t.Run("an invited customer needs no tenant; the customer signs before the reminder", func(t *testing.T) {
		w := &customerWorld{}
		env := newCustomerEnv(w)
		in := customerInput(env)
		in.CustomerTenantID = "tenant-existing"
		env.RegisterDelayedCallback(func() {
			update(
				t,
				env,
				workflows.UpdateAgreement,
				workflows.AgreementNotice{Method: models.AgreementByCustomer},
				nil,
			)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 2*time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, in)
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingCompleted || w.tenants != 0 ||
			st.CustomerTenantID != "tenant-existing" || st.AgreementMethod != models.AgreementByCustomer {
			t.Fatalf("state %+v err %v tenants %d", st, err, w.tenants)
		}
		if len(w.mails) != 1 || w.mails[0] != activities.MailAgreementRequest {
			t.Fatalf("mails %v", w.mails)
		}
	})
	t.Run("nobody accepts: reminders, an escalation to the partner, expired", func(t *testing.T) {
		w := &customerWorld{}
		env := newCustomerEnv(w)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingExpired || st.RemindersSent != 4 || !st.Escalated ||
			w.carts != 0 {
			t.Fatalf("state %+v err %v carts %d", st, err, w.carts)
		}
		if !hasAll(w.mails, activities.MailAgreementReminder, activities.MailAgreementEscalation) {
			t.Fatalf("mails %v", w.mails)
		}
	})
	t.Run("an agreement already at Partner Center is found by polling", func(t *testing.T) {
		w := &customerWorld{agreementAtPC: true}
		env := newCustomerEnv(w)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 2*time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingCompleted || st.AgreementMethod != "already at Partner Center" {
			t.Fatalf("state %+v err %v", st, err)
		}
	})
	t.Run("cancel at review: the tenant stays, the cart is left to expire", func(t *testing.T) {
		w := &customerWorld{}
		env := newCustomerEnv(w)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			update(
				t,
				env,
				workflows.UpdateCancel,
				workflows.CancelRequest{By: "ops", Reason: "changed their mind"},
				nil,
			)
		}, day)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingCancelled || len(w.checkouts) != 0 || st.Outcome == "" {
			t.Fatalf("state %+v err %v", st, err)
		}
	})
	t.Run("checkout refused, the partner fixes the cart and checks out again", func(t *testing.T) {
		w := &customerWorld{refuseFirst: true}
		env := newCustomerEnv(w)
		var during workflows.OnboardingState
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 2*time.Hour)
		env.RegisterDelayedCallback(func() {
			v, _ := env.QueryWorkflow(workflows.QueryOnboarding)
			_ = v.Get(&during)
			update(t, env, workflows.UpdateCart, workflows.CartRequest{Products: []workflows.Product{{
				CatalogItemID: "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
				Quantity:      5,
				BillingCycle:  "monthly",
			}}}, nil)
		}, 3*time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 4*time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if during.Status != models.OnboardingReview || during.CheckoutError == "" {
			t.Fatalf("after the refusal: %+v", during)
		}
		if err != nil || st.Status != models.OnboardingCompleted || len(w.checkouts) != 2 ||
			w.checkouts[1].Attempt != 2 || w.lastProducts[0].Quantity != 5 || w.carts != 2 {
			t.Fatalf("state %+v err %v checkouts %+v carts %d", st, err, w.checkouts, w.carts)
		}
	})
	t.Run("checking out again after a refusal makes a new cart", func(t *testing.T) {
		w := &customerWorld{refuseFirst: true}
		env := newCustomerEnv(w)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 2*time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 3*time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if err != nil || st.Status != models.OnboardingCompleted || w.carts != 2 || len(w.checkouts) != 2 ||
			w.checkouts[0].CartID == w.checkouts[1].CartID {
			t.Fatalf("state %+v err %v carts %d checkouts %+v", st, err, w.carts, w.checkouts)
		}
	})
	t.Run("a reseller failing verification at purchase ends the onboarding with the reason", func(t *testing.T) {
		w := &customerWorld{resellerFails: true}
		env := newCustomerEnv(w)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, time.Hour)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		var appErr *temporal.ApplicationError
		if !errors.As(err, &appErr) || st.Status != "" && st.Status != models.OnboardingFailed {
			t.Fatalf("state %+v err %v", st, err)
		}
		if !hasAll(w.steps, models.OnboardingFailed) {
			t.Fatalf("steps %v", w.steps)
		}
	})
	t.Run("checkout and cart changes are refused before review, cancel after ordering", func(t *testing.T) {
		w := &customerWorld{notReady: 3}
		env := newCustomerEnv(w)
		var early, lateCancel error
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, &early)
		}, time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateAgreement, workflows.AgreementNotice{Method: models.AgreementByPartner}, nil)
		}, 2*time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCheckout, workflows.CheckoutRequest{}, nil)
		}, 3*time.Hour)
		env.RegisterDelayedCallback(func() {
			update(t, env, workflows.UpdateCancel, workflows.CancelRequest{}, &lateCancel)
		}, 3*time.Hour+time.Second)
		env.ExecuteWorkflow(workflows.Onboarding, customerInput(env))
		st, err := customerResult(t, env)
		if early == nil || lateCancel == nil || err != nil || st.Status != models.OnboardingCompleted {
			t.Fatalf("early checkout %v, cancel after ordering %v, state %+v err %v", early, lateCancel, st, err)
		}
	})
}
