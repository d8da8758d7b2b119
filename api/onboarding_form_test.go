package api_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// catalogFixture is a flow fixture whose onboardings read the simulator's catalog over HTTP.
func catalogFixture(t *testing.T) *flowFixture {
	t.Helper()
	pc := testsim.Start(t, sim.Config{}).Client(t)
	return newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Onboarding.Products = pc
		fc.Onboarding.Catalog = func(ctx context.Context, id, country string) (bool, error) {
			return partnercenter.Sells(ctx, pc, id, country)
		}
	})
}

// TestTheCatalogListsWhatAnOnboardingMayBuy: GET /v1/catalog walks Partner Center's products,
// SKUs and availabilities of a country into the items a product line names.
func TestTheCatalogListsWhatAnOnboardingMayBuy(t *testing.T) {
	f := catalogFixture(t)
	resp := f.sales.Do("GET", "/v1/catalog?country=it", nil)
	if resp.Status != http.StatusOK {
		t.Fatalf("catalog: %d %s", resp.Status, resp.Body)
	}
	var got struct {
		Country string `json:"country"`
		Items   []struct {
			CatalogItemID string   `json:"catalogItemId"`
			Product       string   `json:"product"`
			ProductType   string   `json:"productType"`
			MaxQuantity   int      `json:"maxQuantity"`
			BillingCycles []string `json:"billingCycles"`
			Terms         []struct {
				Duration string `json:"duration"`
			} `json:"terms"`
		} `json:"items"`
	}
	resp.JSON(t, &got)
	found := map[string]bool{}
	for _, it := range got.Items {
		found[it.CatalogItemID] = true
		switch it.CatalogItemID {
		case sim.CatalogM365BusinessBasic:
			if it.Product != "Microsoft 365 Business Basic" || it.MaxQuantity != 300 || len(it.Terms) != 3 ||
				it.ProductType != "OnlineServices" {
				t.Errorf("Business Basic: %+v", it)
			}
		case sim.CatalogAzurePlan:
			if len(it.Terms) != 0 || len(it.BillingCycles) != 1 || it.BillingCycles[0] != "none" {
				t.Errorf("the Azure plan: %+v", it)
			}
		}
	}
	if got.Country != "IT" || !found[sim.CatalogM365E3] || !found[sim.CatalogAzurePlan] ||
		found[sim.CatalogReservation] {
		t.Fatalf("the licences and the Azure plan, not reservations: %s", resp.Body)
	}

	if r := f.sales.Do("GET", "/v1/catalog?country=Italy", nil); r.Status != http.StatusBadRequest ||
		r.Problem(t)["field"] != "country" {
		t.Fatalf("a country that is not a code: %d %s", r.Status, r.Body)
	}
	bare := newFlowFixture(t)
	if r := bare.sales.Do("GET", "/v1/catalog?country=IT", nil); r.Status != http.StatusServiceUnavailable {
		t.Fatalf("without Partner Center: %d %s", r.Status, r.Body)
	}
}

// TestOperatorsOnboardCustomersFromTheDashboard: the "New customer" form takes the API's fields,
// checked by the same code, with its product lines picked from the country's catalog; a refusal
// names the form's own line, shows the form again filled in, and starts nothing.
func TestOperatorsOnboardCustomersFromTheDashboard(t *testing.T) {
	f := catalogFixture(t)
	sales := f.signIn(t, models.RoleSalesAgent)
	list := f.browser(t).Do("GET", "/customers", nil, "Cookie", sales)
	if !strings.Contains(string(list.Body), `href="/customers/new"`) {
		t.Fatal("the list must offer the form to agents")
	}
	page := f.browser(t).Do("GET", "/customers/new?country=IT", nil, "Cookie", sales)
	form := string(page.Body)
	m := csrfField.FindSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil ||
		!strings.Contains(form, `<option value="`+sim.CatalogM365E3+`">Microsoft 365 E3 (1 to 10000)</option>`) ||
		!strings.Contains(form, `id="products[2].catalogItemId"`) || !strings.Contains(form, `value="IT"`) {
		t.Fatalf("the form with the catalog of IT: %d %s", page.Status, form)
	}
	valid := func() url.Values {
		return url.Values{
			"csrf": {string(m[1])}, "companyName": {"Contoso Italia S.r.l."}, "domainPrefix": {"contosoitalia"},
			"country": {"IT"}, "language": {"it"}, "registrationNumber": {"IT12345678901"},
			"contact.firstName": {"Maria"}, "contact.lastName": {"Rossi"}, "contact.email": {"maria@contoso.it"},
			"address.line1": {"Via Roma 1"}, "address.city": {"Milano"}, "address.postalCode": {"20121"},
			"products[1].catalogItemId": {sim.CatalogM365E3}, "products[1].quantity": {"10"},
			"products[1].billingCycle": {"monthly"}, "products[1].termDuration": {"P1Y"},
		}
	}
	post := func(v url.Values) *struct {
		status         int
		location, body string
	} {
		r := f.browser(t).Do("POST", "/customers/new", v.Encode(), "Cookie", sales, "Content-Type", formContentType)
		return &struct {
			status         int
			location, body string
		}{r.Status, r.Header.Get("Location"), string(r.Body)}
	}
	for _, tc := range []struct {
		name    string
		change  func(url.Values)
		problem string
	}{
		{"a quantity on the second line that is no number", func(v url.Values) {
			v.Set("products[1].quantity", "ten")
		}, "problem-products[1].quantity"},
		{"an item Partner Center does not sell, on the third line", func(v url.Values) {
			v.Set("products[2].catalogItemId", "CFQ7TTC0ZZZZ:0001:CFQ7TTC0ZZZZ")
			v.Set("products[2].quantity", "1")
			v.Set("products[2].billingCycle", "monthly")
			v.Set("products[2].termDuration", "P1M")
		}, "problem-products[2].catalogItemId"},
		{"no product at all", func(v url.Values) { v.Del("products[1].catalogItemId") },
			"problem-products[0].catalogItemId"},
		{"a domain prefix Partner Center refuses", func(v url.Values) { v.Set("domainPrefix", "Contoso Italia") },
			"problem-domainPrefix"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := valid()
			tc.change(v)
			r := post(v)
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, `id="`+tc.problem+`"`) ||
				!strings.Contains(r.body, `value="Contoso Italia S.r.l."`) {
				t.Fatalf("status %d, want 400 with the problem at %s, filled in: %s", r.status, tc.problem, r.body)
			}
			if n := len(f.temporal.startCalls()); n != 0 {
				t.Fatalf("a refused form started %d workflows", n)
			}
		})
	}
	forged := valid()
	forged.Set("csrf", "forged")
	if r := post(forged); r.status != http.StatusForbidden {
		t.Fatalf("a form without its CSRF token: %d", r.status)
	}

	r := post(valid())
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/customers/cus_") ||
		!strings.HasSuffix(r.location, "?done=created") {
		t.Fatalf("start: %d %q %s", r.status, r.location, r.body)
	}
	starts := f.temporal.startCalls()
	if len(starts) != 1 {
		t.Fatalf("%d workflows started, want 1", len(starts))
	}
	in := startInput[workflows.OnboardingInput](starts[0])
	if in.Domain != "contosoitalia.onmicrosoft.com" || in.Language != "it" || len(in.Products) != 1 ||
		in.Products[0].CatalogItemID != sim.CatalogM365E3 || in.Products[0].Quantity != 10 ||
		in.Products[0].TermDuration != "P1Y" || in.ContactEmail != "maria@contoso.it" ||
		"/customers/"+in.CustomerID+"?done=created" != r.location {
		t.Fatalf("input %+v", in)
	}
	if page := f.browser(t).Do("GET", r.location, nil, "Cookie", sales); !strings.Contains(string(page.Body),
		`id="notice"`) {
		t.Fatalf("the new customer's page must say it started: %s", page.Body)
	}

	// Without a catalog the lines take typed catalog item IDs.
	bare := newFlowFixture(t)
	typed := bare.browser(t).Do("GET", "/customers/new", nil, "Cookie", bare.signIn(t, models.RoleAdminAgent))
	if typed.Status != http.StatusOK || !strings.Contains(string(typed.Body), "The catalog could not be read") ||
		!strings.Contains(string(typed.Body), `<input id="products[0].catalogItemId"`) {
		t.Fatalf("the form without a catalog: %d %s", typed.Status, typed.Body)
	}
}

// TestOperatorsRevealTheFirstAdminsCredentialsOnce: the onboarding's page offers the reveal while
// the password waits; the form says it is shown once and asks to confirm; the password is shown
// on the page that answers, not cached, and the form then refuses, naming who revealed it.
func TestOperatorsRevealTheFirstAdminsCredentialsOnce(t *testing.T) {
	f := newFlowFixture(t)
	ctx := context.Background()
	now := f.clock.Now()
	row := &models.Onboarding{
		ID: "cus_reveal", PartnerID: partnerID, CompanyName: "Contoso", Domain: "contosoitalia.onmicrosoft.com",
		Status: models.OnboardingAwaitingAgreement, WorkflowID: "customer/cus_reveal",
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.AddDate(0, 0, 90),
	}
	if err := models.Create(ctx, f.store, models.KindOnboarding, row); err != nil {
		t.Fatal(err)
	}
	sealed := notify.NewCredentialBox(signingKey).Seal(row.ID, "Tr0ub4dor&3")
	if err := f.store.SaveCredentials(ctx, &models.CustomerCredentials{
		CustomerID: row.ID, UserName: "admin@contosoitalia.onmicrosoft.com",
		PasswordCiphertext: base64.StdEncoding.EncodeToString(sealed),
	}); err != nil {
		t.Fatal(err)
	}
	sales := f.signIn(t, models.RoleSalesAgent)
	detail := f.browser(t).Do("GET", "/customers/"+row.ID, nil, "Cookie", sales)
	if !strings.Contains(string(detail.Body), `href="/customers/cus_reveal/credentials"`) {
		t.Fatalf("the page must offer the reveal while the password waits: %s", detail.Body)
	}
	form := f.browser(t).Do("GET", "/customers/"+row.ID+"/credentials", nil, "Cookie", sales)
	m := csrfField.FindSubmatch(form.Body)
	if form.Status != http.StatusOK || m == nil || !strings.Contains(string(form.Body), `id="confirm"`) ||
		strings.Contains(string(form.Body), "Tr0ub4dor") {
		t.Fatalf("the form: %d %s", form.Status, form.Body)
	}
	post := func(fields url.Values) (int, string, string) {
		fields.Set("csrf", string(m[1]))
		r := f.browser(t).Do("POST", "/customers/"+row.ID+"/credentials", fields.Encode(), "Cookie", sales,
			"Content-Type", formContentType)
		return r.Status, r.Header.Get("Cache-Control"), string(r.Body)
	}
	if status, _, body := post(url.Values{}); status != http.StatusBadRequest ||
		!strings.Contains(body, `id="problem-confirm"`) || strings.Contains(body, "Tr0ub4dor") {
		t.Fatalf("unconfirmed: %d %s", status, body)
	}
	status, cache, body := post(url.Values{"confirm": {"on"}})
	if status != http.StatusOK || cache != "no-store" ||
		!strings.Contains(body, `<code id="password">Tr0ub4dor&amp;3</code>`) ||
		!strings.Contains(body, `<code id="userName">admin@contosoitalia.onmicrosoft.com</code>`) {
		t.Fatalf("the reveal: %d %q %s", status, cache, body)
	}
	status, _, body = post(url.Values{"confirm": {"on"}})
	if status != http.StatusConflict || strings.Contains(body, "Tr0ub4dor") || !strings.Contains(body, "revealed by") {
		t.Fatalf("a second reveal: %d %s", status, body)
	}
	again := f.browser(t).Do("GET", "/customers/"+row.ID+"/credentials", nil, "Cookie", sales)
	detail = f.browser(t).Do("GET", "/customers/"+row.ID, nil, "Cookie", sales)
	if again.Status != http.StatusConflict || strings.Contains(string(detail.Body), "/credentials\"") {
		t.Fatalf("after the reveal the form refuses (%d) and the page stops offering it", again.Status)
	}
	none := f.browser(t).Do("GET", "/customers/cus_none/credentials", nil, "Cookie", sales)
	if none.Status != http.StatusNotFound {
		t.Fatalf("an unknown onboarding: %d", none.Status)
	}
}
