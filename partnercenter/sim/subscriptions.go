package sim

import (
	"net/http"
	"slices"
	"strings"
	"time"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// The partner changes an existing subscription with "Update a subscription by ID":
// PATCH /v1/customers/{customer-tenant-id}/subscriptions/{subscription-id} with the whole
// Subscription resource, the fields to change set; Partner Center answers 200 with the updated
// resource. The articles that use it: "Change the quantity of a subscription", "Suspend a
// subscription", "Update autorenew for a ... new commerce subscription", "Cancel a ...
// subscription" (status deleted). App and App+User credentials. The refusals below are rows of
// the error code table (partner-center/developer/error-codes); the new-commerce windows are the
// cancellation policy's seven calendar days (partner-center/customers/new-commerce-cancellation-
// policy): cancellation and seat reductions only inside them, increases at any time.
//
// Since December 1, 2025 Partner Center validates the partner of record on changes to existing
// subscriptions as on new orders ("Indirect provider tasks in Partner Center"): a seat change
// on a subscription whose reseller is no longer an authorized indirect reseller of the
// provider is refused with that reseller's refusal, unless the same PATCH names a valid one.
// Which changes Microsoft validates exactly is not documented; the simulator validates seat
// changes and partner changes (a distributor's notice lists seat count, billing plan and term,
// not auto-renewal).

// patchSubscription is "Update a subscription by ID".
func (s *Server) patchSubscription(w http.ResponseWriter, r *http.Request) {
	rec := s.subscription(w, r)
	if rec == nil {
		return
	}
	var in subscriptionPatch
	if err := decode(r, &in); err != nil {
		s.pcFail(w, http.StatusBadRequest, pc.CodeInvalidRequestInput, "Invalid request input: %v", err)
		return
	}
	next, ref := s.subscriptionChange(rec.Subscription, in, s.now())
	if ref != nil {
		s.pcFail(w, ref.status, ref.code, "%s", ref.message)
		return
	}
	rec.Subscription = next
	s.st.mark(kindSubscription, next.ID)
	writeJSON(w, http.StatusOK, next)
}

// subscriptionPatch is the PATCH body: the Subscription resource, with the two fields whose zero
// value is a change (auto-renew off, no reseller) told apart from their absence.
type subscriptionPatch struct {
	pc.Subscription
	AutoRenewEnabled *bool   `json:"autoRenewEnabled"`
	PartnerID        *string `json:"partnerId"`
}

// subscriptionChange applies the changeable fields of in to cur, or refuses them as Partner
// Center does. The articles send the whole resource; a field the body leaves out (or empty:
// status, billing cycle, friendly name; zero: quantity) keeps its value.
func (s *Server) subscriptionChange(cur pc.Subscription, in subscriptionPatch, now time.Time) (
	pc.Subscription, *cartRefusal,
) {
	next := cur
	if cur.Status == pc.SubscriptionStatusDeleted {
		return cur, refuseCart(http.StatusBadRequest, pc.CodeSubscriptionDeleted,
			"Subscription with ID %s and deleted status can't be updated.", cur.ID)
	}
	if in.BillingCycle != "" && !strings.EqualFold(in.BillingCycle, cur.BillingCycle) {
		return cur, refuseCart(http.StatusBadRequest, pc.CodeBillingCycleNotUpdatable,
			"The billing cycle for an existing subscription can't be updated using update-subscription operation. "+
				"Use update-Order operation.")
	}
	if in.Status != "" {
		if !slices.Contains(updatableStatuses, in.Status) {
			return cur, refuseCart(http.StatusBadRequest, pc.CodeInvalidRequestInput,
				"Invalid request input: status must be one of %s.", strings.Join(updatableStatuses, ", "))
		}
		next.Status = in.Status
	}
	if in.FriendlyName != "" {
		next.FriendlyName = in.FriendlyName
	}
	nce := cur.ProductType != nil && cur.ProductType.ID == "OnlineServicesNCE"
	windowOpen := cur.CancellationAllowedUntilDate.IsZero() || !now.After(cur.CancellationAllowedUntilDate.Time)
	seats := in.Quantity != 0 && in.Quantity != cur.Quantity
	if seats {
		item, _, known := lookupCatalog(cur.OfferID)
		switch {
		case cur.BillingType == "usage":
			return cur, refuseCart(http.StatusBadRequest, pc.CodeSeatsNotUpdatable,
				"Can't update seat quantity of subscription %s.", cur.ID)
		case cur.Status == pc.SubscriptionStatusSuspended && next.Status != pc.SubscriptionStatusActive:
			return cur, refuseCart(http.StatusBadRequest, pc.CodeSubscriptionSuspended,
				"Can't update a subscription with suspended status.")
		case in.Quantity < 1 || known && (in.Quantity < item.MinQuantity || in.Quantity > item.MaxQuantity):
			return cur, refuseCart(http.StatusBadRequest, pc.CodeSubscriptionQuantityOutOfRange,
				"Subscription quantity isn't within minimum and maximum allowed quantity.")
		case nce && in.Quantity < cur.Quantity && !windowOpen:
			return cur, refuseCart(http.StatusBadRequest, pc.CodeSeatReductionWindowPassed,
				"You have passed your %d-day window for reducing seats for this subscription.", windowDays)
		}
		next.Quantity = in.Quantity
	}
	if next.Status == pc.SubscriptionStatusDeleted && nce && !windowOpen {
		return cur, refuseCart(http.StatusBadRequest, pc.CodeCancellationWindowPassed,
			"You have passed your %d-day cancellation window. We are unable to cancel your purchase.", windowDays)
	}
	if in.AutoRenewEnabled != nil && cur.BillingType != "usage" { // usage has no renewal to turn off
		next.AutoRenewEnabled = *in.AutoRenewEnabled
	}
	partner := cur.PartnerID
	if in.PartnerID != nil {
		partner = strings.TrimSpace(*in.PartnerID)
	}
	if partner != cur.PartnerID || seats && partner != "" {
		if ref := s.checkPartnerOfRecord(partner); ref != nil {
			return cur, ref
		}
		next.PartnerID = partner
	}
	return next, nil
}

// windowDays is the new-commerce cancellation window in days, as the refusals word it.
const windowDays = int(cancellationWindow / (24 * time.Hour))

// checkPartnerOfRecord refuses a PartnerID that cannot be a subscription's partner of record:
// the provider's own (404 2072), then the cart's reseller checks (800015, 800016, 900123). An
// empty PartnerID (no reseller) is allowed.
func (s *Server) checkPartnerOfRecord(mpn string) *cartRefusal {
	switch {
	case mpn == "":
		return nil
	case mpn == s.home.MPNID:
		return refuseCart(http.StatusNotFound, pc.CodeProviderNotPartnerOfRecord,
			"PartnerID of Indirect Provider isn't valid as Partner On Record.")
	}
	return s.checkReseller(mpn)
}

// validateResellers is "Validate reseller partner of record" (POST /v1/partners/validateresellers,
// body {"partnerIds": [...]}): one result per ID, valid when it may be a partner of record. The
// article's example shows errorCode 900400 for an invalid one; its full description text was not
// retrievable here, so the simulator's description names the reason the cart would give.
func (s *Server) validateResellers(w http.ResponseWriter, r *http.Request) {
	var in struct {
		PartnerIDs []string `json:"partnerIds"`
	}
	if err := decode(r, &in); err != nil || len(in.PartnerIDs) == 0 {
		s.pcFail(w, http.StatusBadRequest, pc.CodeInvalidRequestInput, "Invalid request input: partnerIds is required.")
		return
	}
	results := make([]pc.PartnerOfRecordValidation, len(in.PartnerIDs))
	for i, id := range in.PartnerIDs {
		results[i] = pc.PartnerOfRecordValidation{PartnerID: id, IsValidPartnerIDOnRecord: true}
		if ref := s.checkPartnerOfRecord(strings.TrimSpace(id)); ref != nil || strings.TrimSpace(id) == "" {
			results[i] = pc.PartnerOfRecordValidation{
				PartnerID: id, ErrorCode: pc.CodeInvalidPartnerOfRecord,
				ErrorDescription: "The PLA ID (formerly MPN ID) " + id + " isn't a valid partner of record.",
			}
			if ref != nil {
				results[i].ErrorDescription += " " + ref.message
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"validationResults": results})
}
