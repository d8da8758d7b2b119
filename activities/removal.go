package activities

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/activity"
	"golang.org/x/sync/errgroup"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
)

// RecordRemoval writes a step of a partnership removal to the app database; idempotent by the
// change's StepKey.
func (a *Activities) RecordRemoval(ctx context.Context, removalID string, ch models.RemovalChange) error {
	return record(ctx, a.cfg.Store, models.KindRemoval, removalID, ch)
}

// EndPartnership takes the reseller out of the provider's active resellers (its own timeline
// says by which removal) and reports whether Partner Center still lists the partnership: the
// removal itself is done in Partner Center's UI, for which there is no API. Customers and their
// delegated admin relationships are not touched.
func (a *Activities) EndPartnership(ctx context.Context, removalID string) (EndedPartnership, error) {
	rm, err := models.Find[models.Removal](ctx, a.cfg.Store, removalID)
	if err != nil {
		return EndedPartnership{}, fmt.Errorf("load removal %s: %w", removalID, err)
	}
	err = models.Record(ctx, a.cfg.Store, models.KindReseller, rm.ResellerID, models.ResellerChange{
		Status:  models.ResellerRemoved,
		Step:    "removed",
		StepKey: rm.ResellerID + "/removed/" + rm.ID,
		At:      rm.AttestedAt,
		StepDetail: "partnership removed by " + rm.AttestedBy + " with the good-faith attestation (removal " +
			rm.ID + ")",
	})
	if err != nil {
		return EndedPartnership{}, fmt.Errorf("end reseller %s: %w", rm.ResellerID, err)
	}
	list, err := a.cfg.PartnerCenter.ListIndirectResellers(ctx)
	if err != nil {
		return EndedPartnership{}, a.serviceError(ctx, "list indirect resellers", err)
	}
	for _, p := range list {
		if p.ID == rm.ResellerTenantID {
			return EndedPartnership{StillListed: true}, nil
		}
	}
	return EndedPartnership{}, nil
}

// PlanRemovalDeliveries records who must be told, one page of the reseller's customers per call:
// the first call (cursor "") adds the reseller itself. It returns the cursor of the next page,
// "" after the last. Planning again adds nobody twice.
func (a *Activities) PlanRemovalDeliveries(ctx context.Context, removalID, cursor string) (PlannedPage, error) {
	store := a.cfg.Store
	rm, err := models.Find[models.Removal](ctx, store, removalID)
	if err != nil {
		return PlannedPage{}, fmt.Errorf("load removal %s: %w", removalID, err)
	}
	var plan []models.Delivery
	add := func(channel, to, name, role, lang string) {
		plan = append(plan, models.Delivery{
			FlowKind:      models.KindRemoval,
			FlowID:        removalID,
			Channel:       channel,
			Recipient:     to,
			RecipientName: name,
			Role:          role,
			Language:      lang,
		})
	}
	if cursor == "" {
		reseller, err := models.Find[models.Reseller](ctx, store, rm.ResellerID)
		if err != nil {
			return PlannedPage{}, fmt.Errorf("load reseller %s: %w", rm.ResellerID, err)
		}
		add(models.ChannelMail, reseller.Email, reseller.CompanyName, "reseller", a.language(reseller.Language))
	}
	customers, next, err := a.cfg.PartnerCenter.ListResellerCustomers(ctx, rm.ResellerTenantID, cursor)
	if err != nil {
		return PlannedPage{}, a.serviceError(ctx, "list the customers of reseller "+rm.ResellerTenantID, err)
	}
	// The list carries no billing profile; each customer's contact comes from the customer itself.
	customers, err = a.withBillingProfiles(ctx, customers)
	if err != nil {
		return PlannedPage{}, err
	}
	for _, c := range customers {
		to := strings.TrimSpace(c.BillingProfile.Email)
		if to == "" {
			a.cfg.Logger.WarnContext(
				ctx,
				"a customer of the removed reseller has no e-mail address",
				"customer", c.ID,
				"removal", removalID,
			)
			continue
		}
		add(models.ChannelMail, to, c.CompanyProfile.CompanyName, "customer", a.language(c.BillingProfile.Language))
	}
	if err := store.PlanDeliveries(ctx, plan); err != nil {
		return PlannedPage{}, fmt.Errorf("plan the deliveries of removal %s: %w", removalID, err)
	}
	return PlannedPage{Added: len(plan), Next: next}, nil
}

// profileLookups bounds how many customers are read from Partner Center at once.
const profileLookups = 8

// withBillingProfiles reads each customer whose billing profile the list left out.
func (a *Activities) withBillingProfiles(
	ctx context.Context,
	customers []partnercenter.Customer,
) ([]partnercenter.Customer, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(profileLookups)
	for i := range customers {
		if customers[i].BillingProfile.Email != "" {
			continue
		}
		g.Go(func() error {
			full, err := a.readCustomer(gctx, customers[i].ID)
			if err != nil {
				return a.serviceError(ctx, "read customer "+customers[i].ID, err)
			}
			customers[i].BillingProfile = full.BillingProfile
			if customers[i].CompanyProfile.CompanyName == "" {
				customers[i].CompanyProfile = full.CompanyProfile
			}
			return nil
		})
	}
	return customers, g.Wait()
}

// profileAttempts is how often one customer is read before the page's attempt fails. A page
// needs every customer on it, so one throttled, failed or lost read is tried again here rather
// than costing the whole page (which, at a few percent of failing calls, a page of hundreds would
// almost never get through).
const profileAttempts = 4

// profileRetryWait caps the wait between two reads of one customer.
const profileRetryWait = 5 * time.Second

// readCustomer reads one customer, trying a read that may succeed again (a lost answer, a 5xx,
// a 429 after its Retry-After) up to profileAttempts times. A read changes nothing, so trying
// again is always safe.
func (a *Activities) readCustomer(ctx context.Context, id string) (partnercenter.Customer, error) {
	wait := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		c, err := a.cfg.PartnerCenter.GetCustomer(ctx, id)
		var pcErr *partnercenter.Error
		if err == nil || attempt == profileAttempts || (errors.As(err, &pcErr) && !pcErr.Retryable()) {
			return c, err
		}
		if after := partnercenter.RetryAfter(err); after > 0 {
			wait = after
		}
		select {
		case <-ctx.Done():
			return c, err
		case <-time.After(min(wait, profileRetryWait)):
		}
		wait *= 2
	}
}

// language is a supported language for a recipient, or the default.
func (a *Activities) language(lang string) string {
	if l, ok := notify.ParseLanguage(lang); ok {
		return l
	}
	return a.cfg.DefaultLanguage
}

// PendingDeliveries returns the next page of a flow's pending deliveries.
func (a *Activities) PendingDeliveries(ctx context.Context, q PendingQuery) ([]int64, error) {
	return a.cfg.Store.PendingDeliveries(ctx, q.Kind, q.FlowID, q.AfterID, q.Limit)
}

// CountDeliveries sums a flow's deliveries by status.
func (a *Activities) CountDeliveries(ctx context.Context, kind, id string) (models.DeliveryCounts, error) {
	return a.cfg.Store.CountDeliveries(ctx, kind, id)
}

// Deliver sends one delivery and records the attempt. A delivery already delivered is not sent
// again; one whose last attempt failed is recorded as failed and the activity succeeds, so the
// failure is listed (and can be retried) rather than failing the batch.
func (a *Activities) Deliver(ctx context.Context, in DeliverInput) error {
	store := a.cfg.Store
	d, err := store.Delivery(ctx, in.DeliveryID)
	if err != nil {
		return fmt.Errorf("load delivery %d: %w", in.DeliveryID, err)
	}
	if d.Status == models.DeliveryDelivered {
		return nil
	}
	if err := store.AttemptDelivery(ctx, d.ID); err != nil {
		return fmt.Errorf("count an attempt of delivery %d: %w", d.ID, err)
	}
	sendErr := a.send(ctx, d)
	final := in.MaxAttempts > 0 && int(activity.GetInfo(ctx).Attempt) >= in.MaxAttempts
	if err := store.FinishDelivery(ctx, d.ID, sendErr, final); err != nil {
		return fmt.Errorf("record delivery %d: %w", d.ID, err)
	}
	if sendErr != nil && !final {
		return sendErr
	}
	return nil
}

// send delivers one message of a flow to its recipient.
func (a *Activities) send(ctx context.Context, d *models.Delivery) error {
	if d.FlowKind != models.KindRemoval {
		return fmt.Errorf("delivery %d: no messages for %s flows", d.ID, d.FlowKind)
	}
	rm, err := models.Find[models.Removal](ctx, a.cfg.Store, d.FlowID)
	if err != nil {
		return fmt.Errorf("load removal %s: %w", d.FlowID, err)
	}
	switch d.Channel {
	case models.ChannelMail:
		kind := "removal-customer"
		if d.Role == "reseller" {
			kind = "removal-reseller"
		}
		msg, err := notify.Render(kind, d.Language, notify.RemovalMail{
			ProviderName: a.partnerName(ctx),
			ResellerName: rm.ResellerName,
			CustomerName: d.RecipientName,
			RemovedAt:    rm.AttestedAt,
		})
		if err != nil {
			return err
		}
		return a.deliver(ctx, "delivery/"+strconv.FormatInt(d.ID, 10), d.Recipient, msg)
	}
	return fmt.Errorf("delivery %d: unknown channel %q", d.ID, d.Channel)
}

// EndedPartnership is what ending a partnership found.
type EndedPartnership struct {
	StillListed bool
}

// PlannedPage is one page of recipients planned.
type PlannedPage struct {
	Added int
	Next  string
}

// PendingQuery asks for a page of a flow's pending deliveries.
type PendingQuery struct {
	Kind    string
	FlowID  string
	AfterID int64
	Limit   int
}

// DeliverInput sends one delivery.
type DeliverInput struct {
	DeliveryID  int64
	MaxAttempts int
}
