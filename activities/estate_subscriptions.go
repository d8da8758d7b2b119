package activities

import (
	"context"
	"errors"
	"net/http"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// SubscriptionReadsPerPass bounds the customers whose subscriptions one pass reads. Partner Center
// lists subscriptions one customer at a time ("Get a customer's subscriptions"), a call each: 200
// calls are 40 seconds of the sync's budget, so an estate of N customers is read in N/200 passes
// and then again, least recently read first.
const SubscriptionReadsPerPass = models.DirectorySubscriptionReadsPerPass

// EstateSubscriptions asks for the pass's read of its customers' subscriptions.
type EstateSubscriptions struct {
	PartnerID string
	Pass      models.DirectoryPass
	// Limit bounds the customers the pass reads (0: SubscriptionReadsPerPass). Customers the pass
	// already read count against it, so a retried activity reads only the rest.
	Limit int
}

// EstateSubscriptionsResult is what the read found: the customers read (refused ones included),
// those Partner Center refused, and the changes written.
type EstateSubscriptionsResult struct {
	Read    int
	Refused int
	Changes int
}

// SyncCustomerSubscriptions reads the subscriptions of the customers due (models.
// DirectorySubscriptionsDue) into the directory, one call each within the partner's call budget.
// Partner Center refusing one customer (a customer the partner lost access to, say) is recorded
// for that customer and the read goes on; an error worth retrying fails the activity, whose retry
// skips the customers already read.
func (a *Activities) SyncCustomerSubscriptions(ctx context.Context, in EstateSubscriptions) (
	EstateSubscriptionsResult, error,
) {
	defer estateHeartbeat(ctx)()
	var out EstateSubscriptionsResult
	limit := in.Limit
	if limit <= 0 {
		limit = SubscriptionReadsPerPass
	}
	store := a.cfg.Store
	due, err := store.DirectorySubscriptionsDue(ctx, in.PartnerID, in.Pass.Pass, limit)
	if err != nil {
		return out, err
	}
	for _, tenant := range due {
		if err := a.waitEstateCall(ctx, in.PartnerID); err != nil {
			return out, err
		}
		subs, err := a.cfg.PartnerCenter.ListSubscriptions(ctx, tenant)
		if reason, refused := customerRefusal(err); refused {
			if err := store.RefuseDirectorySubscriptions(ctx, in.Pass, in.PartnerID, tenant, reason,
				a.cfg.Now()); err != nil {
				return out, err
			}
			out.Read++
			out.Refused++
			continue
		}
		if err != nil {
			return out, a.serviceError(ctx, "list the subscriptions of customer "+tenant, err)
		}
		rows := make([]models.DirectorySubscription, 0, len(subs))
		for _, s := range subs {
			rows = append(rows, directorySubscription(s))
		}
		n, err := store.SaveDirectorySubscriptions(ctx, in.Pass, in.PartnerID, tenant, rows, a.cfg.Now())
		if err != nil {
			return out, err
		}
		out.Read++
		out.Changes += n
	}
	return out, nil
}

// customerRefusal tells Partner Center's refusal to list one customer's subscriptions (403: the
// partner may no longer act for it; 404: it is no longer the partner's) from a failure of the
// call itself. Throttling, server errors and the partner's own credentials (401, a connection
// needed) are not the customer's doing: they fail the activity as any estate call does.
func customerRefusal(err error) (string, bool) {
	var pcErr *partnercenter.Error
	if err == nil || partnercenter.NeedsConnection(err) || !errors.As(err, &pcErr) {
		return "", false
	}
	if pcErr.Retryable() || pcErr.StatusCode == http.StatusUnauthorized {
		return "", false
	}
	return pcErr.Error(), true
}

// directorySubscription is a Partner Center subscription as the directory keeps it.
func directorySubscription(s partnercenter.Subscription) models.DirectorySubscription {
	row := models.DirectorySubscription{
		ID: s.ID, OfferID: s.OfferID, OfferName: s.OfferName, FriendlyName: s.FriendlyName, Quantity: s.Quantity,
		Status: s.Status, BillingCycle: s.BillingCycle, TermDuration: s.TermDuration, AutoRenew: s.AutoRenewEnabled,
		ResellerPartnerID: s.PartnerID,
	}
	if !s.CommitmentEndDate.IsZero() {
		end := s.CommitmentEndDate.UTC()
		row.CommitmentEndsAt = &end
	}
	return row
}
