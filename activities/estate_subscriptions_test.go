package activities_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// updateSimSubscription changes a subscription in the simulator through its admin route.
func updateSimSubscription(t *testing.T, simURL string, body map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(simURL+"/sim/partner-actions/update-subscription", "application/json",
		bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("update the subscription: %d %s", resp.StatusCode, msg)
	}
}

func TestSyncCustomerSubscriptionsReadsThemAndRecordsARefusal(t *testing.T) {
	ctx := context.Background()
	s := testsim.Start(t, sim.Config{ActivationDelay: time.Millisecond})
	estate, err := s.SeedEstate(sim.EstateSpec{Customers: 4, Resellers: 1})
	if err != nil {
		t.Fatal(err)
	}
	store := testdb.SQLite(t)
	pc := s.Client(t)
	acts := activities.New(activities.Config{
		Store: store, PartnerCenter: pc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Outbox: testOutboxBox,
	})
	partner := s.TenantID
	// The directory lists the estate's customers and one Partner Center does not know as the
	// partner's (a customer it lost, say): its read is refused with a 404.
	const lost = "00000000-0000-4000-8000-00000000dead"
	pass := func(at time.Time) models.DirectoryPass {
		t.Helper()
		p, err := store.BeginDirectoryPass(ctx, partner, at)
		if err != nil {
			t.Fatal(err)
		}
		rows := []models.DirectoryCustomer{{PartnerID: partner, TenantID: lost, CompanyName: "Lost"}}
		for _, c := range estate.Customers {
			rows = append(rows, models.DirectoryCustomer{PartnerID: partner, TenantID: c.TenantID,
				CompanyName: c.CompanyName, Domain: c.Domain})
		}
		if _, err := store.SaveDirectoryCustomers(ctx, p, rows, at); err != nil {
			t.Fatal(err)
		}
		return p
	}
	at := time.Now().UTC()
	p1 := pass(at)
	// A bound of 3 reads three customers; the activity run again in the pass (a retry) reads the
	// other two, and a third run none.
	in := activities.EstateSubscriptions{PartnerID: partner, Pass: p1, Limit: 3}
	first, err := acts.SyncCustomerSubscriptions(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	in.Limit = 5
	rest, err := acts.SyncCustomerSubscriptions(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := acts.SyncCustomerSubscriptions(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if first.Read != 3 || rest.Read != 2 || again.Read != 0 || first.Refused+rest.Refused != 1 ||
		first.Changes+rest.Changes != 0 {
		t.Fatalf("reads: %+v, %+v, %+v", first, rest, again)
	}
	refused, err := store.DirectoryCustomerSubscriptionsOf(ctx, partner, lost)
	if err != nil {
		t.Fatal(err)
	}
	if refused.Read == nil || !strings.Contains(refused.Read.Error, "404") || refused.Read.ListedAt != nil {
		t.Fatalf("the refused customer's read: %+v", refused.Read)
	}

	// Each customer holds what Partner Center lists for it, field for field.
	var business partnercenter.Subscription
	for _, c := range estate.Customers {
		listed, err := pc.ListSubscriptions(ctx, c.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		held, err := store.DirectoryCustomerSubscriptionsOf(ctx, partner, c.TenantID)
		if err != nil {
			t.Fatal(err)
		}
		if len(listed) == 0 || len(held.Subscriptions) != len(listed) || held.Read == nil ||
			held.Read.Subscriptions != len(listed) || held.Read.Error != "" {
			t.Fatalf("customer %s: %d listed, directory holds %+v", c.TenantID, len(listed), held)
		}
		for _, l := range listed {
			i := slices.IndexFunc(held.Subscriptions, func(d models.DirectorySubscription) bool {
				return d.ID == strings.ToLower(l.ID)
			})
			if i < 0 {
				t.Fatalf("subscription %s of %s is not in the directory", l.ID, c.TenantID)
			}
			d := held.Subscriptions[i]
			if d.OfferID != l.OfferID || d.OfferName != l.OfferName || d.Quantity != l.Quantity ||
				d.Status != l.Status || d.BillingCycle != l.BillingCycle || d.TermDuration != l.TermDuration ||
				d.AutoRenew != l.AutoRenewEnabled || d.ResellerPartnerID != l.PartnerID || d.Gone ||
				d.CustomerTenantID != c.TenantID || d.CommitmentEndsAt == nil ||
				!d.CommitmentEndsAt.Equal(l.CommitmentEndDate.Time) {
				t.Fatalf("subscription %+v is in the directory as %+v", l, d)
			}
			if c.ResellerTenantID != "" && l.PartnerID != "" && business.ID == "" {
				business = l
			}
		}
	}
	if business.ID == "" {
		t.Fatal("no subscription of a reseller's customer carries the reseller's PartnerID")
	}

	// Outside partnerflow one subscription is suspended: the next pass reads it as one change.
	var owner string
	for _, c := range estate.Customers {
		held, _ := store.DirectoryCustomerSubscriptionsOf(ctx, partner, c.TenantID)
		if slices.ContainsFunc(held.Subscriptions, func(d models.DirectorySubscription) bool {
			return d.ID == strings.ToLower(business.ID)
		}) {
			owner = c.TenantID
		}
	}
	updateSimSubscription(t, s.URL, map[string]any{
		"customerId": owner, "subscriptionId": business.ID, "status": partnercenter.SubscriptionStatusSuspended,
	})
	if _, err := store.EndDirectoryPass(ctx, partner, p1, false, at); err != nil {
		t.Fatal(err)
	}
	p2 := pass(at.Add(time.Minute))
	second, err := acts.SyncCustomerSubscriptions(ctx, activities.EstateSubscriptions{PartnerID: partner, Pass: p2})
	if err != nil {
		t.Fatal(err)
	}
	if second.Read != 5 || second.Refused != 1 || second.Changes != 1 {
		t.Fatalf("the second pass's read: %+v", second)
	}
	changes, err := store.UndeliveredDirectoryChanges(ctx, partner, 0)
	if err != nil {
		t.Fatal(err)
	}
	var subscriptionChanges []models.DirectoryChange
	for _, c := range changes {
		if slices.Contains(models.SubscriptionChangeKinds, c.Kind) {
			subscriptionChanges = append(subscriptionChanges, c)
		}
	}
	if len(subscriptionChanges) != 1 || subscriptionChanges[0].Kind != models.ChangeSubscriptionStatus ||
		subscriptionChanges[0].SubjectID != strings.ToLower(business.ID) ||
		subscriptionChanges[0].CustomerTenantID != owner {
		t.Fatalf("the suspension made %+v", subscriptionChanges)
	}
}

// A customer's read that Partner Center throttles fails the activity (its retry goes on where it
// stood), rather than being recorded as refused.
func TestSyncCustomerSubscriptionsRetriesWhatIsNotTheCustomersDoing(t *testing.T) {
	ctx := context.Background()
	s := testsim.Start(t, sim.Config{ActivationDelay: time.Millisecond})
	estate, err := s.SeedEstate(sim.EstateSpec{Customers: 1})
	if err != nil {
		t.Fatal(err)
	}
	store := testdb.SQLite(t)
	cfg := s.PartnerCenterConfig()
	cfg.Timeout = 2 * time.Second
	pc, err := partnercenter.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	acts := activities.New(activities.Config{
		Store: store, PartnerCenter: pc, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Outbox: testOutboxBox,
	})
	partner, tenant := s.TenantID, estate.Customers[0].TenantID
	p, err := store.BeginDirectoryPass(ctx, partner, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.SaveDirectoryCustomers(ctx, p, []models.DirectoryCustomer{
		{PartnerID: partner, TenantID: tenant, CompanyName: "Co"},
	}, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.SetFaults(sim.Faults{Rate429: 1, RetryAfterSeconds: 1})
	got, err := acts.SyncCustomerSubscriptions(ctx, activities.EstateSubscriptions{PartnerID: partner, Pass: p})
	if err == nil || got.Read != 0 {
		t.Fatalf("a throttled read gave %+v, %v", got, err)
	}
	held, err := store.DirectoryCustomerSubscriptionsOf(ctx, partner, tenant)
	if err != nil || held.Read != nil {
		t.Fatalf("a throttled read was recorded: %+v %v", held.Read, err)
	}
	s.SetFaults(sim.Faults{})
	got, err = acts.SyncCustomerSubscriptions(ctx, activities.EstateSubscriptions{PartnerID: partner, Pass: p})
	if err != nil || got.Read != 1 || got.Refused != 0 {
		t.Fatalf("the retry read %+v, %v", got, err)
	}
}
