package models_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testdb"
	"github.com/partnerflow/partnerflow/models"
)

// directoryWorld is a partner's estate written through the sync's side, in two passes: the
// first at t0 finds alpha, beta and omega; the second at t1 finds gamma and delta too, and no
// longer omega, which is gone. Another partner has a customer named like alpha.
//
//	alpha  reseller r1; g-a1 active, ends in 10 days, no auto-extend, 2 assignments;
//	       g-a2 active, ends in 5 days but extends itself, Global Administrator, not counted
//	beta   no relationship at all
//	gamma  g-c1 active, ends in 200 days, counted: no assignments; g-c2 terminated
//	delta  g-d1 active, no end date, assignments not counted yet
//	omega  gone
type directoryWorld struct {
	store  *models.Store
	t0, t1 time.Time
}

const (
	dirPartner = "p1"
	tAlpha     = "0a1f0000-0000-4000-8000-00000000000a"
	tBeta      = "0b2f0000-0000-4000-8000-00000000000b"
	tGamma     = "0c3f0000-0000-4000-8000-00000000000c"
	tDelta     = "0d4f0000-0000-4000-8000-00000000000d"
	tOmega     = "0e5f0000-0000-4000-8000-00000000000e"
	reseller1  = "7e5e1100-0000-4000-8000-000000000001"
)

func newDirectoryWorld(t *testing.T, store *models.Store) directoryWorld {
	t.Helper()
	ctx := context.Background()
	w := directoryWorld{store: store, t0: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	w.t1 = w.t0.Add(2 * time.Hour)
	customer := func(partner, id, name, domain string) models.DirectoryCustomer {
		return models.DirectoryCustomer{PartnerID: partner, TenantID: id, CompanyName: name, Domain: domain,
			Relationship: "reseller"}
	}
	days := func(n int) *time.Time { e := w.t1.Add(time.Duration(n) * 24 * time.Hour); return &e }
	activated := func(d time.Duration) *time.Time { a := w.t0.Add(-d); return &a }
	gdap := func(id, tenant, status string, ends *time.Time, autoExtend, globalAdmin bool,
		since *time.Time) models.DirectoryGDAP {
		return models.DirectoryGDAP{PartnerID: dirPartner, ID: id, CustomerTenantID: tenant, DisplayName: "rel " + id,
			Status: status, EndsAt: ends, AutoExtend: autoExtend, GlobalAdmin: globalAdmin, ActivatedAt: since}
	}
	pass := func(partner string, at time.Time, customers []models.DirectoryCustomer,
		resellers map[string][]string, rels []models.DirectoryGDAP, assignments map[string]int) {
		t.Helper()
		p, err := store.BeginDirectoryPass(ctx, partner, at)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := store.SaveDirectoryCustomers(ctx, p, customers, at); err != nil {
			t.Fatal(err)
		}
		for reseller, tenants := range resellers {
			if _, err := store.AssociateDirectoryReseller(ctx, p, partner, reseller, tenants, at); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.SaveDirectoryGDAP(ctx, p, rels, at); err != nil {
			t.Fatal(err)
		}
		for id, n := range assignments {
			if _, err := store.SetDirectoryAssignments(ctx, partner, id, n, at); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.EndDirectoryPass(ctx, partner, p, true, at); err != nil {
			t.Fatal(err)
		}
	}
	alpha := customer(dirPartner, tAlpha, "Alpha Corp", "alpha.onmicrosoft.com")
	beta := customer(dirPartner, tBeta, "Beta GmbH", "beta.onmicrosoft.com")
	relsAlpha := []models.DirectoryGDAP{
		gdap("g-a1", tAlpha, models.GDAPActive, days(10), false, false, activated(48*time.Hour)),
		gdap("g-a2", tAlpha, models.GDAPActive, days(5), true, true, activated(24*time.Hour)),
	}
	pass(dirPartner, w.t0, []models.DirectoryCustomer{alpha, beta, customer(dirPartner, tOmega, "Omega", "omega.x")},
		map[string][]string{reseller1: {tAlpha}}, relsAlpha, map[string]int{"g-a1": 2})
	pass(dirPartner, w.t1, []models.DirectoryCustomer{alpha, beta,
		customer(dirPartner, tGamma, "Gamma", "gamma.onmicrosoft.com"),
		customer(dirPartner, tDelta, "Delta", "delta.onmicrosoft.com"),
	}, map[string][]string{reseller1: {tAlpha}}, append(relsAlpha,
		gdap("g-c1", tGamma, models.GDAPActive, days(200), false, false, nil),
		gdap("g-c2", tGamma, models.GDAPTerminated, days(20), false, false, nil),
		gdap("g-d1", tDelta, models.GDAPActive, nil, false, false, nil),
	), map[string]int{"g-c1": 0})
	pass("p2", w.t0, []models.DirectoryCustomer{customer("p2", "0f6f0000-0000-4000-8000-00000000000f",
		"Alpha Elsewhere", "alpha2.onmicrosoft.com")}, nil, nil, nil)
	return w
}

// tenants lists the directory's customers a filter selects, every page read with limit.
func (w directoryWorld) tenants(t *testing.T, f models.DirectoryFilter, limit int) []string {
	t.Helper()
	f.PartnerID, f.Limit, f.Now = dirPartner, limit, w.t1
	var out []string
	for range 20 {
		page, next, err := w.store.ListDirectory(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > limit {
			t.Fatalf("a page of %d for a limit of %d", len(page), limit)
		}
		for _, e := range page {
			out = append(out, e.TenantID)
		}
		if next == "" {
			return out
		}
		f.Cursor = next
	}
	t.Fatal("the pages never end")
	return nil
}

func TestTheDirectoryListFiltersSearchesAndPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newDirectoryWorld(t, store)
		cases := []struct {
			name   string
			filter models.DirectoryFilter
			want   []string
		}{
			{"newest-changed first, ties by tenant ID, without the gone ones", models.DirectoryFilter{},
				[]string{tDelta, tGamma, tBeta, tAlpha}},
			{"the gone ones when asked", models.DirectoryFilter{IncludeGone: true},
				[]string{tOmega, tDelta, tGamma, tBeta, tAlpha}},
			{"by name", models.DirectoryFilter{Order: models.DirectoryByName},
				[]string{tAlpha, tBeta, tDelta, tGamma}},
			{"by name, the gone ones too", models.DirectoryFilter{Order: models.DirectoryByName, IncludeGone: true},
				[]string{tAlpha, tBeta, tDelta, tGamma, tOmega}},
			{"a name's prefix in another case", models.DirectoryFilter{Search: "ALP"}, []string{tAlpha}},
			{"a name's prefix, not its middle", models.DirectoryFilter{Search: "corp"}, nil},
			{"a domain's prefix, trimmed", models.DirectoryFilter{Search: " beta.onm "}, []string{tBeta}},
			{"a name's prefix in mixed case", models.DirectoryFilter{Search: "bEtA g"}, []string{tBeta}},
			{"a tenant ID, exactly", models.DirectoryFilter{Search: tGamma}, []string{tGamma}},
			{"a tenant ID's prefix is no match", models.DirectoryFilter{Search: tGamma[:8]}, nil},
			{"LIKE's wildcards are plain characters", models.DirectoryFilter{Search: "%"}, nil},
			{"LIKE's one-character wildcard too", models.DirectoryFilter{Search: "_lpha"}, nil},
			{"a reseller's customers", models.DirectoryFilter{ResellerTenantID: reseller1}, []string{tAlpha}},
			{"an active relationship that does not extend itself ends within 30 days",
				models.DirectoryFilter{GDAPExpiringWithinDays: 30}, []string{tAlpha}},
			{"one that extends itself is no expiry", models.DirectoryFilter{GDAPExpiringWithinDays: 7}, nil},
			{"within 365 days", models.DirectoryFilter{GDAPExpiringWithinDays: 365}, []string{tGamma, tAlpha}},
			{"no active relationship", models.DirectoryFilter{NoGDAP: true}, []string{tBeta}},
			{"no active relationship, the gone ones too", models.DirectoryFilter{NoGDAP: true, IncludeGone: true},
				[]string{tOmega, tBeta}},
			{"no active relationship counted with assignments", models.DirectoryFilter{NoAdminAccess: true},
				[]string{tDelta, tGamma, tBeta}},
			{"filters combine", models.DirectoryFilter{NoAdminAccess: true, Search: "g"}, []string{tGamma}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				for _, limit := range []int{1, 2, 50} {
					if got := w.tenants(t, tc.filter, limit); !slices.Equal(got, tc.want) {
						t.Fatalf("limit %d: %v, want %v", limit, got, tc.want)
					}
				}
			})
		}
	})
}

func TestEachDirectoryEntryCarriesItsAccess(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newDirectoryWorld(t, store)
		page, _, err := store.ListDirectory(context.Background(), models.DirectoryFilter{PartnerID: dirPartner})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]models.DirectoryEntry{}
		for _, e := range page {
			got[e.TenantID] = e
		}
		end := w.t1.Add(10 * 24 * time.Hour)
		want := map[string]models.DirectoryAccess{
			tAlpha: {ActiveRelationships: 2, SoonestEnd: &end, GlobalAdmin: true, AdminAccess: true},
			tBeta:  {},
			tGamma: {ActiveRelationships: 1, SoonestEnd: ptr(w.t1.Add(200 * 24 * time.Hour)), NoAssignments: true},
			tDelta: {ActiveRelationships: 1},
		}
		for tenant, access := range want {
			a := got[tenant].DirectoryAccess
			if a.ActiveRelationships != access.ActiveRelationships || a.GlobalAdmin != access.GlobalAdmin ||
				a.NoAssignments != access.NoAssignments || a.AdminAccess != access.AdminAccess ||
				(a.SoonestEnd == nil) != (access.SoonestEnd == nil) ||
				(a.SoonestEnd != nil && !a.SoonestEnd.Equal(*access.SoonestEnd)) {
				t.Errorf("%s: %+v, want %+v", tenant, a, access)
			}
		}
		if alpha := got[tAlpha]; alpha.CompanyName != "Alpha Corp" || alpha.ResellerTenantID != reseller1 ||
			!alpha.FirstSeenAt.Equal(w.t0) {
			t.Errorf("alpha's own columns: %+v", alpha.DirectoryCustomer)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func TestADirectoryCursorIsOnlyTakenBackByItsOwnOrder(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		newDirectoryWorld(t, store)
		ctx := context.Background()
		_, next, err := store.ListDirectory(ctx, models.DirectoryFilter{PartnerID: dirPartner, Limit: 1})
		if err != nil || next == "" {
			t.Fatalf("first page: %q %v", next, err)
		}
		for _, f := range []models.DirectoryFilter{
			{Order: models.DirectoryByName, Cursor: next},
			{Cursor: "not a cursor"},
			{Cursor: "eyJvIjoiY2hhbmdlZCIsImsiOiJ5ZXN0ZXJkYXkiLCJ0IjoieCJ9"}, // a key that is no time
			{Cursor: "e30"}, // {}
		} {
			f.PartnerID = dirPartner
			if _, _, err := store.ListDirectory(ctx, f); !errors.Is(err, models.ErrBadCursor) {
				t.Errorf("cursor %q for order %q: %v, want ErrBadCursor", f.Cursor, f.Order, err)
			}
		}
	})
}

func TestADirectoryCustomersDetailGathersItsFlows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newDirectoryWorld(t, store)
		ctx := context.Background()
		at := w.t1.Add(time.Hour)
		step := func(kind, id, name string, after time.Duration) {
			t.Helper()
			if err := store.AddStep(ctx, kind, id, name, name+" of "+id, "", at.Add(after)); err != nil {
				t.Fatal(err)
			}
		}
		// By domain, by GDAP relationship, and another partner's of the same domain (not alpha's).
		byDomain := newInvitation("inv_domain", "alpha.onmicrosoft.com", at)
		byGDAP := newInvitation("inv_gdap", "alpha-old.onmicrosoft.com", at.Add(time.Minute))
		byGDAP.GDAPRelationshipID = "g-a1"
		elsewhere := newInvitation("inv_other", "alpha.onmicrosoft.com", at)
		elsewhere.PartnerID = "p2"
		unrelated := newInvitation("inv_unrelated", "beta.onmicrosoft.com", at)
		for _, inv := range []*models.Invitation{byDomain, byGDAP, elsewhere, unrelated} {
			if _, err := store.CreateInvitation(ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.CreateOnboarding(ctx, &models.Onboarding{
			ID: "onb_1", PartnerID: dirPartner, CompanyName: "Alpha Corp", Domain: "alpha-new.onmicrosoft.com",
			CustomerTenantID: tAlpha, Status: models.OnboardingCompleted, WorkflowID: "customer/onb_1", Request: "{}",
			CreatedAt: at.Add(2 * time.Minute), UpdatedAt: at, ExpiresAt: at.Add(time.Hour),
		}); err != nil {
			t.Fatal(err)
		}
		newReseller(t, store, dirPartner, "res_1", "ops@reseller-one.example", at.Add(-time.Hour))
		if _, err := store.CreateRemoval(ctx, &models.Removal{
			ID: "rem_1", PartnerID: dirPartner, ResellerID: "res_1", ResellerTenantID: reseller1,
			ResellerName: "Reseller One", Status: models.RemovalCompleted, WorkflowID: "removal/rem_1",
			AttestedAt: at, CreatedAt: at.Add(3 * time.Minute), UpdatedAt: at,
		}); err != nil {
			t.Fatal(err)
		}
		step(models.KindInvitation, "inv_domain", "sent", 10*time.Minute)
		step(models.KindOnboarding, "onb_1", "agreement-accepted", 20*time.Minute)
		step(models.KindRemoval, "rem_1", "notified", 30*time.Minute)
		step(models.KindInvitation, "inv_other", "sent", 40*time.Minute)

		d, err := store.DirectoryCustomerDetail(ctx, dirPartner, tAlpha)
		if err != nil {
			t.Fatal(err)
		}
		if d.Entry.TenantID != tAlpha || d.Entry.ActiveRelationships != 2 || !d.Entry.GlobalAdmin {
			t.Errorf("entry %+v", d.Entry)
		}
		var rels []string
		for _, g := range d.Relationships {
			rels = append(rels, g.ID)
		}
		if !slices.Equal(rels, []string{"g-a2", "g-a1"}) {
			t.Errorf("relationships %v, want the newest activated first", rels)
		}
		var changes []string
		for i, c := range d.Changes {
			changes = append(changes, c.Kind+" "+c.SubjectID)
			if i > 0 && c.ID > d.Changes[i-1].ID {
				t.Errorf("changes not newest first: %v", d.Changes)
			}
		}
		for _, want := range []string{models.ChangeGDAPExpiring + " g-a1", models.ChangeGDAPGlobalAdmin + " g-a2"} {
			if !slices.Contains(changes, want) {
				t.Errorf("changes %v lack %s", changes, want)
			}
		}
		var flows []string
		for _, f := range d.Flows {
			flows = append(flows, f.Kind+" "+f.ID+" "+f.MatchedBy)
		}
		if want := []string{
			"removal rem_1 reseller", "customer onb_1 tenant", "invitation inv_gdap gdap",
			"invitation inv_domain domain",
		}; !slices.Equal(flows, want) {
			t.Errorf("flows %v, want %v", flows, want)
		}
		var timeline []string
		for i, st := range d.Timeline {
			timeline = append(timeline, st.FlowID+" "+st.Name)
			if i > 0 && st.At.After(d.Timeline[i-1].At) {
				t.Errorf("timeline not newest first: %v", d.Timeline)
			}
		}
		if want := []string{
			"rem_1 notified", "onb_1 agreement-accepted", "inv_domain sent", "rem_1 created", "onb_1 created",
			"inv_gdap created", "inv_domain created",
		}; !slices.Equal(timeline, want) {
			t.Errorf("timeline %v, want %v", timeline, want)
		}
		if d.TimelineTruncated || d.ChangesTruncated {
			t.Errorf("nothing was capped: %v %v", d.TimelineTruncated, d.ChangesTruncated)
		}

		// A gone customer still has its page; one never listed, or another partner's, has none.
		if d, err := store.DirectoryCustomerDetail(ctx, dirPartner, tOmega); err != nil || !d.Entry.Gone {
			t.Errorf("gone customer: %+v %v", d, err)
		}
		for _, tenant := range []string{"0f6f0000-0000-4000-8000-00000000000f", "nope"} {
			if _, err := store.DirectoryCustomerDetail(ctx, dirPartner, tenant); !errors.Is(err, models.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", tenant, err)
			}
		}
		// Beta has no flow, and its detail reads none of another customer's.
		if d, err := store.DirectoryCustomerDetail(ctx, dirPartner, tBeta); err != nil ||
			len(d.Flows) != 1 || d.Flows[0].ID != "inv_unrelated" || len(d.Relationships) != 0 {
			t.Errorf("beta: %+v %v", d, err)
		}
	})
}

func TestADirectoryCustomersDetailCapsItsFlows(t *testing.T) {
	testdb.Each(t, func(t *testing.T, store *models.Store) {
		w := newDirectoryWorld(t, store)
		ctx := context.Background()
		for i := range models.MaxDirectoryFlowsPerKind + 2 {
			at := w.t1.Add(time.Duration(i) * time.Minute)
			inv := newInvitation("inv_"+string(rune('a'+i)), "delta.onmicrosoft.com", at)
			inv.Status = models.InvitationExpired
			if _, err := store.CreateInvitation(ctx, inv); err != nil {
				t.Fatal(err)
			}
		}
		d, err := store.DirectoryCustomerDetail(ctx, dirPartner, tDelta)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Flows) != models.MaxDirectoryFlowsPerKind || !d.TimelineTruncated ||
			d.Flows[0].ID != "inv_"+string(rune('a'+models.MaxDirectoryFlowsPerKind+1)) {
			t.Fatalf("%d flows (first %s), truncated %v: want the newest %d", len(d.Flows), d.Flows[0].ID,
				d.TimelineTruncated, models.MaxDirectoryFlowsPerKind)
		}
	})
}
