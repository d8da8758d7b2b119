package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/models"
)

// OnboardingFlow describes customer onboarding: a new tenant (or an invited customer's), proof
// that the customer accepted the Microsoft Customer Agreement, a cart with the reseller's
// PartnerID reviewed and checked out, and the subscriptions it provisions.
var OnboardingFlow = Flow{
	Kind: models.KindOnboarding,
	// Type is the name running and recorded onboardings were started under; it outlives the Go name.
	Type:     "CustomerOnboarding",
	Workflow: Onboarding,
	Helpers:  []any{Purchase},
	Query:    QueryOnboarding,
	Updates:  []string{UpdateResend, UpdateCancel, UpdateAgreement, UpdateCart, UpdateCheckout},
}

// Names of the onboarding's messages.
const (
	// QueryOnboarding returns the live OnboardingState; its wire name predates the Go name.
	QueryOnboarding = "customer"
	// UpdateAgreement tells the workflow that proof of the customer's acceptance was recorded.
	UpdateAgreement = "agreement"
	// UpdateCart replaces the products of a cart under review (to fix what checkout refused).
	UpdateCart = "cart"
	// UpdateCheckout buys the cart under review.
	UpdateCheckout = "checkout"
)

// OnboardingWorkflowID is the workflow ID of one onboarding.
func OnboardingWorkflowID(customerID string) string { return "customer/" + customerID }

// Product is one line the partner orders.
type Product = models.Product

// OnboardingInput starts an onboarding. It holds no secret: the tenant's password never leaves the
// activity that creates the tenant, and the agreement link is derived by the activity that
// mails it.
type OnboardingInput struct {
	CustomerID string
	PartnerID  string
	// CustomerTenantID is an invited customer's tenant; empty means a new tenant is created.
	CustomerTenantID string
	// The reseller the customer buys through, when there is one: its partnership row, tenant and
	// PartnerID (verified again just before purchase).
	ResellerID       string
	ResellerTenantID string
	ResellerMPNID    string
	CompanyName      string
	Domain           string
	Language         string
	// ContactEmail is the customer's contact, who is asked to accept the agreement; PartnerContact
	// hears of escalations.
	ContactEmail   string
	PartnerContact string
	Products       []Product
	// SupportContact makes the reseller the subscriptions' support contact.
	SupportContact bool
	// ExpiresAt ends the wait for the agreement.
	ExpiresAt time.Time
	Policy    WaitPolicy
	Carry     *Carry[OnboardingState] `json:",omitempty"`
}

// CartState is the cart under review, as BuildCart returns it and the query shows it.
type CartState = activities.CartState

// CartLine is one line of the cart under review.
type CartLine = activities.CartLine

// OnboardingState is the live state the query returns and the workflow's result.
type OnboardingState struct {
	Status            string
	CustomerTenantID  string
	Domain            string
	AgreementAccepted bool
	AgreementMethod   string
	// AgreementAttested says the proof went to Partner Center.
	AgreementAttested bool
	RemindersSent     int
	Escalated         bool
	Cart              CartState
	// CheckoutAttempts counts checkouts; CheckoutError says why the last did not buy, in plain
	// words, so the partner can fix the cart.
	CheckoutAttempts int
	CheckoutError    string
	OrderIDs         []string
	Subscriptions    []activities.SubscriptionState
	FailureReason    string
	// Outcome says what a cancel undid and what stays.
	Outcome string
	// PurchaseWorkflowID names the onboarding's Purchase, which holds the cart from review on;
	// empty for onboardings that buy inline (started before changePurchaseChild).
	PurchaseWorkflowID string `json:",omitempty"`
}

// WithPurchase is the onboarding's state showing its purchase's progress: the purchase holds
// the cart, the checkout and the subscriptions, and its status once it has one.
func (s OnboardingState) WithPurchase(p PurchaseState) OnboardingState {
	if p.Status != "" {
		s.Status = p.Status
	}
	s.Cart, s.CheckoutAttempts, s.CheckoutError = p.Cart, p.CheckoutAttempts, p.CheckoutError
	s.OrderIDs, s.Subscriptions = p.OrderIDs, p.Subscriptions
	if p.FailureReason != "" {
		s.FailureReason = p.FailureReason
	}
	if p.Outcome != "" {
		s.Outcome = p.Outcome
	}
	return s
}

// AgreementNotice tells the workflow that the agreement's acceptance is on record.
type AgreementNotice struct {
	Method string
	By     string
}

// CartRequest replaces the products of the cart under review.
type CartRequest struct {
	By       string
	Products []Product
}

// CheckoutRequest buys the cart under review.
type CheckoutRequest struct {
	By string
}

// Onboarding brings a customer to its first subscriptions: it creates the tenant (once,
// whatever the retries), waits durably for proof that the customer accepted the Microsoft
// Customer Agreement (the partner's attestation or the customer's signature on partnerflow's
// page; reminders, escalation, resend, cancel, expiry) and sends it to Partner Center, builds
// the cart with the reseller's PartnerID for review, checks it out when the partner says so
// (refusals come back to review with the reason, to fix and check out again), and waits until
// the subscriptions are provisioned.
func Onboarding(ctx workflow.Context, in OnboardingInput) (OnboardingState, error) {
	w := &onboardingImpl{in: in}
	if err := w.setup(ctx); err != nil {
		return w.state, err
	}
	return w.run(ctx)
}

type onboardingImpl struct {
	*flow[models.Onboarding]
	in       OnboardingInput
	state    OnboardingState
	started  time.Time
	products []Product
	// cartChanged and checkout are the partner's pending decisions at review.
	cartChanged bool
	checkout    *CheckoutRequest
	round       int
}

type onboardingChange = models.FlowChange[models.Onboarding]

func (w *onboardingImpl) setup(ctx workflow.Context) error {
	w.started = workflow.Now(ctx)
	w.state.Status = models.OnboardingCreating
	w.state.CustomerTenantID, w.state.Domain = w.in.CustomerTenantID, w.in.Domain
	w.products = w.in.Products
	if w.in.Policy.PollEvery <= 0 {
		w.in.Policy = DefaultWaitPolicy
	}
	w.flow = newFlow[models.Onboarding](
		models.KindOnboarding,
		a.RecordCustomer,
		w.in.CustomerID,
		&w.state.Status,
		w.in.Policy.ContinueAsNewAfter,
	)
	resume(w.flow, w.in.Carry, &w.state, &w.started)
	// The onboarding's state is not published with its steps (publishState): its Purchase records
	// into the same row without it, and the state changes when the Purchase ends without a step of
	// the onboarding's own, so its detail asks the workflows.
	if err := serveState(ctx, QueryOnboarding, &w.state); err != nil {
		return err
	}
	// A placed order cannot be withdrawn: cancel is taken until checkout starts.
	cancellable := func(s string) bool {
		return s == models.OnboardingCreating || s == models.OnboardingAwaitingAgreement || s == models.OnboardingReview
	}
	if err := serveWaitUpdates(ctx, w.flow, &w.state, cancellable, nil, w.agreement()); err != nil {
		return err
	}
	if err := workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateAgreement,
		func(ctx workflow.Context, n AgreementNotice) (OnboardingState, error) {
			w.state.AgreementAccepted, w.state.AgreementMethod = true, n.Method
			return w.state, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ AgreementNotice) error {
			if w.cancelled != nil || !cancellable(w.state.Status) || w.state.AgreementAccepted {
				return fmt.Errorf(
					"the onboarding is %s: its agreement is accepted already or it no longer waits for one",
					w.currentStatus(),
				)
			}
			return nil
		}},
	); err != nil {
		return err
	}
	atReview := func() error {
		if w.cancelled != nil || w.delegated || w.state.Status != models.OnboardingReview ||
			w.checkout != nil || w.cartChanged {
			return fmt.Errorf(
				"the onboarding is %s: the cart can be changed or bought only while it is under review",
				w.currentStatus(),
			)
		}
		return nil
	}
	if err := workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateCart,
		func(ctx workflow.Context, req CartRequest) (OnboardingState, error) {
			w.products, w.cartChanged = req.Products, true
			err := workflow.Await(ctx, func() bool { return !w.cartChanged })
			return w.state, err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, req CartRequest) error {
			if len(req.Products) == 0 {
				return fmt.Errorf("a cart needs at least one product")
			}
			return atReview()
		}},
	); err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateCheckout,
		func(ctx workflow.Context, req CheckoutRequest) (OnboardingState, error) {
			// The update answers once ordering has begun: Partner Center may be slow or retried, and
			// the caller follows the order on the onboarding's status.
			w.checkout = &req
			err := workflow.Await(ctx, func() bool {
				return w.checkout == nil || w.state.Status == models.OnboardingOrdering
			})
			return w.state, err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ CheckoutRequest) error {
			if err := atReview(); err != nil {
				return err
			}
			for _, l := range w.state.Cart.Lines {
				if l.Error != "" {
					return fmt.Errorf("the cart has refused lines (%s): change the products first", l.Error)
				}
			}
			return nil
		}},
	)
}

func (w *onboardingImpl) currentStatus() string {
	if w.cancelled != nil {
		return models.StatusCancelled
	}
	return w.state.Status
}

func (w *onboardingImpl) run(ctx workflow.Context) (OnboardingState, error) {
	if w.in.Carry == nil {
		if err := w.tryRecord(ctx, onboardingChange{
			Status: models.OnboardingCreating,
			Step:   "started",
		}); isFlowGone(err) {
			return w.state, nil
		}
		w.enter(ctx, models.OnboardingCreating)
	}
	if w.state.CustomerTenantID == "" {
		var t activities.TenantResult
		if err := w.callService(ctx, withServiceCalls, &t, a.CreateTenant, w.in.CustomerID); err != nil {
			return w.finishFailed(ctx, err)
		}
		w.state.CustomerTenantID, w.state.Domain = t.TenantID, t.Domain
		w.record(ctx, onboardingChange{
			Set:  models.Onboarding{CustomerTenantID: t.TenantID},
			Step: "tenant-created",
			StepDetail: t.Domain + " (" + t.TenantID + "); " +
				"the first admin's credentials are stored encrypted, to be revealed once",
		})
	}
	if !w.state.AgreementAccepted && w.state.Status != models.OnboardingAwaitingAgreement {
		w.setStatus(ctx, models.OnboardingAwaitingAgreement, onboardingChange{Step: "awaiting-agreement"})
		if err := w.mail(ctx, activities.MailAgreementRequest, 0, w.in.ContactEmail); err != nil {
			return w.finishFailed(ctx, err)
		}
		w.record(ctx, onboardingChange{Step: "agreement-requested", StepDetail: w.in.ContactEmail})
	}
	if !w.state.AgreementAccepted {
		outcome, err := w.waitFor(ctx, w.agreement())
		switch {
		case err != nil:
			return w.finishFailed(ctx, err)
		case outcome == models.StatusCancelled:
			return w.finishCancelled(ctx)
		case outcome != models.OnboardingReview:
			w.setStatus(ctx, outcome, onboardingChange{Step: outcome})
			return w.state, nil
		}
	}
	// The proof goes to Partner Center however early it came, even while the request was still
	// being mailed.
	if !w.state.AgreementAttested {
		var result string
		if err := w.callService(ctx, withServiceCalls, &result, a.AttestAgreement, w.in.CustomerID); err != nil {
			return w.finishFailed(ctx, err)
		}
		w.state.AgreementAttested = true
		w.record(ctx, onboardingChange{
			Step:       "agreement-attested",
			StepDetail: w.state.AgreementMethod + "; Partner Center: " + result,
		})
	}
	if w.buysInline(ctx) {
		return w.order(ctx)
	}
	return w.purchase(ctx)
}

// changePurchaseChild is the change after which an onboarding buys through its Purchase child
// workflow. Onboardings from before, and their continued runs that had a cart already, keep
// buying inline (order).
const changePurchaseChild = "purchase-child"

// changePurchasingStatus is the change after which an onboarding's FlowStatus search attribute
// is StatusPurchasing while its Purchase runs, instead of the status it had before.
const changePurchasingStatus = "purchasing-status"

// StatusPurchasing is the FlowStatus search attribute of an onboarding whose Purchase child holds
// its cart; the Purchase's own FlowStatus is the cart's status (review, ordering, provisioning).
const StatusPurchasing = "purchasing"

// buysInline reports whether the onboarding buys by itself, as before changePurchaseChild.
func (w *onboardingImpl) buysInline(ctx workflow.Context) bool {
	if c := w.in.Carry; c != nil && (c.State.Cart.ID != "" || c.State.CheckoutAttempts > 0) {
		return true
	}
	return workflow.GetVersion(ctx, changePurchaseChild, workflow.DefaultVersion, 1) == workflow.DefaultVersion
}

// purchase buys the onboarding's products through its Purchase, which records onto the
// onboarding's row and takes the cart, checkout and cancel updates (the onboarding takes none
// of its own meanwhile, nor a resend), and ends as it ends.
func (w *onboardingImpl) purchase(ctx workflow.Context) (OnboardingState, error) {
	var keeps []string
	if w.in.CustomerTenantID == "" && w.state.CustomerTenantID != "" {
		keeps = append(keeps, "the new tenant "+w.state.Domain+" stays: Microsoft keeps a created tenant")
	}
	in := PurchaseInput{
		RequestID: w.in.CustomerID, PartnerID: w.in.PartnerID,
		CustomerTenantID: w.state.CustomerTenantID, Products: w.products,
		Reseller: PurchaseReseller{
			ID:       w.in.ResellerID,
			TenantID: w.in.ResellerTenantID,
			MPNID:    w.in.ResellerMPNID,
		},
		SupportContact: w.in.SupportContact, Record: PurchaseTarget{Kind: models.KindOnboarding, ID: w.in.CustomerID},
		Keeps: keeps, ContinueAfter: w.in.Policy.ContinueAsNewAfter,
	}
	// The Purchase records the status from review on; the onboarding's own status stays until
	// it ends, and the API shows the Purchase's (WithPurchase). Its FlowStatus search attribute
	// says that the Purchase holds it, where the Purchase's own says how far it got.
	w.state.PurchaseWorkflowID, w.delegated = PurchaseWorkflowID(in.CustomerTenantID, in.RequestID), true
	if workflow.GetVersion(ctx, changePurchasingStatus, workflow.DefaultVersion, 1) == 1 {
		upsertFlowStatus(ctx, StatusPurchasing)
	}
	// Its PartnerId lets connecting to Partner Center again resume it (connection.WaitingQuery).
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{WorkflowID: w.state.PurchaseWorkflowID,
		TypedSearchAttributes: temporal.NewSearchAttributes(PartnerIDKey.ValueSet(in.PartnerID))})
	var bought PurchaseState
	err := workflow.ExecuteChildWorkflow(cctx, Purchase, in).Get(ctx, &bought)
	if err != nil {
		return w.finishFailed(ctx, err)
	}
	w.state = w.state.WithPurchase(bought)
	w.enter(ctx, bought.Status)
	err = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.state, err
}

// checkAgreement looks for an MCA attestation made at Partner Center outside partnerflow.
func (w *onboardingImpl) checkAgreement(ctx workflow.Context) error {
	var found bool
	if err := w.callService(ctx, withServiceCalls, &found, a.CheckAgreement, w.in.CustomerID); err != nil {
		return err
	}
	if found && !w.state.AgreementAccepted {
		w.state.AgreementAccepted, w.state.AgreementMethod = true, "already at Partner Center"
	}
	return nil
}

// agreement is the wait for proof that the customer accepted the Microsoft Customer Agreement,
// which ends in review, cancelled or expired. The customer's contact is reminded and the
// partner's contact hears of it once.
func (w *onboardingImpl) agreement() phase[models.Onboarding] {
	return phase[models.Onboarding]{
		name: "agreement", status: models.OnboardingAwaitingAgreement,
		policy: w.in.Policy, deadline: w.in.ExpiresAt,
		messages: messages[models.Onboarding]{
			send: w.mail, reminder: activities.MailAgreementReminder,
			resend: activities.MailAgreementResend, escalation: activities.MailAgreementEscalation,
			to: w.in.ContactEmail, contact: w.in.PartnerContact,
			reminded: func(seq int) models.Onboarding { return models.Onboarding{RemindersSent: seq} },
		},
		sent: &w.state.RemindersSent, escalated: &w.state.Escalated,
		decide: func() string {
			if w.state.AgreementAccepted {
				return models.OnboardingReview
			}
			return ""
		},
		check: w.checkAgreement,
		continueAsNew: func(ctx workflow.Context) error {
			next := w.in
			next.Carry = carry(w.flow, w.state, w.started)
			return workflow.NewContinueAsNewError(ctx, Onboarding, next)
		},
	}
}

// order builds the cart for review, checks it out when the partner says so, and waits for the
// subscriptions. A refused checkout returns to review with the reason.
func (w *onboardingImpl) order(ctx workflow.Context) (OnboardingState, error) {
	// needBuild: no cart yet; fresh: the cart under review was never checked out.
	needBuild, fresh := true, false
	for {
		if needBuild || w.cartChanged {
			needBuild = false
			if err := w.buildCart(ctx); err != nil {
				return w.finishFailed(ctx, err)
			}
			fresh = true
		}
		for w.checkout == nil && !w.cartChanged && w.cancelled == nil {
			if w.historyFull(ctx) {
				next := w.in
				next.Products, next.Carry = w.products, carry(w.flow, w.state, w.started)
				return w.state, workflow.NewContinueAsNewError(ctx, Onboarding, next)
			}
			if _, err := workflow.AwaitWithTimeout(ctx, 24*time.Hour, func() bool {
				return w.checkout != nil || w.cartChanged || w.cancelled != nil
			}); err != nil {
				return w.state, err
			}
		}
		switch {
		case w.cancelled != nil:
			return w.finishCancelled(ctx)
		case w.cartChanged:
			continue
		}
		if !fresh {
			// A refused cart is made anew before it is checked out again.
			if err := w.buildCart(ctx); err != nil {
				return w.finishFailed(ctx, err)
			}
		}
		fresh = false
		w.state.CheckoutAttempts++
		w.setStatus(ctx, models.OnboardingOrdering, onboardingChange{
			Step:       "ordering",
			StepKey:    fmt.Sprintf("%s/ordering/%d", w.in.CustomerID, w.state.CheckoutAttempts),
			StepDetail: "checkout by " + w.checkout.By,
		})
		var out activities.CheckoutOutcome
		err := workflow.ExecuteActivity(withServiceCalls(ctx), a.Checkout, activities.CheckoutInput{
			CustomerID: w.in.CustomerID,
			CartID:     w.state.Cart.ID,
			Attempt:    w.state.CheckoutAttempts,
		}).Get(ctx, &out)
		if err != nil {
			return w.finishFailed(ctx, err)
		}
		if len(out.OrderIDs) == 0 {
			// Refused: back to review with the reason. The partner changes the cart, or checks out
			// again once the cause is fixed elsewhere (a reseller signing its agreement); either way
			// a new cart is made, since Partner Center answers a checked-out cart with its first result.
			w.state.CheckoutError = out.Reason
			if len(out.Lines) > 0 {
				w.state.Cart.Lines = out.Lines
			}
			w.checkout = nil
			w.setStatus(ctx, models.OnboardingReview, onboardingChange{
				Set:        models.Onboarding{CheckoutError: out.Reason},
				Step:       "checkout-refused",
				StepKey:    fmt.Sprintf("%s/checkout-refused/%d", w.in.CustomerID, w.state.CheckoutAttempts),
				StepDetail: out.Reason,
			})
			continue
		}
		w.state.CheckoutError = ""
		w.state.OrderIDs, w.checkout = out.OrderIDs, nil
		return w.provision(ctx)
	}
}

// buildCart makes the cart of the current products and puts it under review.
func (w *onboardingImpl) buildCart(ctx workflow.Context) error {
	w.round++
	var cart CartState
	err := workflow.ExecuteActivity(withServiceCalls(ctx), a.BuildCart, activities.BuildCartInput{
		CustomerID: w.in.CustomerID,
		Products:   w.products,
		Round:      w.round,
	}).Get(ctx, &cart)
	if err != nil {
		return err
	}
	w.state.Cart, w.cartChanged = cart, false
	w.setStatus(ctx, models.OnboardingReview, onboardingChange{
		Set:        models.Onboarding{CartID: cart.ID},
		Step:       "cart-ready",
		StepKey:    fmt.Sprintf("%s/cart-ready/%d", w.in.CustomerID, w.round),
		StepDetail: cartSummary(cart),
	})
	return nil
}

func cartSummary(c CartState) string {
	parts := make([]string, 0, len(c.Lines))
	for _, l := range c.Lines {
		s := fmt.Sprintf("%d × %s", l.Quantity, firstNonEmpty(l.Name, l.CatalogItemID))
		if l.Reseller != "" {
			s += " via PartnerID " + l.Reseller
		}
		parts = append(parts, s)
	}
	return "cart " + c.ID + ": " + strings.Join(parts, ", ")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// provision waits until every order's subscriptions are provisioned and records them.
func (w *onboardingImpl) provision(ctx workflow.Context) (OnboardingState, error) {
	w.setStatus(ctx, models.OnboardingProvisioning, onboardingChange{
		Set:        models.Onboarding{OrderIDs: strings.Join(w.state.OrderIDs, ",")},
		Step:       "ordered",
		StepDetail: "orders " + strings.Join(w.state.OrderIDs, ", "),
	})
	if err := workflow.ExecuteActivity(
		withStatusPolling(ctx),
		a.WaitProvisioned,
		w.in.CustomerID,
		w.state.OrderIDs,
	).Get(ctx, nil); err != nil {
		return w.finishFailed(ctx, err)
	}
	if err := w.callService(
		ctx,
		withServiceCalls,
		&w.state.Subscriptions,
		a.RecordSubscriptions,
		w.in.CustomerID,
		w.state.OrderIDs,
	); err != nil {
		return w.finishFailed(ctx, err)
	}
	names := make([]string, 0, len(w.state.Subscriptions))
	for _, s := range w.state.Subscriptions {
		names = append(names, fmt.Sprintf("%d × %s (%s)", s.Quantity, firstNonEmpty(s.Name, s.OfferID), s.ID))
	}
	w.setStatus(ctx, models.OnboardingCompleted, onboardingChange{
		Step:       "completed",
		StepDetail: strings.Join(names, ", "),
	})
	err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.state, err
}

// finishCancelled ends a cancelled onboarding, saying what stays: a created tenant stays, as at
// Microsoft; an unpurchased cart is left to expire (Partner Center deletes carts after 7 days).
func (w *onboardingImpl) finishCancelled(ctx workflow.Context) (OnboardingState, error) {
	var kept []string
	if w.in.CustomerTenantID == "" && w.state.CustomerTenantID != "" {
		kept = append(kept, "the new tenant "+w.state.Domain+" stays: Microsoft keeps a created tenant")
	}
	if w.state.Cart.ID != "" {
		kept = append(kept, "the cart "+w.state.Cart.ID+" was not bought and expires at Partner Center within 7 days")
	}
	w.state.Outcome = strings.Join(kept, "; ")
	detail := w.cancelDetail()
	if w.state.Outcome != "" {
		detail = strings.TrimPrefix(detail+"; "+w.state.Outcome, "; ")
	}
	w.checkout, w.cartChanged = nil, false
	w.setStatus(ctx, models.OnboardingCancelled, onboardingChange{Step: models.OnboardingCancelled, StepDetail: detail})
	return w.state, nil
}

func (w *onboardingImpl) mail(ctx workflow.Context, kind string, seq int, to string) error {
	return workflow.ExecuteActivity(withServiceCalls(ctx), a.SendCustomerMail, activities.CustomerMail{
		CustomerID: w.in.CustomerID, Kind: kind, Seq: seq, To: to, ExpiresAt: w.in.ExpiresAt,
	}).Get(ctx, nil)
}

// finishFailed records a refusal that retrying cannot fix and fails the workflow with it.
func (w *onboardingImpl) finishFailed(ctx workflow.Context, cause error) (OnboardingState, error) {
	err := w.fail(
		ctx,
		cause,
		"CustomerOnboardingFailed",
		&w.state.FailureReason,
		func(r string) models.Onboarding { return models.Onboarding{FailureReason: r} },
		nil,
	)
	return w.state, err
}
