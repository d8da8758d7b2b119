package models_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

func TestTheDirectoryImportsQuietlyThenReportsEachChangeOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		const partner = "partner-1"
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		ends := func(d time.Duration) *time.Time { e := at.Add(d); return &e }
		customer := func(id, reseller string) models.DirectoryCustomer {
			return models.DirectoryCustomer{PartnerID: partner, TenantID: id, CompanyName: "Co " + id,
				Domain: id + ".onmicrosoft.com", Relationship: "reseller", ResellerTenantID: reseller}
		}
		gdap := func(id, status string, end *time.Time, globalAdmin bool) models.DirectoryGDAP {
			return models.DirectoryGDAP{PartnerID: partner, ID: id, CustomerTenantID: "t1", DisplayName: "rel " + id,
				Status: status, EndsAt: end, GlobalAdmin: globalAdmin}
		}
		kinds := func() []string {
			t.Helper()
			changes, err := store.UndeliveredDirectoryChanges(ctx, partner, 0)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			var ids []int64
			for _, c := range changes {
				out, ids = append(out, c.Kind+" "+c.SubjectID), append(ids, c.ID)
			}
			if err := store.MarkDirectoryChangesDelivered(ctx, partner, ids, at); err != nil {
				t.Fatal(err)
			}
			slices.Sort(out)
			return out
		}
		pass := func(customers []models.DirectoryCustomer, rels []models.DirectoryGDAP) models.DirectorySaved {
			t.Helper()
			p, err := store.BeginDirectoryPass(ctx, partner, at)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.SaveDirectoryCustomers(ctx, p, customers, at); err != nil {
				t.Fatal(err)
			}
			byReseller := map[string][]string{}
			for _, c := range customers {
				if c.ResellerTenantID != "" {
					byReseller[c.ResellerTenantID] = append(byReseller[c.ResellerTenantID], c.TenantID)
				}
			}
			for reseller, tenants := range byReseller {
				if _, err := store.AssociateDirectoryReseller(ctx, p, partner, reseller, tenants, at); err != nil {
					t.Fatal(err)
				}
			}
			saved, err := store.SaveDirectoryGDAP(ctx, p, rels, at)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := store.EndDirectoryPass(ctx, partner, p, true, at); err != nil {
				t.Fatal(err)
			}
			return saved
		}

		// The first pass imports: only alerts, no "added" for each customer and relationship.
		saved := pass([]models.DirectoryCustomer{customer("t1", ""), customer("t2", "r1")},
			[]models.DirectoryGDAP{gdap("g1", "active", ends(20*24*time.Hour), false), gdap("g2", "active", nil, true)})
		if got, want := kinds(), []string{
			models.ChangeGDAPExpiring + " g1", models.ChangeGDAPGlobalAdmin + " g2",
		}; !slices.Equal(got, want) {
			t.Fatalf("import: %v, want %v", got, want)
		}
		if !slices.Equal(saved.CountAssignments, []string{"g1", "g2"}) {
			t.Fatalf("assignments to count %v", saved.CountAssignments)
		}
		if n, err := store.SetDirectoryAssignments(ctx, partner, "g2", 0, at); err != nil || n != 1 {
			t.Fatalf("no assignments: %d %v", n, err)
		}
		if got := kinds(); !slices.Equal(got, []string{models.ChangeGDAPNoAssignments + " g2"}) {
			t.Fatalf("after counting: %v", got)
		}

		// The same estate again: nothing new.
		pass([]models.DirectoryCustomer{customer("t1", ""), customer("t2", "r1"), customer("t4", "r1")},
			[]models.DirectoryGDAP{gdap("g1", "active", ends(20*24*time.Hour), false), gdap("g2", "active", nil, true)})
		if got := kinds(); !slices.Equal(got, []string{models.ChangeCustomerAdded + " t4"}) {
			t.Fatalf("an unchanged estate and a new customer reported %v", got)
		}

		// Then: a customer arrives, one changes reseller, one leaves; a relationship ends, one is
		// new, one nears its end.
		at = at.Add(14 * 24 * time.Hour)
		pass([]models.DirectoryCustomer{customer("t1", "r2"), customer("t3", ""), customer("t4", "")},
			[]models.DirectoryGDAP{
				gdap("g1", "active", ends(6*24*time.Hour-14*24*time.Hour+14*24*time.Hour), false),
				gdap("g2", "terminated", nil, true), gdap("g3", "approvalPending", nil, false),
			})
		want := []string{
			models.ChangeCustomerAdded + " t3", models.ChangeCustomerGone + " t2",
			models.ChangeCustomerReseller + " t1", models.ChangeCustomerReseller + " t4",
			models.ChangeGDAPAdded + " g3", models.ChangeGDAPExpiring + " g1", models.ChangeGDAPStatus + " g2",
		}
		slices.Sort(want)
		if got := kinds(); !slices.Equal(got, want) {
			t.Fatalf("changes %v, want %v", got, want)
		}
		sync, err := store.DirectorySyncOf(ctx, partner)
		if err != nil || sync.CompletedPass != 3 || sync.Customers != 3 || sync.Relationships != 3 {
			t.Fatalf("sync %+v %v", sync, err)
		}
	})
}

func TestARetriedPageAnnouncesANewResellerCustomerOnce(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		const partner = "partner-1"
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		first, err := store.BeginDirectoryPass(ctx, partner, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.EndDirectoryPass(ctx, partner, first, true, at); err != nil {
			t.Fatal(err)
		}
		p, err := store.BeginDirectoryPass(ctx, partner, at.Add(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		page := []models.DirectoryCustomer{{PartnerID: partner, TenantID: "t9", CompanyName: "Nine",
			Domain: "nine.onmicrosoft.com", Relationship: "reseller"}}
		// The page is saved, the activity's answer is lost, and its retry saves it again later.
		for _, d := range []time.Duration{time.Minute, time.Minute + 3*time.Second} {
			if _, err := store.SaveDirectoryCustomers(ctx, p, page, at.Add(d)); err != nil {
				t.Fatal(err)
			}
		}
		saved, err := store.AssociateDirectoryReseller(ctx, p, partner, "r1", []string{"t9"}, at.Add(2*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if saved.Changes != 0 {
			t.Fatalf("associating the new customer with its reseller made %d changes", saved.Changes)
		}
		changes, err := store.UndeliveredDirectoryChanges(ctx, partner, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range changes {
			got = append(got, c.Kind+" "+c.SubjectID)
		}
		if want := []string{models.ChangeCustomerAdded + " t9"}; !slices.Equal(got, want) {
			t.Fatalf("changes %v, want %v", got, want)
		}
	})
}

func TestAnUnfinishedPassIsResumedNotRestarted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		at := time.Now()
		first, err := store.BeginDirectoryPass(ctx, "p", at)
		if err != nil {
			t.Fatal(err)
		}
		again, err := store.BeginDirectoryPass(ctx, "p", at)
		if err != nil || again != first || first.Imported {
			t.Fatalf("first %+v, again %+v, %v", first, again, err)
		}
		if _, err := store.EndDirectoryPass(ctx, "p", first, false, at); err != nil {
			t.Fatal(err)
		}
		next, err := store.BeginDirectoryPass(ctx, "p", at)
		if err != nil || next.Pass != first.Pass+1 || !next.Imported {
			t.Fatalf("next %+v %v", next, err)
		}
	})
}

func TestEachDirectoryChangeIsOneWebhookEvent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		subscribe(t, store, "p", "directory.*")
		subscribe(t, store, "p", "directory.gdap.global_admin")
		subscribe(t, store, "p", "invitation.*")
		p, err := store.BeginDirectoryPass(ctx, "p", at)
		if err != nil {
			t.Fatal(err)
		}
		rel := models.DirectoryGDAP{PartnerID: "p", ID: "g1", Status: "active", GlobalAdmin: true}
		if _, err := store.SaveDirectoryGDAP(ctx, p, []models.DirectoryGDAP{rel}, at); err != nil {
			t.Fatal(err)
		}
		for range 2 { // a retried delivery sends nothing twice
			if _, err := store.DeliverDirectoryChanges(ctx, "p", 0, at); err != nil {
				t.Fatal(err)
			}
		}
		got := deliveries(t, store, "p")
		if len(got) != 2 || got[0].EventType != models.ChangeGDAPGlobalAdmin || got[1].EventType != got[0].EventType {
			t.Fatalf("deliveries %+v", got)
		}
		if left, err := store.UndeliveredDirectoryChanges(ctx, "p", 0); err != nil || len(left) != 0 {
			t.Fatalf("undelivered %v %v", left, err)
		}
		if !slices.Contains(models.DirectoryEvents(), "gdap.expiring") {
			t.Fatalf("events %v", models.DirectoryEvents())
		}
	})
}

func TestTheDirectoryAnswersWaitingInvitations(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		ctx := context.Background()
		at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
		byDomain := newInvitation("inv_a", "alpha.onmicrosoft.com", at)
		byTenant := newInvitation("inv_b", "beta.example", at)
		byTenant.DomainTenantID = "t-beta"
		advisor := newInvitation("inv_c", "gamma.onmicrosoft.com", at)
		withGDAP := newInvitation("inv_d", "delta.onmicrosoft.com", at)
		withGDAP.GDAPRelationshipID = "g-delta"
		for _, inv := range []*models.Invitation{byDomain, byTenant, advisor, withGDAP} {
			if _, err := store.CreateInvitation(ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
		p, err := store.BeginDirectoryPass(ctx, "p1", at)
		if err != nil {
			t.Fatal(err)
		}
		customer := func(tenant, domain, relationship string) models.DirectoryCustomer {
			return models.DirectoryCustomer{
				PartnerID: "p1", TenantID: tenant, Domain: domain, Relationship: relationship,
			}
		}
		if _, err := store.SaveDirectoryCustomers(ctx, p, []models.DirectoryCustomer{
			customer("t-alpha", "alpha.onmicrosoft.com", "reseller"),
			customer("t-beta", "beta.onmicrosoft.com", "reseller"),
			customer("t-gamma", "gamma.onmicrosoft.com", "advisor"),
		}, at); err != nil {
			t.Fatal(err)
		}
		if _, err := store.SaveDirectoryGDAP(ctx, p, []models.DirectoryGDAP{
			{PartnerID: "p1", ID: "g-delta", CustomerTenantID: "t-delta", Status: "approved"},
		}, at); err != nil {
			t.Fatal(err)
		}
		accepted, err := store.AcceptedInvitations(ctx, "p1")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, a := range accepted {
			got = append(got, a.InvitationID+" "+a.ResourceID)
		}
		slices.Sort(got)
		if want := []string{"inv_a t-alpha", "inv_b t-beta"}; !slices.Equal(got, want) {
			t.Fatalf("accepted %v, want %v (an advisor customer has not accepted a reseller relationship)", got, want)
		}
		approved, err := store.InvitationRelationships(ctx, "p1", []string{models.InvitationPending},
			[]string{"approved", "active"})
		if err != nil || len(approved) != 1 || approved[0].InvitationID != "inv_d" || approved[0].Status != "approved" {
			t.Fatalf("approved %+v %v", approved, err)
		}
		// A signal is recorded once; it is no webhook event.
		signal := models.DirectoryChange{Kind: models.SignalPrefix + "x", SubjectID: "t-alpha", Detail: "wf", Key: "k"}
		for range 2 {
			if _, err := store.AddDirectorySignals(ctx, "p1", []models.DirectoryChange{signal}); err != nil {
				t.Fatal(err)
			}
		}
		owed, err := store.UndeliveredDirectorySignals(ctx, "p1", 0)
		if err != nil || len(owed) != 1 || owed[0].WorkflowID != "wf" || owed[0].EventName != "x" {
			t.Fatalf("owed %+v %v", owed, err)
		}
		if changes, _ := store.UndeliveredDirectoryChanges(ctx, "p1", 0); len(changes) != 0 {
			t.Fatalf("a signal must not be a webhook change: %+v", changes)
		}
	})
}
