package api_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestOperatorsStartInvitationsFromTheDashboard: the "New invitation" form takes the API's
// fields, checked by the same code; a refusal shows the form again, filled in, with the problem
// beside the field it names, and writes and starts nothing; a sales agent's form asks for the
// reseller relationship alone.
func TestOperatorsStartInvitationsFromTheDashboard(t *testing.T) {
	f := newFlowFixture(t)
	admin, sales := f.signIn(t, models.RoleAdminAgent), f.signIn(t, models.RoleSalesAgent)
	open := func(t *testing.T, cookie string) (string, string) {
		t.Helper()
		page := f.browser(t).Do("GET", "/invitations/new", nil, "Cookie", cookie)
		if page.Status != http.StatusOK {
			t.Fatalf("the form: %d %s", page.Status, page.Body)
		}
		m := csrfField.FindSubmatch(page.Body)
		if m == nil {
			t.Fatal("the form has no CSRF token")
		}
		return string(page.Body), string(m[1])
	}
	post := func(t *testing.T, cookie, csrf string, fields url.Values) (int, string, string) {
		t.Helper()
		fields.Set("csrf", csrf)
		r := f.browser(t).Do("POST", "/invitations/new", fields.Encode(), "Cookie", cookie,
			"Content-Type", formContentType)
		return r.Status, r.Header.Get("Location"), string(r.Body)
	}
	valid := func() url.Values {
		return url.Values{
			"customerDomain": {"contoso.onmicrosoft.com"}, "customerEmail": {"admin@contoso.onmicrosoft.com"},
			"language": {"it"}, "cloud": {"public"}, "adminAccess": {"on"},
			"roles": {"Helpdesk Administrator, User Administrator"}, "durationDays": {"180"}, "autoExtend": {"on"},
			"securityGroupId": {groupHelpdesk},
		}
	}
	nothingWritten := func(t *testing.T, want int) {
		t.Helper()
		if n, started := len(f.invitations(t)), len(f.temporal.startCalls()); n != want || started != want {
			t.Fatalf("%d invitations recorded and %d started, want %d", n, started, want)
		}
	}

	form, csrf := open(t, admin)
	if !strings.Contains(form, `id="adminAccess"`) || !strings.Contains(form, `id="roles"`) {
		t.Fatal("an admin agent's form must offer admin access")
	}
	list := f.browser(t).Do("GET", "/invitations", nil, "Cookie", sales)
	if !strings.Contains(string(list.Body), `href="/invitations/new"`) {
		t.Fatal("the list must offer the form to agents")
	}

	refusals := []struct {
		name   string
		cookie string
		change func(url.Values)
		status int
		// problem is where the page shows the refusal: beside the field, or above the form.
		problem string
	}{
		{"a domain that is not one", admin, func(v url.Values) { v.Set("customerDomain", "contoso") },
			http.StatusBadRequest, "problem-customerDomain"},
		{"an address that is not one", admin, func(v url.Values) { v.Set("customerEmail", "nobody") },
			http.StatusBadRequest, "problem-customerEmail"},
		{"a duration that is not a number", admin, func(v url.Values) { v.Set("durationDays", "two years") },
			http.StatusBadRequest, "problem-durationDays"},
		{"a role Partner Center does not know", admin, func(v url.Values) { v.Set("roles", "Chief Wizard") },
			http.StatusBadRequest, "problem-roles"},
		{"a security group that is not an object ID", admin, func(v url.Values) { v.Set("securityGroupId", "x") },
			http.StatusBadRequest, "problem"},
		{"admin access asked by a sales agent", sales, func(url.Values) {}, http.StatusForbidden, "problem"},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			_, csrf := open(t, tc.cookie)
			v := valid()
			tc.change(v)
			status, _, body := post(t, tc.cookie, csrf, v)
			if status != tc.status || !strings.Contains(body, `id="`+tc.problem+`"`) {
				t.Fatalf("status %d, want %d with the problem at %s: %s", status, tc.status, tc.problem, body)
			}
			if !strings.Contains(body, `value="`+v.Get("customerDomain")+`"`) {
				t.Fatal("the form must come back filled in")
			}
			nothingWritten(t, 0)
		})
	}
	t.Run("a form without its CSRF token is refused", func(t *testing.T) {
		if status, _, _ := post(t, admin, "forged", valid()); status != http.StatusForbidden {
			t.Fatalf("status %d", status)
		}
		nothingWritten(t, 0)
	})

	status, location, body := post(t, admin, csrf, valid())
	if status != http.StatusSeeOther || !strings.HasPrefix(location, "/invitations/inv_") ||
		!strings.HasSuffix(location, "?done=created") {
		t.Fatalf("start: %d %q %s", status, location, body)
	}
	nothingWritten(t, 1)
	rows := f.invitations(t)
	in := startInput[workflows.InvitationInput](f.temporal.startCalls()[0])
	if "/invitations/"+rows[0].ID+"?done=created" != location || !rows[0].AdminAccess ||
		rows[0].DurationDays != 180 || !rows[0].AutoExtend || in.Language != "it" || len(in.RoleIDs) != 2 ||
		len(in.Assignments) != 1 || in.Assignments[0].SecurityGroupID != groupHelpdesk ||
		in.CustomerEmail != "admin@contoso.onmicrosoft.com" {
		t.Fatalf("row %+v, input %+v", rows[0], in)
	}
	page := f.browser(t).Do("GET", location, nil, "Cookie", admin)
	if !strings.Contains(string(page.Body), "The invitation is on its way") {
		t.Fatalf("the invitation's page must say it started: %s", page.Body)
	}
	t.Run("a second invitation for the same customer is refused while the first is open", func(t *testing.T) {
		status, _, body := post(t, admin, csrf, valid())
		if status != http.StatusConflict || !strings.Contains(body, `id="problem"`) {
			t.Fatalf("status %d: %s", status, body)
		}
		nothingWritten(t, 1)
	})

	t.Run("a sales agent asks for the reseller relationship alone", func(t *testing.T) {
		form, csrf := open(t, sales)
		if strings.Contains(form, `id="adminAccess"`) || !strings.Contains(form, `id="reseller-only"`) {
			t.Fatal("a sales agent's form must not offer admin access")
		}
		status, location, body := post(t, sales, csrf, url.Values{
			"customerDomain": {"fabrikam.onmicrosoft.com"}, "customerEmail": {"admin@fabrikam.onmicrosoft.com"},
			"language": {"tr"}, "cloud": {"public"},
		})
		if status != http.StatusSeeOther || !strings.HasSuffix(location, "?done=created") {
			t.Fatalf("start: %d %s", status, body)
		}
		for _, inv := range f.invitations(t) {
			if inv.CustomerDomain == "fabrikam.onmicrosoft.com" && inv.AdminAccess {
				t.Fatal("a sales agent's invitation must ask for no admin access")
			}
		}
		nothingWritten(t, 2)
	})
}

// TestSalesAgentsAskResellersToPartnerFromTheDashboard: the "New partnership" form takes the
// API's fields, checked by the same code, for the roles that work with indirect resellers.
func TestSalesAgentsAskResellersToPartnerFromTheDashboard(t *testing.T) {
	f := newFlowFixture(t)
	sales, admin := f.signIn(t, models.RoleSalesAgent), f.signIn(t, models.RoleAdminAgent)
	if r := f.browser(t).Do("GET", "/resellers/new", nil, "Cookie", admin); r.Status != http.StatusForbidden {
		t.Fatalf("an admin agent does not work with resellers: %d", r.Status)
	}
	if list := f.browser(t).Do("GET", "/resellers", nil, "Cookie", admin); strings.Contains(string(list.Body),
		`href="/resellers/new"`) {
		t.Fatal("the list must not offer the form to a role that may not use it")
	}
	page := f.browser(t).Do("GET", "/resellers/new", nil, "Cookie", sales)
	m := csrfField.FindSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil {
		t.Fatalf("the form: %d", page.Status)
	}
	post := func(fields url.Values) (int, string, string) {
		fields.Set("csrf", string(m[1]))
		r := f.browser(t).Do("POST", "/resellers/new", fields.Encode(), "Cookie", sales,
			"Content-Type", formContentType)
		return r.Status, r.Header.Get("Location"), string(r.Body)
	}
	status, _, body := post(url.Values{"companyName": {"Adatum"}, "email": {"admin@adatum.example"},
		"mpnId": {"12ab"}, "language": {"it"}})
	if status != http.StatusBadRequest || !strings.Contains(body, `id="problem-mpnId"`) ||
		!strings.Contains(body, `value="Adatum"`) || len(f.temporal.startCalls()) != 0 {
		t.Fatalf("a bad PartnerID: %d %s", status, body)
	}
	status, location, body := post(url.Values{"companyName": {"Adatum"}, "email": {"admin@adatum.example"},
		"mpnId": {"1234567"}, "language": {"it"}})
	if status != http.StatusSeeOther || !strings.HasPrefix(location, "/resellers/res_") ||
		!strings.HasSuffix(location, "?done=created") || len(f.temporal.startCalls()) != 1 {
		t.Fatalf("start: %d %q %s", status, location, body)
	}
	in := startInput[workflows.ResellerInput](f.temporal.startCalls()[0])
	if in.CompanyName != "Adatum" || in.MPNID != "1234567" || in.Language != "it" {
		t.Fatalf("input %+v", in)
	}
}

// TestAPartnershipIsRemovedFromItsPageWithTheAttestation: an active partnership's page links to
// the removal form; the form refuses without the attestation or a name, beside the field, and
// otherwise removes the partnership with the attestation on record, as the API does.
func TestAPartnershipIsRemovedFromItsPageWithTheAttestation(t *testing.T) {
	f := newFlowFixture(t)
	active := f.activeReseller(t, "3f2504e0-4f89-11d3-9a0c-0305e82c3301")
	sales, admin := f.signIn(t, models.RoleSalesAgent), f.signIn(t, models.RoleAdminAgent)
	form := "/resellers/" + active.ID + "/removal"
	if page := f.browser(t).Do("GET", "/resellers/"+active.ID, nil, "Cookie", sales); !strings.Contains(
		string(page.Body), `href="`+form+`"`) {
		t.Fatal("an active partnership's page must link to its removal")
	}
	if page := f.browser(t).Do("GET", "/resellers/"+active.ID, nil, "Cookie", admin); strings.Contains(
		string(page.Body), `href="`+form+`"`) {
		t.Fatal("an admin agent must not be offered the removal")
	}
	if r := f.browser(t).Do("GET", form, nil, "Cookie", admin); r.Status != http.StatusForbidden {
		t.Fatalf("an admin agent opened the removal form: %d", r.Status)
	}
	page := f.browser(t).Do("GET", form, nil, "Cookie", sales)
	m := csrfField.FindSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil || !strings.Contains(string(page.Body), "cannot be undone") {
		t.Fatalf("the form must say what the removal does: %d %s", page.Status, page.Body)
	}
	post := func(fields url.Values) (int, string, string) {
		fields.Set("csrf", string(m[1]))
		r := f.browser(t).Do("POST", form, fields.Encode(), "Cookie", sales, "Content-Type", formContentType)
		return r.Status, r.Header.Get("Location"), string(r.Body)
	}
	for field, fields := range map[string]url.Values{
		"attestation": {"attestedBy": {"Ada Ops"}},
		"attestedBy":  {"attestation": {"on"}, "attestedBy": {" "}},
	} {
		if status, _, body := post(fields); status != http.StatusBadRequest ||
			!strings.Contains(body, `id="problem-`+field+`"`) {
			t.Fatalf("without %s: %d %s", field, status, body)
		}
	}
	if n := len(f.temporal.startCalls()); n != 0 {
		t.Fatalf("a refused removal started %d workflows", n)
	}
	status, location, body := post(url.Values{"attestation": {"on"}, "attestedBy": {"Ada Ops"}})
	if status != http.StatusSeeOther || !strings.HasPrefix(location, "/removals/") ||
		!strings.HasSuffix(location, "?done=created") {
		t.Fatalf("remove: %d %q %s", status, location, body)
	}
	id := strings.TrimSuffix(strings.TrimPrefix(location, "/removals/"), "?done=created")
	rm, err := models.Find[models.Removal](context.Background(), f.store, id)
	if err != nil || rm.AttestedBy != "Ada Ops" || rm.AttestedKeyID == "" || rm.AttestedIP == "" ||
		rm.ResellerID != active.ID || len(f.temporal.startCalls()) != 1 {
		t.Fatalf("the removal and its evidence: %+v %v", rm, err)
	}
	if r := f.browser(t).Do("GET", location, nil, "Cookie", sales); !strings.Contains(string(r.Body),
		"The partnership is removed") {
		t.Fatal("the removal's page must say it started")
	}
	if status, _, body := post(url.Values{"attestation": {"on"}, "attestedBy": {"Ada Ops"}}); status !=
		http.StatusConflict || !strings.Contains(body, `id="problem"`) {
		t.Fatalf("a second removal while the first runs: %d %s", status, body)
	}
}

// TestAnAgentAttestsTheAgreementFromTheOnboardingsPage: an onboarding that awaits the agreement
// links to the attestation form, which refuses what the API refuses beside the field and keeps
// the evidence as the API does.
func TestAnAgentAttestsTheAgreementFromTheOnboardingsPage(t *testing.T) {
	f := newFlowFixture(t)
	ctx := context.Background()
	r := f.sales.Do("POST", "/v1/customers", validCustomer())
	var onb struct{ ID string }
	r.JSON(t, &onb)
	if onb.ID == "" {
		t.Fatalf("onboard: %d %s", r.Status, r.Body)
	}
	sales := f.signIn(t, models.RoleSalesAgent)
	form := "/customers/" + onb.ID + "/agreement"
	if r := f.browser(t).Do("GET", form, nil, "Cookie", sales); r.Status != http.StatusConflict {
		t.Fatalf("an onboarding that does not await the agreement: %d", r.Status)
	}
	if err := models.Record(ctx, f.store, models.KindOnboarding, onb.ID, models.OnboardingChange{
		Status: models.OnboardingAwaitingAgreement,
	}); err != nil {
		t.Fatal(err)
	}
	if page := f.browser(t).Do("GET", "/customers/"+onb.ID, nil, "Cookie", sales); !strings.Contains(
		string(page.Body), `href="`+form+`"`) {
		t.Fatal("an onboarding awaiting the agreement must link to the attestation")
	}
	page := f.browser(t).Do("GET", form, nil, "Cookie", sales)
	m := csrfField.FindSubmatch(page.Body)
	if page.Status != http.StatusOK || m == nil {
		t.Fatalf("the form: %d", page.Status)
	}
	post := func(date string) (int, string, string) {
		fields := url.Values{"csrf": {string(m[1])}, "primaryContact.firstName": {"Maria"},
			"primaryContact.lastName": {"Rossi"}, "primaryContact.email": {"maria@contoso.it"}, "dateAgreed": {date}}
		r := f.browser(t).Do("POST", form, fields.Encode(), "Cookie", sales, "Content-Type", formContentType)
		return r.Status, r.Header.Get("Location"), string(r.Body)
	}
	if status, _, body := post("2099-01-01"); status != http.StatusBadRequest ||
		!strings.Contains(body, `id="problem-dateAgreed"`) || !strings.Contains(body, `value="Rossi"`) {
		t.Fatalf("a date in the future: %d %s", status, body)
	}
	if n := len(f.temporal.updateCalls()); n != 0 {
		t.Fatalf("a refused attestation reached the workflow (%d updates)", n)
	}
	status, location, body := post("2025-03-01")
	if status != http.StatusSeeOther || location != "/customers/"+onb.ID+"?done=attested" {
		t.Fatalf("attest: %d %q %s", status, location, body)
	}
	ev, err := models.FindBy[models.AgreementEvidence](ctx, f.store, "customer_id = ?", onb.ID)
	if err != nil || ev.Method != models.AgreementByPartner || ev.LastName != "Rossi" || ev.APIKeyID == "" ||
		ev.DateAgreed.Format("2006-01-02") != "2025-03-01" || len(f.temporal.updateCalls()) != 1 {
		t.Fatalf("evidence %+v, err %v", ev, err)
	}
}

// TestAnAgentChecksOutOrCancelsTheCartFromTheOnboardingsPage: an onboarding under review offers
// checkout and cancel, which send the API's updates; a refused argument comes back on the page.
func TestAnAgentChecksOutOrCancelsTheCartFromTheOnboardingsPage(t *testing.T) {
	f := newFlowFixture(t)
	r := f.sales.Do("POST", "/v1/customers", validCustomer())
	var onb struct{ ID string }
	r.JSON(t, &onb)
	if err := models.Record(context.Background(), f.store, models.KindOnboarding, onb.ID, models.OnboardingChange{
		Status: models.OnboardingReview,
	}); err != nil {
		t.Fatal(err)
	}
	sales := f.signIn(t, models.RoleSalesAgent)
	page := f.browser(t).Do("GET", "/customers/"+onb.ID, nil, "Cookie", sales)
	m := csrfField.FindSubmatch(page.Body)
	if m == nil || !strings.Contains(string(page.Body), `id="checkout"`) ||
		!strings.Contains(string(page.Body), `id="cancel-cart"`) {
		t.Fatalf("a cart under review must offer checkout and cancel: %s", page.Body)
	}
	post := func(action string, fields url.Values) (int, string) {
		fields.Set("csrf", string(m[1]))
		r := f.browser(t).Do("POST", "/customers/"+onb.ID+"/cart/"+action, fields.Encode(), "Cookie", sales,
			"Content-Type", formContentType)
		return r.Status, r.Header.Get("Location")
	}
	if status, _ := post("cancel", url.Values{"reason": {strings.Repeat("r", 501)}}); status !=
		http.StatusBadRequest || len(f.temporal.updateCalls()) != 0 {
		t.Fatalf("a reason over 500 characters: %d, %d updates", status, len(f.temporal.updateCalls()))
	}
	status, location := post("checkout", url.Values{})
	updates := f.temporal.updateCalls()
	if status != http.StatusSeeOther || location != "/customers/"+onb.ID+"?done=checked-out" || len(updates) != 1 ||
		updates[0].UpdateName != workflows.UpdateCheckout {
		t.Fatalf("checkout: %d %q %+v", status, location, updates)
	}
	if req, ok := updates[0].Args[0].(workflows.CheckoutRequest); !ok || req.By == "" {
		t.Fatalf("the checkout must say who: %+v", updates[0].Args)
	}
}
