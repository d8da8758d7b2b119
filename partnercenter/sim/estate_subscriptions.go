package sim

import (
	"net/http"
	"slices"
	"strings"

	pc "github.com/partnerflow/partnerflow/partnercenter"
)

// A subscription changed outside partnerflow: the partner (or Microsoft) changing its seats or
// suspending it in Partner Center, as "Change the quantity of a subscription" and "Suspend a
// subscription" do with PATCH /v1/customers/{customer-tenant-id}/subscriptions/{subscription-id}.
// The simulator offers it as an admin action (POST /sim/partner-actions/update-subscription), so
// that tests can change the estate the sync reads. The subscription keeps the wire format of
// Partner Center's Subscription resource:
// https://learn.microsoft.com/en-us/partner-center/developer/subscription-resources#subscription
// (quantity, status: none, active, pending, suspended, expired, deleted, disabled).

// subscriptionUpdate is the admin action's body: the customer, the subscription, and what
// changes (a field left out stays as it is).
type subscriptionUpdate struct {
	CustomerID     string  `json:"customerId"`
	SubscriptionID string  `json:"subscriptionId"`
	Quantity       *int    `json:"quantity,omitempty"`
	Status         *string `json:"status,omitempty"`
}

// updatableStatuses are the statuses a partner can set on a subscription by PATCH: suspend it,
// reactivate it, or cancel it (deleted).
var updatableStatuses = []string{
	pc.SubscriptionStatusActive, pc.SubscriptionStatusSuspended, pc.SubscriptionStatusDeleted,
}

// postUpdateSubscription changes a customer's subscription and answers it as Partner Center's
// GET would; refused: an unknown customer or subscription (404 not-found), a quantity below one or
// a status the partner cannot set (400 invalid-input).
func (s *Server) postUpdateSubscription(w http.ResponseWriter, r *http.Request) {
	var in subscriptionUpdate
	if err := decode(r, &in); err != nil {
		refuse(http.StatusBadRequest, ReasonInvalidInput, err.Error()).write(w)
		return
	}
	sub := s.st.Subscriptions[strings.ToLower(in.SubscriptionID)]
	if sub == nil || !strings.EqualFold(sub.CustomerID, in.CustomerID) {
		refuse(http.StatusNotFound, ReasonNotFound, "The customer has no subscription "+in.SubscriptionID+".").write(w)
		return
	}
	if in.Quantity != nil && *in.Quantity < 1 {
		refuse(http.StatusBadRequest, ReasonInvalidInput, "quantity must be at least 1").write(w)
		return
	}
	if in.Status != nil && !slices.Contains(updatableStatuses, *in.Status) {
		refuse(http.StatusBadRequest, ReasonInvalidInput,
			"status must be one of "+strings.Join(updatableStatuses, ", ")).write(w)
		return
	}
	if in.Quantity != nil {
		sub.Subscription.Quantity = *in.Quantity
	}
	if in.Status != nil {
		sub.Subscription.Status = *in.Status
	}
	s.st.mark(kindSubscription, sub.Subscription.ID)
	writeJSON(w, http.StatusOK, sub.Subscription)
}
