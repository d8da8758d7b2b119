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

// QueryPurchase returns the live PurchaseState. A purchase takes UpdateCart, UpdateCheckout and
// UpdateCancel, as the onboarding did before its purchase was a workflow of its own.
const QueryPurchase = "purchase"

// PurchaseWorkflowID is the workflow ID of one purchase: one per customer tenant and request.
func PurchaseWorkflowID(customerTenantID, requestID string) string {
	return "purchase/" + customerTenantID + "/" + requestID
}

// PurchaseTarget is the flow row a purchase records onto.
type PurchaseTarget = activities.PurchaseTarget

// PurchaseReseller is the reseller a purchase goes through.
type PurchaseReseller = activities.PurchaseReseller

// PurchaseInput starts a purchase: everything it needs, so that any flow can buy (a new
// customer's onboarding, an order for an existing customer, a trial's conversion).
type PurchaseInput struct {
	// RequestID keys the workflow ID and Partner Center's request IDs (carts, checkouts,
	// support contacts), so a purchase never buys twice.
	RequestID        string
	PartnerID        string
	CustomerTenantID string
	Products         []Product
	Reseller         PurchaseReseller
	// SupportContact makes the reseller the subscriptions' support contact.
	SupportContact bool
	// Record is the row whose status and timeline show the purchase, and whose subscriptions
	// they are.
	Record PurchaseTarget
	// Keeps says what else stays when the purchase is cancelled (the cancelled step's outcome
	// names it with the unbought cart).
	Keeps         []string
	ContinueAfter int
	Carry         *PurchaseCarry `json:",omitempty"`
}

// PurchaseCarry is what a purchase's run hands to the next at review.
type PurchaseCarry struct {
	State PurchaseState
	Round int
}

// PurchaseState is the live state the query returns and the workflow's result. Status is
// empty until the first cart is under review.
type PurchaseState struct {
	Status           string
	Cart             CartState
	CheckoutAttempts int
	CheckoutError    string
	OrderIDs         []string
	Subscriptions    []activities.SubscriptionState
	FailureReason    string
	Outcome          string
	// ConnectionWaits counts the waits for the Partner Center connection (their step keys).
	ConnectionWaits int `json:",omitempty"`
}

// Purchase buys products for a customer's tenant: it builds the cart (with the reseller's
// PartnerID) for review, checks it out when the partner says so (a refusal comes back to review
// with the reason, to fix and check out again; a repeated checkout never buys twice), and
// waits until the subscriptions are provisioned and recorded. Cancel is taken at review.
func Purchase(ctx workflow.Context, in PurchaseInput) (PurchaseState, error) {
	w := &purchaseImpl{in: in, products: in.Products}
	if err := w.setup(ctx); err != nil {
		return w.state, err
	}
	return w.run(ctx)
}

type purchaseImpl struct {
	in       PurchaseInput
	state    PurchaseState
	products []Product
	round    int
	// cartChanged, checkout and cancelled are the partner's pending decisions at review.
	cartChanged bool
	checkout    *CheckoutRequest
	cancelled   *CancelRequest
}

func (w *purchaseImpl) setup(ctx workflow.Context) error {
	if w.in.ContinueAfter <= 0 {
		w.in.ContinueAfter = DefaultContinueAsNewAfter
	}
	if c := w.in.Carry; c != nil {
		w.state, w.round = c.State, c.Round
	}
	if err := serveState(ctx, QueryPurchase, &w.state); err != nil {
		return err
	}
	atReview := func() error {
		if w.cancelled != nil || w.state.Status != models.OnboardingReview || w.checkout != nil || w.cartChanged {
			return fmt.Errorf(
				"the purchase is %s: the cart can be changed or bought only while it is under review",
				w.currentStatus(),
			)
		}
		return nil
	}
	err := workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateCart,
		func(ctx workflow.Context, req CartRequest) (PurchaseState, error) {
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
	)
	if err != nil {
		return err
	}
	err = workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateCheckout,
		func(ctx workflow.Context, req CheckoutRequest) (PurchaseState, error) {
			// The update answers once ordering has begun: the caller follows the order on the status.
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
	if err != nil {
		return err
	}
	// A placed order cannot be withdrawn: cancel is taken until checkout starts.
	return workflow.SetUpdateHandlerWithOptions(
		ctx,
		UpdateCancel,
		func(ctx workflow.Context, req CancelRequest) (PurchaseState, error) {
			w.cancelled = &req
			err := workflow.Await(ctx, func() bool { return w.state.Status == models.StatusCancelled })
			return w.state, err
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, _ CancelRequest) error {
			if w.cancelled != nil ||
				(w.state.Status != "" && w.state.Status != models.OnboardingReview) ||
				w.checkout != nil {
				return fmt.Errorf("the purchase is %s and can no longer be cancelled", w.currentStatus())
			}
			return nil
		}},
	)
}

func (w *purchaseImpl) currentStatus() string {
	switch {
	case w.cancelled != nil:
		return models.StatusCancelled
	case w.state.Status == "":
		return "making its cart"
	}
	return w.state.Status
}

// run builds the cart for review, checks it out when the partner says so, and waits for the
// subscriptions. A refused checkout returns to review with the reason.
func (w *purchaseImpl) run(ctx workflow.Context) (PurchaseState, error) {
	// needBuild: no cart yet; fresh: the cart under review was never checked out.
	needBuild, fresh := w.in.Carry == nil, w.in.Carry != nil && w.state.CheckoutError == ""
	for {
		if needBuild || w.cartChanged {
			needBuild = false
			if err := w.buildCart(ctx); err != nil {
				return w.finishFailed(ctx, err)
			}
			fresh = true
		}
		for w.checkout == nil && !w.cartChanged && w.cancelled == nil {
			if info := workflow.GetInfo(ctx); (info.GetCurrentHistoryLength() >= w.in.ContinueAfter ||
				info.GetContinueAsNewSuggested()) &&
				workflow.AllHandlersFinished(ctx) {
				next := w.in
				next.Products, next.Carry = w.products, &PurchaseCarry{State: w.state, Round: w.round}
				return w.state, workflow.NewContinueAsNewError(ctx, Purchase, next)
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
			// A refused cart is made anew before it is checked out again: Partner Center answers a
			// checked-out cart with its first result.
			if err := w.buildCart(ctx); err != nil {
				return w.finishFailed(ctx, err)
			}
		}
		fresh = false
		w.state.CheckoutAttempts++
		w.setStatus(ctx, models.OnboardingOrdering, activities.PurchaseChange{
			Step:       "ordering",
			StepKey:    w.key("ordering", w.state.CheckoutAttempts),
			StepDetail: "checkout by " + w.checkout.By,
		})
		var out activities.CheckoutOutcome
		err := w.callService(ctx, withServiceCalls, &out, a.CheckoutPurchase, activities.PurchaseCheckoutInput{
			RequestID: w.in.RequestID, CustomerTenantID: w.in.CustomerTenantID,
			CartID: w.state.Cart.ID, Attempt: w.state.CheckoutAttempts,
		})
		if err != nil {
			return w.finishFailed(ctx, err)
		}
		if len(out.OrderIDs) == 0 {
			w.state.CheckoutError = out.Reason
			if len(out.Lines) > 0 {
				w.state.Cart.Lines = out.Lines
			}
			w.checkout = nil
			w.setStatus(ctx, models.OnboardingReview, activities.PurchaseChange{
				CheckoutError: out.Reason,
				Step:          "checkout-refused",
				StepKey:       w.key("checkout-refused", w.state.CheckoutAttempts),
				StepDetail:    out.Reason,
			})
			continue
		}
		w.state.CheckoutError = ""
		w.state.OrderIDs, w.checkout = out.OrderIDs, nil
		return w.provision(ctx)
	}
}

// key keys a step that repeats, on the target's timeline.
func (w *purchaseImpl) key(step string, n int) string {
	return fmt.Sprintf("%s/%s/%d", w.in.Record.ID, step, n)
}

// buildCart makes the cart of the current products and puts it under review.
func (w *purchaseImpl) buildCart(ctx workflow.Context) error {
	w.round++
	var cart CartState
	err := w.callService(ctx, withServiceCalls, &cart, a.BuildPurchaseCart, activities.PurchaseCartInput{
		RequestID: w.in.RequestID, PartnerID: w.in.PartnerID,
		CustomerTenantID: w.in.CustomerTenantID, Reseller: w.in.Reseller,
		Products: w.products, Round: w.round,
	})
	if err != nil {
		return err
	}
	w.state.Cart, w.cartChanged = cart, false
	w.setStatus(ctx, models.OnboardingReview, activities.PurchaseChange{CartID: cart.ID, Step: "cart-ready",
		StepKey: w.key("cart-ready", w.round), StepDetail: cartSummary(cart)})
	return nil
}

// provision waits until every order's subscriptions are provisioned and records them.
func (w *purchaseImpl) provision(ctx workflow.Context) (PurchaseState, error) {
	w.setStatus(ctx, models.OnboardingProvisioning, activities.PurchaseChange{
		OrderIDs:   strings.Join(w.state.OrderIDs, ","),
		Step:       "ordered",
		StepDetail: "orders " + strings.Join(w.state.OrderIDs, ", "),
	})
	orders := activities.PurchaseOrders{CustomerTenantID: w.in.CustomerTenantID, OrderIDs: w.state.OrderIDs}
	if err := w.callService(ctx, withStatusPolling, nil, a.WaitPurchaseProvisioned, orders); err != nil {
		return w.finishFailed(ctx, err)
	}
	err := w.callService(
		ctx,
		withServiceCalls,
		&w.state.Subscriptions,
		a.RecordPurchaseSubscriptions,
		activities.PurchaseSubscriptionsInput{
			RequestID: w.in.RequestID, CustomerTenantID: w.in.CustomerTenantID, OrderIDs: w.state.OrderIDs,
			Reseller: w.in.Reseller, SupportContact: w.in.SupportContact, Target: w.in.Record,
		},
	)
	if err != nil {
		return w.finishFailed(ctx, err)
	}
	names := make([]string, 0, len(w.state.Subscriptions))
	for _, s := range w.state.Subscriptions {
		names = append(names, fmt.Sprintf("%d × %s (%s)", s.Quantity, firstNonEmpty(s.Name, s.OfferID), s.ID))
	}
	w.setStatus(ctx, models.OnboardingCompleted, activities.PurchaseChange{
		Step:       "completed",
		StepDetail: strings.Join(names, ", "),
	})
	err = workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
	return w.state, err
}

// finishCancelled ends a purchase cancelled at review, saying what stays: an unpurchased cart
// is left to expire (Partner Center deletes carts after 7 days), and what the input keeps.
func (w *purchaseImpl) finishCancelled(ctx workflow.Context) (PurchaseState, error) {
	kept := append([]string(nil), w.in.Keeps...)
	if w.state.Cart.ID != "" {
		kept = append(kept, "the cart "+w.state.Cart.ID+" was not bought and expires at Partner Center within 7 days")
	}
	w.state.Outcome = strings.Join(kept, "; ")
	detail := strings.TrimSpace(w.cancelled.By + ": " + w.cancelled.Reason)
	if w.state.Outcome != "" {
		detail = strings.TrimPrefix(detail+"; "+w.state.Outcome, "; ")
	}
	w.checkout, w.cartChanged = nil, false
	w.setStatus(ctx, models.StatusCancelled, activities.PurchaseChange{
		Step:       models.StatusCancelled,
		StepDetail: detail,
	})
	return w.state, nil
}

// finishFailed records a refusal that retrying cannot fix and fails the workflow with it.
func (w *purchaseImpl) finishFailed(ctx workflow.Context, cause error) (PurchaseState, error) {
	dctx, _ := workflow.NewDisconnectedContext(ctx)
	reason := rootMessage(cause)
	w.state.FailureReason = reason
	w.setStatus(dctx, models.StatusFailed, activities.PurchaseChange{
		FailureReason: reason,
		Step:          models.StatusFailed,
		StepDetail:    reason,
	})
	return w.state, temporal.NewNonRetryableApplicationError(reason, "PurchaseFailed", cause)
}

// callService runs a Partner Center activity, waiting visibly for the partner's connection while
// it needs one, as every flow does: the step on the target's timeline, FlowStatus on this
// workflow (its PartnerId comes with the start, so connecting again resumes it).
func (w *purchaseImpl) callService(
	ctx workflow.Context, withOptions func(workflow.Context) workflow.Context, out any, activity any, args ...any,
) error {
	return connectionWaiter{
		id:     w.in.Record.ID + "/purchase",
		status: w.currentStatus,
		record: func(ctx workflow.Context, step, detail, key string) {
			w.record(ctx, activities.PurchaseChange{Step: step, StepDetail: detail, StepKey: key})
		},
		cancelled: func() bool { return w.cancelled != nil },
		waits:     &w.state.ConnectionWaits,
	}.call(ctx, withOptions, out, activity, args...)
}

// changePurchaseFlowStatus is the change after which a Purchase sets its FlowStatus search
// attribute at every status, as every flow does, so Temporal's lists show where it stands.
const changePurchaseFlowStatus = "purchase-flow-status"

// setStatus records the change onto the target's row, then shows the status live and in the
// FlowStatus search attribute. A failed write is logged; the purchase goes on.
func (w *purchaseImpl) setStatus(ctx workflow.Context, status string, ch activities.PurchaseChange) {
	ch.Status = status
	w.record(ctx, ch)
	w.state.Status = status
	if workflow.GetVersion(ctx, changePurchaseFlowStatus, workflow.DefaultVersion, 1) == 1 {
		upsertFlowStatus(ctx, status)
	}
}

// record writes a change onto the target's row and timeline; a failed write is logged.
func (w *purchaseImpl) record(ctx workflow.Context, ch activities.PurchaseChange) {
	ch.At = workflow.Now(ctx)
	if ch.StepKey == "" {
		ch.StepKey = w.in.Record.ID + "/" + ch.Step
	}
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		ScheduleToCloseTimeout: 10 * time.Minute,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumInterval: time.Minute},
	})
	if err := workflow.ExecuteLocalActivity(lctx, a.RecordPurchase, w.in.Record, ch).Get(lctx, nil); err != nil {
		workflow.GetLogger(ctx).Error(
			"could not record the step",
			"kind", w.in.Record.Kind,
			"id", w.in.Record.ID,
			"step", ch.Step,
			"error", err,
		)
	}
}
