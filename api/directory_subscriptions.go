package api

import (
	"context"
	"strconv"
	"time"

	"github.com/partnerflow/partnerflow/models"
)

// A directory customer's subscriptions, as the estate sync last read them from Partner Center
// (a bounded number of customers each pass, so a customer's may be hours old or not read yet:
// the read says when, or why Partner Center refused).

// directorySubscriptionView is one subscription of a directory customer.
type directorySubscriptionView struct {
	ID           string `json:"id"`
	OfferID      string `json:"offerId"`
	OfferName    string `json:"offerName"`
	FriendlyName string `json:"friendlyName"`
	Quantity     int    `json:"quantity"`
	Status       string `json:"status"`
	TermDuration string `json:"termDuration"`
	BillingCycle string `json:"billingCycle"`
	// CommitmentEndsAt is absent when Partner Center gave no commitment end.
	CommitmentEndsAt *time.Time `json:"commitmentEndsAt,omitempty"`
	AutoRenew        bool       `json:"autoRenew"`
	// ResellerPartnerID is the indirect reseller's PartnerID (MPN ID) on record, "" when none.
	ResellerPartnerID string    `json:"resellerPartnerId"`
	Gone              bool      `json:"gone"`
	FirstSeenAt       time.Time `json:"firstSeenAt"`
	SeenAt            time.Time `json:"seenAt"`
	ChangedAt         time.Time `json:"changedAt"`
}

func viewDirectorySubscription(s models.DirectorySubscription) directorySubscriptionView {
	return directorySubscriptionView{
		ID: s.ID, OfferID: s.OfferID, OfferName: s.OfferName, FriendlyName: s.FriendlyName, Quantity: s.Quantity,
		Status: s.Status, TermDuration: s.TermDuration, BillingCycle: s.BillingCycle,
		CommitmentEndsAt: utcOrNil(s.CommitmentEndsAt), AutoRenew: s.AutoRenew, ResellerPartnerID: s.ResellerPartnerID,
		Gone: s.Gone, FirstSeenAt: s.FirstSeenAt.UTC(), SeenAt: s.SeenAt.UTC(), ChangedAt: s.ChangedAt.UTC(),
	}
}

// subscriptionsReadView is the latest read of a customer's subscriptions.
type subscriptionsReadView struct {
	// ReadAt is the latest attempt; ListedAt the latest Partner Center answered (absent while none
	// did), so the subscriptions shown are as of ListedAt.
	ReadAt   time.Time  `json:"readAt"`
	ListedAt *time.Time `json:"listedAt,omitempty"`
	Pass     int64      `json:"pass"`
	// Subscriptions is how many the latest listing held.
	Subscriptions int `json:"subscriptions"`
	// Error is why Partner Center refused the latest read ("" when it listed them).
	Error string `json:"error,omitempty"`
}

func viewSubscriptionsRead(r *models.DirectorySubscriptionRead) *subscriptionsReadView {
	if r == nil {
		return nil
	}
	return &subscriptionsReadView{ReadAt: r.ReadAt.UTC(), ListedAt: utcOrNil(r.ListedAt), Pass: r.Pass,
		Subscriptions: r.Subscriptions, Error: r.Error}
}

// customerSubscriptions loads a directory customer's subscriptions and their latest read.
func (s *Server) customerSubscriptions(ctx context.Context, tenantID string) (
	[]directorySubscriptionView, *subscriptionsReadView, error,
) {
	held, err := s.store.DirectoryCustomerSubscriptionsOf(ctx, s.flows.PartnerID, tenantID)
	if err != nil {
		return nil, nil, err
	}
	out := make([]directorySubscriptionView, len(held.Subscriptions))
	for i, sub := range held.Subscriptions {
		out[i] = viewDirectorySubscription(sub)
	}
	return out, viewSubscriptionsRead(held.Read), nil
}

// directorySubscriptionRow is one subscription on a customer's page.
type directorySubscriptionRow struct {
	ID          string
	Name        string
	Offer       string
	Quantity    int
	Status      string
	StatusClass string
	Term        string
	Commitment  string
	AutoRenew   string
	Reseller    string
	Gone        bool
}

func viewDirectorySubscriptionRow(v directorySubscriptionView) directorySubscriptionRow {
	r := directorySubscriptionRow{ID: v.ID, Name: v.FriendlyName, Offer: v.OfferName, Quantity: v.Quantity,
		Status:      v.Status,
		StatusClass: "pending", Term: v.TermDuration, Commitment: "—", AutoRenew: "no", Reseller: "direct",
		Gone: v.Gone}
	if r.Name == "" {
		r.Name = v.OfferName
	}
	if r.Offer == "" || r.Offer == r.Name {
		r.Offer = v.OfferID
	}
	switch {
	case v.Gone:
		r.StatusClass = "cancelled"
	case v.Status == "active":
		r.StatusClass = "active"
	case v.Status == "suspended", v.Status == "expired", v.Status == "deleted", v.Status == "disabled":
		r.StatusClass = "expired"
	}
	if v.BillingCycle != "" {
		if r.Term != "" {
			r.Term += ", "
		}
		r.Term += "billed " + v.BillingCycle
	}
	if v.CommitmentEndsAt != nil {
		r.Commitment = v.CommitmentEndsAt.Format(time.DateOnly)
	}
	if v.AutoRenew {
		r.AutoRenew = "yes"
	}
	if v.ResellerPartnerID != "" {
		r.Reseller = v.ResellerPartnerID
	}
	return r
}

// subscriptionsReadText says on the page when the subscriptions were read, or why they were not.
func subscriptionsReadText(r *subscriptionsReadView, now time.Time) (text string, refused bool) {
	switch {
	case r == nil:
		return "Not read yet: the estate sync reads " + strconv.Itoa(models.DirectorySubscriptionReadsPerPass) +
			" customers' subscriptions a pass, those never read first.", false
	case r.Error != "" && r.ListedAt != nil:
		return "Partner Center refused the latest read (" + r.ReadAt.Format(stepTimeLayout) + "): " + r.Error +
			". Shown as read on " + r.ListedAt.Format(stepTimeLayout) + " (" + agoText(now, *r.ListedAt) + ").", true
	case r.Error != "":
		return "Partner Center refused to list them (" + r.ReadAt.Format(stepTimeLayout) + "): " + r.Error + ".", true
	}
	return "Read " + r.ReadAt.Format(stepTimeLayout) + " (" + agoText(now, r.ReadAt) + ").", false
}
