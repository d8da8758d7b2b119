package partnercenter_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

const (
	litwareID   = "77777777-7777-4777-8777-777777777777"
	prosewareID = "88888888-8888-4888-8888-888888888888"
)

// listAll pages through a reseller's customers and returns them with the
// size of each page.
func listAll(t testing.TB, c partnercenter.Client, reseller string) ([]partnercenter.Customer, []int) {
	t.Helper()
	var all []partnercenter.Customer
	var pages []int
	next := ""
	for {
		got, n, err := c.ListResellerCustomers(context.Background(), reseller, next)
		if err != nil {
			t.Fatalf("page %d: %v", len(pages)+1, err)
		}
		all = append(all, got...)
		pages = append(pages, len(got))
		if n == "" {
			return all, pages
		}
		if len(pages) > 1000 {
			t.Fatal("more than 1000 pages")
		}
		next = n
	}
}

func TestSimResellerCustomers(t *testing.T) {
	dataFile := filepath.Join(t.TempDir(), "sim.json")
	e := newSimEnv(t, dataFile)
	ctx := context.Background()

	start := time.Now()
	ids, err := e.sim.AddResellerCustomers(adatumID, 5000)
	if err != nil || len(ids) != 5000 {
		t.Fatalf("add: %d ids, err %v", len(ids), err)
	}
	created := time.Since(start)
	if _, err := e.sim.AddResellerCustomers(litwareID, 3); err != nil {
		t.Fatal(err)
	}

	start = time.Now()
	all, pages := listAll(t, e.c, adatumID)
	listed := time.Since(start)
	t.Logf("5000 customers created in %v (one save), listed in %v over %d pages", created, listed, len(pages))

	t.Run("every customer of the reseller comes once, in pages of at most 200", func(t *testing.T) {
		if len(all) != 5000 {
			t.Fatalf("listed %d customers", len(all))
		}
		want := map[string]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for _, c := range all {
			if !want[c.ID] {
				t.Fatalf("unexpected or repeated customer %s (%s)", c.ID, c.CompanyProfile.Domain)
			}
			delete(want, c.ID)
			if c.RelationshipToPartner != partnercenter.RelationshipReseller || c.CompanyProfile.Domain == "" ||
				c.CompanyProfile.TenantID != c.ID {
				t.Fatalf("customer = %+v", c)
			}
		}
		if len(pages) != 25 {
			t.Errorf("pages = %v", pages)
		}
		for _, n := range pages {
			if n > partnercenter.ResellerCustomersPageSize {
				t.Errorf("a page of %d", n)
			}
		}
	})
	t.Run("list items carry no billing profile; the customer read does, with the contact e-mail", func(t *testing.T) {
		if all[0].BillingProfile.Email != "" {
			t.Errorf("list item billing profile = %+v", all[0].BillingProfile)
		}
		got, err := e.c.GetCustomer(ctx, all[0].ID)
		if err != nil || got.BillingProfile.Email != "admin@"+got.CompanyProfile.Domain ||
			got.AssociatedPartnerID != adatumID {
			t.Errorf("customer = %+v, err %v", got, err)
		}
	})
	t.Run("another reseller's customers are listed apart", func(t *testing.T) {
		others, _ := listAll(t, e.c, litwareID)
		if len(others) != 3 {
			t.Errorf("litware customers = %d", len(others))
		}
	})
	t.Run("a reseller without customers has one empty page", func(t *testing.T) {
		got, next, err := e.c.ListResellerCustomers(ctx, prosewareID, "")
		if err != nil || len(got) != 0 || next != "" {
			t.Errorf("got %d, next %q, err %v", len(got), next, err)
		}
	})
	t.Run("a continuation token the simulator did not issue is refused", func(t *testing.T) {
		_, _, err := e.c.ListResellerCustomers(ctx, adatumID, "not-a-token")
		wantCode(t, err, 400, 0)
	})
	t.Run("the customers survive a restart", func(t *testing.T) {
		e.srv.Close()
		e.sim.Close()
		again := newSimEnv(t, dataFile)
		if got, _ := listAll(t, again.c, adatumID); len(got) != 5000 {
			t.Errorf("after restart: %d customers", len(got))
		}
	})
}

func BenchmarkSimListResellerCustomers(b *testing.B) {
	s := testsim.Start(b, sim.Config{})
	if _, err := s.AddResellerCustomers(adatumID, 5000); err != nil {
		b.Fatal(err)
	}
	c := s.Client(b)
	for b.Loop() {
		if all, _ := listAll(b, c, adatumID); len(all) != 5000 {
			b.Fatalf("listed %d", len(all))
		}
	}
}

func TestSimTenantContactEmail(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	tests := []struct {
		name string
		body map[string]any
		want string
	}{
		{
			"a customer created for a reseller gets admin@<domain> by default",
			map[string]any{
				"domain":              "first.onmicrosoft.com",
				"country":             "US",
				"companyName":         "First",
				"associatedPartnerId": adatumID,
			},
			"admin@first.onmicrosoft.com",
		},
		{
			"a given e-mail is the billing profile's",
			map[string]any{
				"domain":              "second.onmicrosoft.com",
				"country":             "US",
				"companyName":         "Second",
				"associatedPartnerId": adatumID,
				"email":               "it@second.example",
			},
			"it@second.example",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, body := e.post("/sim/tenants", tt.body)
			if st != 201 {
				t.Fatalf("create: %d %v", st, body)
			}
			got, err := e.c.GetCustomer(ctx, body["tenantId"].(string))
			if err != nil || got.BillingProfile.Email != tt.want || got.AssociatedPartnerID != adatumID {
				t.Errorf("customer = %+v, err %v", got, err)
			}
		})
	}
	if st, body := e.post("/sim/tenants", map[string]any{
		"domain":      "third.onmicrosoft.com",
		"country":     "US",
		"companyName": "Third",
		"email":       "nobody",
	}); st != 400 {
		t.Errorf("an e-mail without @: %d %v", st, body)
	}
}

func TestSimAgreementStatusChecks(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	t.Run("a seeded reseller with an unsigned agreement is 2203 by MPN ID and 2206 by tenant ID", func(t *testing.T) {
		_, err := e.c.GetAgreementStatus(ctx, "2345678")
		wantCode(t, err, 400, partnercenter.CodeAgreementNotSignedForRegion)
		st, body := e.raw("GET", "/v1/compliance/csp/agreementstatus?tenantId="+litwareID, nil, nil)
		if st != 400 || !strings.Contains(string(body), "2206") {
			t.Errorf("%d %s", st, body)
		}
	})
	t.Run("an unknown PartnerID is 404 3000 for the profile and 2200 for the agreement", func(t *testing.T) {
		_, err := e.c.GetMPNProfile(ctx, "9999999")
		wantCode(t, err, 404, partnercenter.CodeMPNNotFound)
		_, err = e.c.GetAgreementStatus(ctx, "9999999")
		wantCode(t, err, 400, partnercenter.CodeMPNInvalid)
	})
	t.Run("parameter names are read in any case; a signed reseller answers by tenant ID too", func(t *testing.T) {
		for _, q := range []string{
			"mpnId=1234567", "mpnid=1234567", "MPNID=1234567", "tenantId=" + adatumID,
			"tenantid=" + strings.ToUpper(adatumID),
		} {
			if st, body := e.raw("GET", "/v1/compliance/csp/agreementstatus?"+q, nil, nil); st != 200 ||
				!strings.Contains(string(body), `"isAgreementSigned":true`) {
				t.Errorf("%s: %d %s", q, st, body)
			}
		}
	})
	t.Run("both identifiers are 2000, none is 2001, a customer tenant is 2205", func(t *testing.T) {
		for q, code := range map[string]string{
			"mpnId=1234567&tenantId=" + adatumID: "2000",
			"":                                   "2001",
			"tenantId=" + contosoID:              "2205",
		} {
			if st, body := e.raw("GET", "/v1/compliance/csp/agreementstatus?"+q, nil, nil); st != 400 ||
				!strings.Contains(string(body), `"code":`+code) {
				t.Errorf("%q: %d %s", q, st, body)
			}
		}
	})
}

func TestSimResellerPartnershipPage(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	home := sim.DefaultHomePartner.TenantID
	for _, p := range []map[string]any{
		{
			"domain":          "fourthcoffee.onmicrosoft.com",
			"companyName":     "Fourth Coffee",
			"mpnId":           "4567890",
			"country":         "DE",
			"agreementSigned": true,
			"users":           []map[string]any{{"upn": "admin@fourthcoffee.onmicrosoft.com", "globalAdmin": true}},
		},
		{
			"domain":           "direct.onmicrosoft.com",
			"companyName":      "Direct Only",
			"mpnId":            "5678901",
			"country":          "US",
			"agreementSigned":  true,
			"indirectReseller": false,
			"users":            []map[string]any{{"upn": "admin@direct.onmicrosoft.com", "globalAdmin": true}},
		},
	} {
		if st, body := e.post("/sim/partners", p); st != 201 {
			t.Fatalf("add partner: %d %v", st, body)
		}
	}
	link := e.sim.ResellerPartnershipURL(home)
	if want := e.srv.URL + sim.ResellerPartnershipPath + "?providerId=" + home; link != want {
		t.Fatalf("URL = %s, want %s", link, want)
	}
	page := string(fetch(t, link))
	for _, want := range []string{
		`id="upn"`, `id="authorize"`, `id="provider"`, sim.DefaultHomePartner.CompanyName, "Partner Center",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	submit := func(u, upn string) (int, string) {
		resp, err := http.PostForm(u, url.Values{"upn": {upn}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	resellers := func() map[string]partnercenter.PartnerRelationship {
		t.Helper()
		list, err := e.c.ListIndirectResellers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]partnercenter.PartnerRelationship{}
		for _, r := range list {
			out[r.ID] = r
		}
		return out
	}
	tests := []struct {
		name   string
		upn    string
		status int
		reason string
	}{
		{
			"a reseller user who is not Global admin is refused",
			"agent@proseware.onmicrosoft.com", 403, sim.ReasonNotGlobalAdmin,
		},
		{
			"a reseller in another region is refused",
			"admin@fourthcoffee.onmicrosoft.com", 403, sim.ReasonRegionMismatch,
		},
		{
			"a partner without indirect reseller enrollment is refused",
			"admin@direct.onmicrosoft.com", 403, sim.ReasonNotIndirectReseller,
		},
		{
			"a customer's Global admin (no PartnerID) is refused",
			"admin@contoso.onmicrosoft.com", 403, sim.ReasonNotIndirectReseller,
		},
		{"an unknown user is refused", "nobody@nowhere.example", 404, sim.ReasonNotFound},
		{"the reseller's Global admin authorizes the provider", "admin@proseware.onmicrosoft.com", 200, ""},
		{"a second authorization is refused", "admin@proseware.onmicrosoft.com", 409, sim.ReasonAlreadyAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, before := resellers()[prosewareID]
			status, body := submit(link, tt.upn)
			want := `class="ok"`
			if tt.reason != "" {
				want = `class="refused" data-reason="` + tt.reason + `"`
			}
			if status != tt.status || !strings.Contains(body, want) {
				t.Errorf("status %d, body lacks %s", status, want)
			}
			if _, after := resellers()[prosewareID]; tt.status != 200 && after != before {
				t.Errorf("a refusal changed the reseller list")
			}
		})
	}
	t.Run("the authorized reseller is listed with its PartnerID and location", func(t *testing.T) {
		r, ok := resellers()[prosewareID]
		if !ok || r.MPNID != "3456789" || r.Location != "US" || r.State != "Active" ||
			r.RelationshipType != partnercenter.RelationshipTypeIndirectCSPOf || r.Name != "Proseware Reseller" {
			t.Errorf("reseller = %+v (listed %v)", r, ok)
		}
	})
	t.Run("a request naming another provider is not found", func(t *testing.T) {
		other := e.sim.ResellerPartnershipURL("00000000-0000-4000-8000-000000000000")
		if status, body := submit(other, "admin@proseware.onmicrosoft.com"); status != 404 ||
			!strings.Contains(body, `data-reason="not-found"`) {
			t.Errorf("status %d", status)
		}
	})
}

func TestSimRemoveReseller(t *testing.T) {
	e := newSimEnv(t, "")
	ctx := context.Background()
	home := sim.DefaultHomePartner.TenantID
	ids, err := e.sim.AddResellerCustomers(adatumID, 3)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := e.c.CreateGDAPRelationship(rid("gdap"), partnercenter.NewGDAPRelationship{
		DisplayName: "adatum customer",
		Duration:    "P730D",
		Customer:    &partnercenter.GDAPCustomer{TenantID: ids[0]},
		AccessDetails: partnercenter.AccessDetails{
			UnifiedRoles: []partnercenter.UnifiedRole{{RoleDefinitionID: helpdesk}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.LockGDAPForApproval(rid("lock"), rel.ID); err != nil {
		t.Fatal(err)
	}
	if st, body := e.post("/sim/customer-actions/approve-gdap", map[string]string{
		"relationshipId": rel.ID,
		"upn":            "admin@" + mustDomain(t, e, ids[0]),
	}); st != 200 {
		t.Fatalf("approve: %d %v", st, body)
	}
	e.advance(2 * time.Minute)
	gdapBefore, err := e.c.GetGDAPRelationship(ctx, rel.ID)
	if err != nil || gdapBefore.Status != partnercenter.GDAPStatusActive {
		t.Fatalf("GDAP = %+v, err %v", gdapBefore, err)
	}

	refusals := []struct {
		name   string
		body   map[string]string
		status int
		reason string
	}{
		{
			"an unknown provider is refused",
			map[string]string{"providerId": "00000000-0000-4000-8000-000000000000", "resellerTenantId": adatumID},
			404, sim.ReasonNotFound,
		},
		{
			"an unknown reseller is refused",
			map[string]string{"providerId": home, "resellerTenantId": "00000000-0000-4000-8000-000000000000"},
			404, sim.ReasonNotFound,
		},
		{
			"a reseller not partnered with the provider is refused",
			map[string]string{"providerId": home, "resellerTenantId": prosewareID},
			409, sim.ReasonInvalidState,
		},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			if st, body := e.post("/sim/partner-actions/remove-reseller", tt.body); st != tt.status ||
				body["error"] != tt.reason {
				t.Errorf("%d %v", st, body)
			}
		})
	}
	if st, body := e.post("/sim/partner-actions/remove-reseller", map[string]string{
		"providerId":       home,
		"resellerTenantId": adatumID,
	}); st != 200 || body["state"] != "Removed" {
		t.Fatalf("remove: %d %v", st, body)
	}

	t.Run("the reseller leaves the provider's list", func(t *testing.T) {
		list, err := e.c.ListIndirectResellers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range list {
			if r.ID == adatumID {
				t.Errorf("adatum still listed: %+v", r)
			}
		}
	})
	t.Run("its customers stay, associated with it", func(t *testing.T) {
		all, _ := listAll(t, e.c, adatumID)
		if len(all) != 3 {
			t.Errorf("customers = %d", len(all))
		}
		got, err := e.c.GetCustomer(ctx, ids[1])
		if err != nil || got.AssociatedPartnerID != adatumID ||
			got.RelationshipToPartner != partnercenter.RelationshipReseller {
			t.Errorf("customer = %+v, err %v", got, err)
		}
	})
	t.Run("GDAP relationships are unchanged", func(t *testing.T) {
		got, err := e.c.GetGDAPRelationship(ctx, rel.ID)
		if err != nil || got.Status != gdapBefore.Status || got.ETag != gdapBefore.ETag {
			t.Errorf("GDAP = %+v, err %v", got, err)
		}
	})
	t.Run("the provider can no longer create customers for it", func(t *testing.T) {
		in := newCustomer("after-removal")
		in.AssociatedPartnerID = adatumID
		_, err := e.c.CreateCustomer(rid("create"), in)
		wantCode(t, err, 400, partnercenter.CodeNotIndirectReseller)
	})
	t.Run("a second removal is refused and the reseller can authorize the provider again", func(t *testing.T) {
		if st, body := e.post("/sim/partner-actions/remove-reseller", map[string]string{
			"providerId":       home,
			"resellerTenantId": adatumID,
		}); st != 409 {
			t.Errorf("second removal: %d %v", st, body)
		}
		if st, body := e.post("/sim/customer-actions/authorize-provider", map[string]string{
			"resellerDomain": "adatum.onmicrosoft.com",
			"providerId":     home,
			"upn":            "admin@adatum.onmicrosoft.com",
		}); st != 200 {
			t.Errorf("authorize again: %d %v", st, body)
		}
	})
}

func mustDomain(t *testing.T, e *simEnv, customerID string) string {
	t.Helper()
	c, err := e.c.GetCustomer(context.Background(), customerID)
	if err != nil {
		t.Fatal(err)
	}
	return c.CompanyProfile.Domain
}
