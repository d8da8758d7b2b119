package integration

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/proxy"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

type onboarding struct {
	ID               string `json:"id"`
	Status           string `json:"status"`
	CustomerTenantID string `json:"customerTenantId"`
	WorkflowID       string `json:"workflowId"`
	CheckoutError    string `json:"checkoutError"`
	Steps            []struct {
		Name   string `json:"name"`
		Detail string `json:"detail"`
	} `json:"steps"`
	Subscriptions []struct {
		ID        string `json:"id"`
		PartnerID string `json:"partnerId"`
		Quantity  int    `json:"quantity"`
	} `json:"subscriptions"`
	Cart *struct {
		ID    string `json:"id"`
		Lines []struct {
			CatalogItemID string `json:"catalogItemId"`
			PartnerID     string `json:"partnerId"`
			Error         string `json:"error"`
		} `json:"lines"`
	} `json:"cart"`
}

var agreementLinkPattern = regexp.MustCompile(`https?://[^\s"<>]+/agreement/[A-Za-z0-9._=-]+`)

func TestCustomerOnboardingThroughTheRealParts(t *testing.T) {
	mail := testsmtp.Start(t)
	h := assemble(
		t,
		models.DialectSQLite,
		workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond},
		mail.URL,
	)

	// The provider partners with a seeded reseller (already authorized, agreement signed).
	resp := h.api.Do("POST", "/v1/resellers", map[string]any{
		"email": "admin@adatum.onmicrosoft.com", "companyName": "Adatum Reseller", "mpnId": "1234567",
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("reseller: %d %s", resp.Status, resp.Body)
	}
	var rs reseller
	resp.JSON(t, &rs)
	poll(h, "/v1/resellers/"+rs.ID, "active", func(v reseller) bool { return v.Status == models.ResellerActive })

	prefix := fmt.Sprintf("contosoit%d", time.Now().UnixNano()%100000)
	body := map[string]any{
		"companyName": "Contoso Italia S.r.l.", "domainPrefix": prefix, "country": "IT", "language": "it",
		"contact": map[string]any{
			"firstName": "Maria", "lastName": "Rossi",
			"email": "maria.rossi@contoso.example", "phone": "+39 02 1234567",
		},
		"address":    map[string]any{"line1": "Via Roma 1", "city": "Milano", "postalCode": "20121"},
		"resellerId": rs.ID, "supportContact": true,
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      3,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	}
	if bad := h.api.Do("POST", "/v1/customers", map[string]any{
		"companyName": "x", "domainPrefix": "Bad Prefix!", "country": "IT",
	}); bad.Status != http.StatusBadRequest || !strings.Contains(string(bad.Body), `"field":"domainPrefix"`) {
		t.Fatalf("a bad domain prefix: %d %s", bad.Status, bad.Body)
	}
	resp = h.api.Do("POST", "/v1/customers", body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var created onboarding
	resp.JSON(t, &created)
	path := "/v1/customers/" + created.ID
	waiting := poll(h, path, "awaiting the agreement", func(v onboarding) bool {
		return v.Status == models.OnboardingAwaitingAgreement
	})
	if waiting.CustomerTenantID == "" {
		t.Fatalf("the tenant must exist: %+v", waiting)
	}

	// The new admin's password is shown once.
	reveal := h.api.Do("POST", path+"/credentials/reveal", nil)
	var creds struct{ UserName, Password string }
	reveal.JSON(t, &creds)
	if reveal.Status != http.StatusOK || creds.Password == "" || creds.UserName == "" {
		t.Fatalf("reveal: %d %s", reveal.Status, reveal.Body)
	}
	if again := h.api.Do("POST", path+"/credentials/reveal", nil); again.Status != http.StatusConflict ||
		!strings.Contains(string(again.Body), "integration") || strings.Contains(string(again.Body), creds.Password) {
		t.Fatalf("a second reveal must say who revealed them, without them: %d %s", again.Status, again.Body)
	}

	// The customer's contact gets the agreement link in Italian and accepts on the page.
	var link string
	deadline := time.Now().Add(30 * time.Second)
	for link == "" {
		// The mail server got it (quoted-printable); the outbox holds its plain text.
		sent, err := h.outbox("maria.rossi@contoso.example", 5)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range sent {
			if found := agreementLinkPattern.FindString(m.Body); found != "" &&
				len(mail.To("maria.rossi@contoso.example")) > 0 {
				link = found
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no agreement mail: %+v", mail.To("maria.rossi@contoso.example"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	page, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	pageBody, _ := io.ReadAll(page.Body)
	page.Body.Close()
	if page.StatusCode != http.StatusOK || !strings.Contains(string(pageBody), `id="accept"`) {
		t.Fatalf("agreement page: %d\n%s", page.StatusCode, pageBody)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	form := url.Values{
		"firstName": {"Maria"},
		"lastName":  {"Rossi"},
		"email":     {"maria.rossi@contoso.example"},
		"accept":    {"yes"},
	}
	req, _ := http.NewRequest("POST", link, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "IntegrationBrowser/1.0")
	signed, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	signed.Body.Close()
	if signed.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign: %d", signed.StatusCode)
	}

	review := poll(h, path, "review", func(v onboarding) bool {
		return v.Status == models.OnboardingReview && v.Cart != nil
	})
	for _, l := range review.Cart.Lines {
		if l.PartnerID != "1234567" || l.Error != "" {
			t.Fatalf("every line carries the reseller's PartnerID: %+v", review.Cart)
		}
	}
	if r := h.api.Do("GET", path+"/cart", nil); r.Status != http.StatusOK {
		t.Fatalf("cart: %d %s", r.Status, r.Body)
	}
	if r := h.api.Do("POST", path+"/cart/checkout", nil); r.Status != http.StatusOK {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	if r := h.api.Do("POST", path+"/cart/checkout", nil); r.Status != http.StatusOK {
		t.Fatalf("a repeated checkout answers with the first result: %d %s", r.Status, r.Body)
	}
	done := poll(h, path, "completed", func(v onboarding) bool {
		return v.Status == models.OnboardingCompleted || v.Status == models.OnboardingFailed
	})
	if done.Status != models.OnboardingCompleted || len(done.Subscriptions) == 0 ||
		done.Subscriptions[0].PartnerID != "1234567" {
		t.Fatalf("completed onboarding %+v", done)
	}
	h.recordHistory(done.WorkflowID, "customer_completed")
	h.recordHistory(workflows.PurchaseWorkflowID(done.CustomerTenantID, done.ID), "purchase_completed")

	var ev struct {
		Method, FirstName, ClientIP, UserAgent, PartnerCenterResult string
	}
	e := h.api.Do("GET", path+"/agreement/evidence", nil)
	e.JSON(t, &ev)
	if e.Status != http.StatusOK || ev.Method != models.AgreementByCustomer || ev.FirstName != "Maria" ||
		ev.ClientIP == "" || ev.UserAgent != "IntegrationBrowser/1.0" || ev.PartnerCenterResult == "" {
		t.Fatalf("evidence: %d %s", e.Status, e.Body)
	}
	if html := h.api.Do("GET", path+"/agreement/evidence?format=html", nil); html.Status != http.StatusOK ||
		!strings.Contains(string(html.Body), "Maria") {
		t.Fatalf("printable evidence: %d", html.Status)
	}

	// The password is nowhere in the clear: not in the app database, not in the workflow's history.
	assertNowhere(t, h, creds.Password, created.WorkflowID)
}

// assertNowhere scans the activities' and the API's logs, every text column of the app database
// and the workflow's history for s.
func assertNowhere(t *testing.T, h *harness, s, workflowID string) {
	t.Helper()
	if logs := h.logs.String(); logs == "" || strings.Contains(logs, s) {
		t.Fatalf("the secret is in the logs (or nothing was logged: %d bytes)", len(logs))
	}
	tables := []string{
		"customers",
		"customer_credentials",
		"agreement_evidence",
		"flow_steps",
		"outbox_messages",
		"customer_subscriptions",
		"webhook_deliveries",
	}
	for _, table := range tables {
		rows, err := h.store.DB.Raw("SELECT * FROM " + table).Rows()
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				if strings.Contains(fmt.Sprint(v), s) || strings.Contains(fmt.Sprintf("%s", v), s) {
					t.Fatalf("the secret is in the clear in %s.%s", table, cols[i])
				}
			}
		}
		rows.Close()
	}
	iter := h.temporal.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	for iter.HasNext() {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := protojson.Marshal(ev)
		if strings.Contains(string(raw), s) {
			t.Fatalf("the secret is in the workflow's history: %s", raw)
		}
		// Payloads are encrypted at rest; decrypted, they must not hold it either.
		err = proxy.VisitPayloads(context.Background(), ev, proxy.VisitPayloadsOptions{
			Visitor: func(_ *proxy.VisitPayloadsContext, ps []*commonpb.Payload) ([]*commonpb.Payload, error) {
				plain, err := h.temporal.Codec.Decode(ps)
				if err != nil {
					return ps, nil // not one of ours (search attributes are plain)
				}
				for _, p := range plain {
					if strings.Contains(string(p.GetData()), s) {
						t.Errorf("the secret is in a decrypted payload of the workflow's history")
					}
				}
				return ps, nil
			},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestDroppedAnswersDuplicateNeitherTenantNorOrder onboards a customer while Partner Center drops
// half of its answers after making the change: the retries carry the same request IDs, so the
// customer ends with one tenant and one order's subscriptions.
func TestDroppedAnswersDuplicateNeitherTenantNorOrder(t *testing.T) {
	h := assemble(
		t,
		models.DialectSQLite,
		workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond},
		"",
	)
	ctx := context.Background()
	prefix := fmt.Sprintf("dropped%d", time.Now().UnixNano()%100000)
	h.sim.SetFaults(sim.Faults{DropAfterWriteRate: 0.5})
	resp := h.api.Do("POST", "/v1/customers", map[string]any{
		"companyName": "Dropped Answers Ltd", "domainPrefix": prefix, "country": "US", "language": "en",
		"contact": map[string]any{"firstName": "Dan", "lastName": "Drop", "email": "dan@dropped.example"},
		"address": map[string]any{"line1": "1 Main St", "city": "Redmond", "state": "WA", "postalCode": "98052"},
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      4,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var created onboarding
	resp.JSON(t, &created)
	path := "/v1/customers/" + created.ID
	poll(h, path, "awaiting the agreement", func(v onboarding) bool {
		return v.Status == models.OnboardingAwaitingAgreement
	})
	attest := h.api.Do("POST", path+"/agreement", map[string]any{
		"primaryContact": map[string]any{"firstName": "Dan", "lastName": "Drop", "email": "dan@dropped.example"},
		"dateAgreed":     "2026-01-31",
	})
	if attest.Status != http.StatusOK {
		t.Fatalf("attest: %d %s", attest.Status, attest.Body)
	}
	poll(h, path, "review", func(v onboarding) bool { return v.Status == models.OnboardingReview })
	if r := h.api.Do("POST", path+"/cart/checkout", nil); r.Status != http.StatusOK {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	done := poll(h, path, "completed", func(v onboarding) bool {
		return v.Status == models.OnboardingCompleted || v.Status == models.OnboardingFailed
	})
	h.sim.SetFaults(sim.Faults{})
	if done.Status != models.OnboardingCompleted {
		t.Fatalf("onboarding %+v", done)
	}
	if n := strings.Count(h.simWorld(), `"`+prefix+`.onmicrosoft.com"`); n != 1 {
		t.Fatalf("the simulator holds %d tenants named %s.onmicrosoft.com, want 1", n, prefix)
	}
	subs, err := h.pc.ListSubscriptions(ctx, done.CustomerTenantID)
	if err != nil {
		t.Fatal(err)
	}
	if len(subs) != 1 || subs[0].Quantity != 4 {
		t.Fatalf("one order's one subscription, got %+v", subs)
	}
}

// TestAnInvitedCustomerIsOnboardedWithoutANewTenant takes a customer who accepted an invitation
// through the MCA proof and checkout: no tenant is created, the invitation's tenant is used.
func TestAnInvitedCustomerIsOnboardedWithoutANewTenant(t *testing.T) {
	h := start(t, models.DialectSQLite)
	inv := h.invite(map[string]any{
		"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 180,
	})
	sent := h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") && i.GDAPRelationshipID != "" })
	if code, body := h.customerAction("accept-reseller", map[string]string{
		"domain":    "contoso.onmicrosoft.com",
		"partnerId": sim.DefaultHomePartner.TenantID,
		"upn":       "admin@contoso.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("accept: %d %s", code, body)
	}
	if code, body := h.customerAction("approve-gdap", map[string]string{
		"relationshipId": sent.GDAPRelationshipID,
		"upn":            "admin@contoso.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	active := h.waitFor(inv.ID, "active", func(i invitation) bool { return i.Status == models.InvitationActive })

	body := map[string]any{
		"language": "en",
		"contact":  map[string]any{"firstName": "Chris", "lastName": "Contoso", "email": "chris@contoso.example"},
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      2,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	}
	resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/onboarding", body)
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var created onboarding
	resp.JSON(t, &created)
	path := "/v1/customers/" + created.ID
	waiting := poll(h, path, "awaiting the agreement", func(v onboarding) bool {
		return v.Status == models.OnboardingAwaitingAgreement
	})
	if waiting.CustomerTenantID != active.CustomerTenantID {
		t.Fatalf("the invitation's tenant %s must be used, got %s", active.CustomerTenantID, waiting.CustomerTenantID)
	}
	if r := h.api.Do("POST", path+"/credentials/reveal", nil); r.Status != http.StatusNotFound {
		t.Fatalf("an existing tenant has no credentials to reveal: %d %s", r.Status, r.Body)
	}
	if r := h.api.Do("POST", path+"/agreement", map[string]any{
		"primaryContact": map[string]any{"firstName": "Chris", "lastName": "Contoso", "email": "chris@contoso.example"},
		"dateAgreed":     "2099-01-01",
	}); r.Status != http.StatusBadRequest {
		t.Fatalf("a date in the future must be refused: %d", r.Status)
	}
	if r := h.api.Do("POST", path+"/agreement", map[string]any{
		"primaryContact": map[string]any{"firstName": "Chris", "lastName": "Contoso", "email": "chris@contoso.example"},
		"dateAgreed":     "2026-01-31",
	}); r.Status != http.StatusOK {
		t.Fatalf("attest: %d %s", r.Status, r.Body)
	}
	poll(h, path, "review", func(v onboarding) bool { return v.Status == models.OnboardingReview })
	if r := h.api.Do("POST", path+"/cart/checkout", nil); r.Status != http.StatusOK {
		t.Fatalf("checkout: %d %s", r.Status, r.Body)
	}
	done := poll(h, path, "completed", func(v onboarding) bool {
		return v.Status == models.OnboardingCompleted || v.Status == models.OnboardingFailed
	})
	if done.Status != models.OnboardingCompleted || len(done.Subscriptions) != 1 {
		t.Fatalf("onboarding %+v", done)
	}
	if n := strings.Count(h.simWorld(), `"contoso.onmicrosoft.com"`); n != 1 {
		t.Fatalf("no second contoso tenant may exist: %d", n)
	}
}

// TestAPurchaseTakesTheCartChangeAndTheCancel changes the cart under review and cancels it
// through the API, which reach the onboarding's Purchase; the onboarding shows both.
func TestAPurchaseTakesTheCartChangeAndTheCancel(t *testing.T) {
	h := start(t, models.DialectSQLite)
	inv := h.invite(map[string]any{
		"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 180,
	})
	sent := h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") && i.GDAPRelationshipID != "" })
	if code, body := h.customerAction("accept-reseller", map[string]string{
		"domain":    "contoso.onmicrosoft.com",
		"partnerId": sim.DefaultHomePartner.TenantID,
		"upn":       "admin@contoso.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("accept: %d %s", code, body)
	}
	if code, body := h.customerAction("approve-gdap", map[string]string{
		"relationshipId": sent.GDAPRelationshipID,
		"upn":            "admin@contoso.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	h.waitFor(inv.ID, "active", func(i invitation) bool { return i.Status == models.InvitationActive })
	product := func(quantity int) []map[string]any {
		return []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      quantity,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}}
	}
	resp := h.api.Do("POST", "/v1/customers/"+inv.ID+"/onboarding", map[string]any{
		"language": "en",
		"contact":  map[string]any{"firstName": "Chris", "lastName": "Contoso", "email": "chris@contoso.example"},
		"products": product(2),
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var created onboarding
	resp.JSON(t, &created)
	path := "/v1/customers/" + created.ID
	poll(h, path, "awaiting the agreement", func(v onboarding) bool {
		return v.Status == models.OnboardingAwaitingAgreement
	})
	if r := h.api.Do("POST", path+"/agreement", map[string]any{
		"primaryContact": map[string]any{"firstName": "Chris", "lastName": "Contoso", "email": "chris@contoso.example"},
		"dateAgreed":     "2026-01-31",
	}); r.Status != http.StatusOK {
		t.Fatalf("attest: %d %s", r.Status, r.Body)
	}
	first := poll(h, path, "review", func(v onboarding) bool {
		return v.Status == models.OnboardingReview && v.Cart != nil
	})

	r := h.api.Do("POST", path+"/cart", map[string]any{"products": product(3)})
	var changed onboarding
	r.JSON(t, &changed)
	if r.Status != http.StatusOK || changed.Status != models.OnboardingReview || changed.Cart == nil ||
		changed.Cart.ID == first.Cart.ID {
		t.Fatalf("cart change: %d %s (first cart %s)", r.Status, r.Body, first.Cart.ID)
	}
	if r := h.api.Do("GET", path+"/cart", nil); r.Status != http.StatusOK ||
		!strings.Contains(string(r.Body), changed.Cart.ID) {
		t.Fatalf("the changed cart is the one under review: %d %s", r.Status, r.Body)
	}
	r = h.api.Do("POST", path+"/cart/cancel", map[string]any{"reason": "the customer waits for next quarter"})
	var cancelled onboarding
	r.JSON(t, &cancelled)
	if r.Status != http.StatusOK || cancelled.Status != models.OnboardingCancelled {
		t.Fatalf("cancel: %d %s", r.Status, r.Body)
	}
	if r := h.api.Do("POST", path+"/cart/checkout", nil); r.Status != http.StatusConflict {
		t.Fatalf("a cancelled onboarding buys nothing: %d %s", r.Status, r.Body)
	}
	done := poll(h, path, "cancelled", func(v onboarding) bool {
		for _, s := range v.Steps {
			if s.Name == models.OnboardingCancelled && strings.Contains(s.Detail, "was not bought") {
				return true
			}
		}
		return false
	})
	if done.Status != models.OnboardingCancelled {
		t.Fatalf("onboarding %+v", done)
	}
	h.recordHistory(workflows.PurchaseWorkflowID(done.CustomerTenantID, done.ID), "purchase_cancelled")
	h.recordHistory(done.WorkflowID, "customer_purchase_cancelled")
}
