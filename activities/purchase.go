package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// PurchaseTarget is the flow row a purchase records its steps, status and subscriptions onto:
// the flow that asked for it owns the timeline the partner reads.
type PurchaseTarget struct {
	Kind string
	ID   string
}

// PurchaseReseller is the reseller a purchase goes through: its partnership row, tenant and
// PartnerID, verified again just before the cart is made. The zero value buys directly.
type PurchaseReseller struct {
	ID       string
	TenantID string
	MPNID    string
}

// PurchaseChange is a step of a purchase with the columns of the target's row it sets.
type PurchaseChange struct {
	Status        string
	Step          string
	StepDetail    string
	StepKey       string
	At            time.Time
	CartID        string
	OrderIDs      string
	CheckoutError string
	FailureReason string
}

// RecordPurchase writes a step of a purchase onto its target's row and timeline; idempotent by
// the change's StepKey.
func (a *Activities) RecordPurchase(ctx context.Context, target PurchaseTarget, ch PurchaseChange) error {
	switch target.Kind {
	case models.KindOnboarding:
		return record(ctx, a.cfg.Store, target.Kind, target.ID, models.OnboardingChange{
			Status: ch.Status, Step: ch.Step, StepDetail: ch.StepDetail, StepKey: ch.StepKey, At: ch.At,
			Set: models.Onboarding{
				CartID:        ch.CartID,
				OrderIDs:      ch.OrderIDs,
				CheckoutError: ch.CheckoutError,
				FailureReason: ch.FailureReason,
			},
		})
	}
	return temporal.NewNonRetryableApplicationError("a purchase cannot record onto a "+target.Kind, ErrTypeRefused, nil)
}

// PurchaseCartInput asks for the cart of a purchase's products; RequestID and Round key its
// request ID, so a retried call never makes a second cart.
type PurchaseCartInput struct {
	RequestID        string
	PartnerID        string
	CustomerTenantID string
	Reseller         PurchaseReseller
	Products         []models.Product
	Round            int
}

// BuildPurchaseCart verifies the reseller again, just before the purchase, and creates the cart
// with its PartnerID as transaction_reseller on every line. A reseller that no longer passes
// ends the purchase with the reason (non-retryable).
func (a *Activities) BuildPurchaseCart(ctx context.Context, in PurchaseCartInput) (CartState, error) {
	if in.Reseller.ID != "" {
		if err := a.verifyResellerForPurchase(ctx, in.PartnerID, in.Reseller); err != nil {
			return CartState{}, err
		}
	}
	cart := partnercenter.Cart{}
	for i, p := range in.Products {
		line := partnercenter.CartLineItem{
			ID:            i,
			CatalogItemID: p.CatalogItemID,
			Quantity:      p.Quantity,
			BillingCycle:  p.BillingCycle,
			TermDuration:  p.TermDuration,
		}
		if in.Reseller.MPNID != "" {
			line.Participants = []partnercenter.Participant{
				{Key: partnercenter.ParticipantTransactionReseller, Value: in.Reseller.MPNID},
			}
		}
		cart.LineItems = append(cart.LineItems, line)
	}
	made, err := a.cfg.PartnerCenter.CreateCart(
		partnercenter.WithRequestID(ctx, fmt.Sprintf("%s/cart/%d", in.RequestID, in.Round)),
		in.CustomerTenantID,
		cart,
	)
	if err != nil {
		var pcErr *partnercenter.Error
		if errors.As(err, &pcErr) && !pcErr.Retryable() {
			return cartOf(cart, pcErr), nil
		}
		return CartState{}, a.serviceError(ctx, "create the cart", err)
	}
	return cartOf(made, nil), nil
}

// PurchaseCheckoutInput checks out a purchase's cart; RequestID and Attempt key the request ID,
// so a retry after a lost answer gets the first result, never a second order.
type PurchaseCheckoutInput struct {
	RequestID        string
	CustomerTenantID string
	CartID           string
	Attempt          int
}

// CheckoutPurchase buys the cart, once per attempt. A refusal the partner can fix comes back as
// the reason, with each line's error, not as a failure.
func (a *Activities) CheckoutPurchase(ctx context.Context, in PurchaseCheckoutInput) (CheckoutOutcome, error) {
	res, err := a.cfg.PartnerCenter.CheckoutCart(
		partnercenter.WithRequestID(ctx, fmt.Sprintf("%s/checkout/%d", in.RequestID, in.Attempt)),
		in.CustomerTenantID,
		in.CartID,
	)
	if err != nil {
		var pcErr *partnercenter.Error
		if errors.As(err, &pcErr) && !pcErr.Retryable() {
			return CheckoutOutcome{Reason: "checkout refused: " + refusalText(pcErr.Code, pcErr.Error())}, nil
		}
		return CheckoutOutcome{}, a.serviceError(ctx, "check out the cart", err)
	}
	var out CheckoutOutcome
	for _, o := range res.Orders {
		out.OrderIDs = append(out.OrderIDs, o.ID)
	}
	var reasons []string
	for _, e := range res.OrderErrors {
		reasons = append(reasons, refusalText(e.Code, e.Description))
	}
	if len(out.OrderIDs) == 0 {
		out.Reason = "checkout refused: " + strings.Join(reasons, "; ")
	}
	return out, nil
}

// PurchaseOrders names a purchase's placed orders in the customer's tenant.
type PurchaseOrders struct {
	CustomerTenantID string
	OrderIDs         []string
}

// WaitPurchaseProvisioned returns once every line of the orders is fulfilled (retryable
// NotReady until then).
func (a *Activities) WaitPurchaseProvisioned(ctx context.Context, in PurchaseOrders) error {
	for _, id := range in.OrderIDs {
		st, err := a.cfg.PartnerCenter.GetOrderProvisioningStatus(ctx, in.CustomerTenantID, id)
		if err != nil {
			return a.serviceError(ctx, "read the provisioning of order "+id, err)
		}
		for _, item := range st.Items {
			if !strings.EqualFold(item.Status, "fulfilled") {
				return notReady(fmt.Sprintf("order %s line %d is %s", id, item.LineItemNumber, item.Status))
			}
		}
	}
	return nil
}

// PurchaseSubscriptionsInput records a purchase's subscriptions onto its target; with
// SupportContact the reseller becomes their support contact.
type PurchaseSubscriptionsInput struct {
	RequestID        string
	CustomerTenantID string
	OrderIDs         []string
	Reseller         PurchaseReseller
	SupportContact   bool
	Target           PurchaseTarget
}

// RecordPurchaseSubscriptions records the orders' subscriptions with their reseller and, when
// asked, makes the reseller their support contact.
func (a *Activities) RecordPurchaseSubscriptions(
	ctx context.Context,
	in PurchaseSubscriptionsInput,
) ([]SubscriptionState, error) {
	pc := a.cfg.PartnerCenter
	subs, err := pc.ListSubscriptions(ctx, in.CustomerTenantID)
	if err != nil {
		return nil, a.serviceError(ctx, "list the customer's subscriptions", err)
	}
	var reseller *models.Reseller
	if in.Reseller.ID != "" && in.SupportContact {
		if reseller, err = models.Find[models.Reseller](ctx, a.cfg.Store, in.Reseller.ID); err != nil {
			return nil, fmt.Errorf("load reseller %s: %w", in.Reseller.ID, err)
		}
	}
	var rows []models.CustomerSubscription
	var out []SubscriptionState
	for _, s := range subs {
		if !slices.Contains(in.OrderIDs, s.OrderID) {
			continue
		}
		support := ""
		if reseller != nil {
			_, err := pc.UpdateSupportContact(
				partnercenter.WithRequestID(ctx, in.RequestID+"/support/"+s.ID),
				in.CustomerTenantID,
				s.ID,
				partnercenter.SupportContact{
					SupportTenantID: reseller.TenantID, SupportMPNID: reseller.MPNID, Name: reseller.CompanyName,
				},
			)
			if err != nil {
				return nil, a.serviceError(ctx, "make the reseller the support contact of "+s.ID, err)
			}
			support = reseller.CompanyName
		}
		rows = append(rows, models.CustomerSubscription{
			ID:             s.ID,
			CustomerID:     in.Target.ID,
			OrderID:        s.OrderID,
			OfferID:        s.OfferID,
			Name:           s.FriendlyName,
			Quantity:       s.Quantity,
			Status:         s.Status,
			PartnerID:      s.PartnerID,
			SupportContact: support,
			CreatedAt:      time.Now().UTC(),
		})
		out = append(out, SubscriptionState{
			ID:        s.ID,
			OfferID:   s.OfferID,
			Name:      s.FriendlyName,
			Quantity:  s.Quantity,
			Status:    s.Status,
			PartnerID: s.PartnerID,
		})
	}
	if err := a.cfg.Store.SaveSubscriptions(ctx, rows); err != nil {
		return nil, fmt.Errorf("record the subscriptions of %s %s: %w", in.Target.Kind, in.Target.ID, err)
	}
	return out, nil
}

// verifyResellerForPurchase checks, just before the purchase, that the reseller is still an
// active partner of partnerID whose agreement is signed.
func (a *Activities) verifyResellerForPurchase(ctx context.Context, partnerID string, r PurchaseReseller) error {
	if _, err := a.cfg.Store.ActiveReseller(ctx, partnerID, r.TenantID); err != nil {
		return temporal.NewNonRetryableApplicationError(
			"the reseller is no longer an active partner: its purchase cannot go through",
			ErrTypeRefused,
			err,
		)
	}
	v, err := a.VerifyReseller(ctx, r.MPNID)
	if err != nil {
		return err
	}
	if !v.OK {
		return temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("the reseller failed verification before the purchase (%s: %s)", v.Code, v.Reason),
			ErrTypeRefused,
			nil,
		)
	}
	return nil
}
