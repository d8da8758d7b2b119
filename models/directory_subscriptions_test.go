package models_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// subscriptionEstate drives the directory's passes for the subscription tests: a pass lists
// customers, then the test saves what it read of their subscriptions.
type subscriptionEstate struct {
	t       *testing.T
	store   *models.Store
	partner string
}

// begin starts a pass that lists the customers given.
func (e subscriptionEstate) begin(at time.Time, tenants ...string) models.DirectoryPass {
	e.t.Helper()
	ctx := context.Background()
	p, err := e.store.BeginDirectoryPass(ctx, e.partner, at)
	if err != nil {
		e.t.Fatal(err)
	}
	rows := make([]models.DirectoryCustomer, len(tenants))
	for i, id := range tenants {
		rows[i] = models.DirectoryCustomer{PartnerID: e.partner, TenantID: id, CompanyName: "Co " + id,
			Domain: id + ".onmicrosoft.com", Relationship: "reseller"}
	}
	if _, err := e.store.SaveDirectoryCustomers(ctx, p, rows, at); err != nil {
		e.t.Fatal(err)
	}
	return p
}

func (e subscriptionEstate) end(p models.DirectoryPass, at time.Time) {
	e.t.Helper()
	if _, err := e.store.EndDirectoryPass(context.Background(), e.partner, p, false, at); err != nil {
		e.t.Fatal(err)
	}
}

func (e subscriptionEstate) save(p models.DirectoryPass, tenant string, at time.Time,
	subs ...models.DirectorySubscription,
) int {
	e.t.Helper()
	n, err := e.store.SaveDirectorySubscriptions(context.Background(), p, e.partner, tenant, subs, at)
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e subscriptionEstate) due(p models.DirectoryPass, limit int) []string {
	e.t.Helper()
	due, err := e.store.DirectorySubscriptionsDue(context.Background(), e.partner, p.Pass, limit)
	if err != nil {
		e.t.Fatal(err)
	}
	return due
}

// changes returns the undelivered subscription changes as "kind subject: detail", sorted, and
// marks them delivered.
func (e subscriptionEstate) changes(at time.Time) []string {
	e.t.Helper()
	ctx := context.Background()
	all, err := e.store.UndeliveredDirectoryChanges(ctx, e.partner, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	var ids []int64
	for _, c := range all {
		ids = append(ids, c.ID)
		if slices.Contains(models.SubscriptionChangeKinds, c.Kind) {
			out = append(out, c.Kind+" "+c.SubjectID+": "+c.Detail)
		}
	}
	if err := e.store.MarkDirectoryChangesDelivered(ctx, e.partner, ids, at); err != nil {
		e.t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func sub(id, status string, quantity int) models.DirectorySubscription {
	end := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	return models.DirectorySubscription{
		ID: id, OfferID: "CFQ7TTC0LH18:0001", OfferName: "Microsoft 365 Business Basic", Quantity: quantity,
		Status: status, BillingCycle: "monthly", TermDuration: "P1Y", CommitmentEndsAt: &end, AutoRenew: true,
		ResellerPartnerID: "1234567",
	}
}

func TestDirectorySubscriptionsImportQuietlyThenReportEachChangeOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := subscriptionEstate{t: t, store: store, partner: "partner-1"}
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

		p1 := e.begin(at, "t1")
		first := []models.DirectorySubscription{
			sub("S1", "active", 5), sub("s2", "active", 1), sub("s3", "active", 2), sub("s4", "active", 3),
		}
		if n := e.save(p1, "t1", at, first...); n != 0 {
			t.Fatalf("the first read of a customer's subscriptions wrote %d changes, want none", n)
		}
		e.end(p1, at)
		if got := e.changes(at); len(got) != 0 {
			t.Fatalf("the first read made changes: %q", got)
		}
		held, err := store.DirectoryCustomerSubscriptionsOf(ctx, e.partner, "t1")
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range held.Subscriptions {
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, []string{"s1", "s2", "s3", "s4"}) {
			t.Fatalf("the directory holds %q after the first read, want s1..s4 (IDs in lower case)", ids)
		}
		if r := held.Read; r == nil || r.ListedAt == nil || r.Subscriptions != 4 || r.Error != "" || r.Pass != p1.Pass {
			t.Fatalf("the first read is recorded as %+v", held.Read)
		}

		// The next pass: s1's quantity changed, s2 was suspended, s3 is no longer listed, s5 is new
		// and s4 is as it was.
		at2 := at.Add(time.Hour)
		p2 := e.begin(at2, "t1")
		changed := sub("s1", "active", 7)
		suspended := sub("s2", "suspended", 1)
		second := []models.DirectorySubscription{changed, suspended, sub("s4", "active", 3), sub("s5", "active", 10)}
		if n := e.save(p2, "t1", at2, second...); n != 4 {
			t.Fatalf("the second read wrote %d changes, want 4", n)
		}
		// The activity retried in the same pass saves the same list again: nothing new.
		if n := e.save(p2, "t1", at2.Add(time.Minute), second...); n != 0 {
			t.Fatalf("saving the same read again in the pass wrote %d changes, want none", n)
		}
		e.end(p2, at2)
		want := []string{
			"directory.subscription.added s5: Microsoft 365 Business Basic (s5): active, quantity 10",
			"directory.subscription.changed s1: Microsoft 365 Business Basic (s1): quantity 5 → 7",
			"directory.subscription.gone s3: Microsoft 365 Business Basic (s3) is no longer listed",
			"directory.subscription.status_changed s2: Microsoft 365 Business Basic (s2): status active → suspended",
		}
		if got := e.changes(at2); !slices.Equal(got, want) {
			t.Fatalf("the second read's changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		held, err = store.DirectoryCustomerSubscriptionsOf(ctx, e.partner, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if last := held.Subscriptions[len(held.Subscriptions)-1]; last.ID != "s3" || !last.Gone {
			t.Fatalf("the gone subscription is not last and marked gone: %+v", last)
		}

		// A third pass that finds the same subscriptions, with a name the partner gave one (not
		// news): no change, and the gone one stays gone without a second change.
		at3 := at2.Add(time.Hour)
		p3 := e.begin(at3, "t1")
		second[3].FriendlyName = "Sales seats"
		if n := e.save(p3, "t1", at3, second...); n != 0 {
			t.Fatalf("an unchanged read wrote %d changes", n)
		}
		// s3 listed again is a subscription added back.
		at4 := at3.Add(time.Hour)
		p4 := e.begin(at4, "t1")
		if n := e.save(p4, "t1", at4, append(second, sub("s3", "active", 2))...); n != 1 {
			t.Fatalf("a subscription listed again wrote %d changes, want 1", n)
		}
		if got := e.changes(at4); len(got) != 1 || !strings.HasPrefix(got[0], "directory.subscription.added s3") {
			t.Fatalf("the changes after s3 came back: %q", got)
		}
	})
}

func TestDirectorySubscriptionsDueNeverReadFirstThenLeastRecentlyRead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		e := subscriptionEstate{t: t, store: store, partner: "partner-1"}
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		p1 := e.begin(at, "c", "a", "b", "z", "d", "e")
		if got := e.due(p1, 2); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("due first: %q, want the never read by tenant ID", got)
		}
		// b is read before a, and c last.
		e.save(p1, "b", at)
		e.save(p1, "a", at.Add(time.Minute))
		// The pass read two of its two: a retried activity asking again reads no more.
		if got := e.due(p1, 2); len(got) != 0 {
			t.Fatalf("the pass's bound is spent, yet due: %q", got)
		}
		if got := e.due(p1, 3); !slices.Equal(got, []string{"c"}) {
			t.Fatalf("due with one read left: %q, want c", got)
		}
		e.save(p1, "c", at.Add(2*time.Minute))
		e.end(p1, at)

		// The next pass no longer lists z: d and e were never read and come first, then b, a and c,
		// least recently read first.
		at2 := at.Add(time.Hour)
		p2 := e.begin(at2, "a", "b", "c", "d", "e")
		want := []string{"d", "e", "b", "a", "c"}
		if got := e.due(p2, 10); !slices.Equal(got, want) {
			t.Fatalf("due in the next pass: %q, want %q (z is gone)", got, want)
		}
		e.end(p2, at2)
		if got := e.due(p2, 10); !slices.Equal(got, want) {
			t.Fatalf("due after the pass marked z gone: %q, want %q", got, want)
		}
		if got := e.due(p2, 0); len(got) != 0 {
			t.Fatalf("a limit of 0 gave %q", got)
		}
	})
}

func TestDirectorySubscriptionsRefusalIsRecordedAndKeepsWhatWasRead(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		e := subscriptionEstate{t: t, store: store, partner: "partner-1"}
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		const reason = "Partner Center refused (403): the customer's tenant is not accessible"

		// A customer refused at its first read: the refusal is recorded and counts as the pass's
		// read of it.
		p1 := e.begin(at, "t1", "t2")
		if err := store.RefuseDirectorySubscriptions(ctx, p1, e.partner, "t1", reason, at); err != nil {
			t.Fatal(err)
		}
		e.save(p1, "t2", at, sub("s9", "active", 1))
		held, err := store.DirectoryCustomerSubscriptionsOf(ctx, e.partner, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if r := held.Read; r == nil || r.Error != reason || r.ListedAt != nil || !r.ReadAt.Equal(at) ||
			len(held.Subscriptions) != 0 {
			t.Fatalf("the refusal is recorded as %+v with %d subscriptions", held.Read, len(held.Subscriptions))
		}
		if got := e.due(p1, 10); len(got) != 0 {
			t.Fatalf("a refused customer is due again in the same pass: %q", got)
		}
		e.end(p1, at)

		// Its first listing, after the refusal, has nothing to compare with: imported quietly.
		at2 := at.Add(time.Hour)
		p2 := e.begin(at2, "t1", "t2")
		if n := e.save(p2, "t1", at2, sub("s1", "active", 5)); n != 0 {
			t.Fatalf("the first listing after a refusal wrote %d changes", n)
		}
		e.end(p2, at2)

		// Refused again later: what was read stays, and the read says why it is old.
		at3 := at2.Add(time.Hour)
		p3 := e.begin(at3, "t1", "t2")
		if err := store.RefuseDirectorySubscriptions(ctx, p3, e.partner, "t1", reason, at3); err != nil {
			t.Fatal(err)
		}
		held, err = store.DirectoryCustomerSubscriptionsOf(ctx, e.partner, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if r := held.Read; r == nil || r.Error != reason || r.ListedAt == nil || !r.ListedAt.Equal(at2) ||
			!r.ReadAt.Equal(at3) || r.Subscriptions != 1 {
			t.Fatalf("the second refusal is recorded as %+v", held.Read)
		}
		if len(held.Subscriptions) != 1 || held.Subscriptions[0].ID != "s1" || held.Subscriptions[0].Gone {
			t.Fatalf("a refusal changed the subscriptions held: %+v", held.Subscriptions)
		}
		if got := e.changes(at3); len(got) != 0 {
			t.Fatalf("refusals made changes: %q", got)
		}
		// The next listing is news again, and clears the refusal.
		at4 := at3.Add(time.Hour)
		p4 := e.begin(at4, "t1", "t2")
		if n := e.save(p4, "t1", at4, sub("s1", "suspended", 5)); n != 1 {
			t.Fatalf("a status change after a refusal wrote %d changes, want 1", n)
		}
		held, err = store.DirectoryCustomerSubscriptionsOf(ctx, e.partner, "t1")
		if err != nil {
			t.Fatal(err)
		}
		if held.Read.Error != "" || !held.Read.ListedAt.Equal(at4) {
			t.Fatalf("a listing after a refusal is recorded as %+v", held.Read)
		}
	})
}
