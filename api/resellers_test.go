package api_test

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

func TestAPartnershipRequestIsValidatedBeforeAnythingStarts(t *testing.T) {
	f := newFlowFixture(t)
	valid := map[string]any{
		"email":       "admin@adatum.example",
		"companyName": "Adatum",
		"mpnId":       "1234567",
		"language":    "tr",
	}
	cases := []struct {
		field string
		value any
	}{
		{"email", "not-an-address"}, {"email", nil}, {"companyName", ""}, {"companyName", strings.Repeat("x", 201)},
		{"mpnId", "12ab"}, {"mpnId", "123"}, {"language", "klingon"}, {"contactEmail", "nope"},
	}
	for _, tc := range cases {
		body := map[string]any{}
		for k, v := range valid {
			body[k] = v
		}
		if tc.value == nil {
			delete(body, tc.field)
		} else {
			body[tc.field] = tc.value
		}
		r := f.sales.Do("POST", "/v1/resellers", body)
		if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`"field":"`+tc.field+`"`)) {
			t.Errorf("%s=%v: %d %s", tc.field, tc.value, r.Status, r.Body)
		}
	}
	if n := len(f.temporal.startCalls()); n != 0 {
		t.Fatalf("a refused request started %d workflows", n)
	}
	// Seed 002: working with indirect resellers is for global admins and sales agents.
	if r := f.admin.Do("POST", "/v1/resellers", valid); r.Status != http.StatusForbidden {
		t.Fatalf("an admin agent may not ask resellers: %d", r.Status)
	}

	r := f.sales.Do("POST", "/v1/resellers", valid)
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	starts := f.temporal.startCalls()
	in := startInput[workflows.ResellerInput](starts[0])
	if starts[0].Workflow != workflows.ResellerFlow.Type || starts[0].Options.ID != "reseller/"+in.ResellerID ||
		in.Language != "tr" || in.MPNID != "1234567" || in.ResellerID == "" || in.ExpiresAt.IsZero() {
		t.Fatalf("start %+v input %+v", starts[0].Options, in)
	}
	if again := f.sales.Do("POST", "/v1/resellers", valid); again.Status != http.StatusConflict ||
		again.Header.Get("Location") == "" {
		t.Fatalf("a second request for the same contact: %d %q", again.Status, again.Header.Get("Location"))
	}
}

func TestOnlyActiveResellersCanBeNamedOrRemoved(t *testing.T) {
	f := newFlowFixture(t)
	ctx := context.Background()
	active := f.activeReseller(t, "66666666-6666-4666-8666-666666666666")
	failed := f.activeReseller(t, "77777777-7777-4777-8777-777777777777")
	if err := models.Record(ctx, f.store, models.KindReseller, failed.ID, models.ResellerChange{
		Status: models.ResellerVerificationFailed,
		Set: models.Reseller{
			FailureCode:   "2203",
			FailureReason: "the reseller has not signed the Microsoft Partner Agreement for this region",
		},
	}); err != nil {
		t.Fatal(err)
	}
	r := f.admin.Do("POST", "/v1/invitations", with(map[string]any{"indirectResellerId": failed.TenantID}))
	if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte("2203")) ||
		!bytes.Contains(r.Body, []byte(`"field":"indirectResellerId"`)) {
		t.Fatalf("naming a reseller that failed verification must say why: %d %s", r.Status, r.Body)
	}
	if r := f.admin.Do("POST", "/v1/invitations", with(map[string]any{
		"indirectResellerId": active.TenantID,
	})); r.Status != http.StatusCreated {
		t.Fatalf("an active reseller may be named: %d %s", r.Status, r.Body)
	}

	global := f.anon.As(f.keys[models.RoleGlobalAdmin])
	for body, field := range map[string]string{
		`{"attestedBy":"Ada"}`:                     "attestation",
		`{"attestation":false,"attestedBy":"Ada"}`: "attestation",
		`{"attestation":true}`:                     "attestedBy",
	} {
		r := global.Do("POST", "/v1/resellers/"+active.ID+"/removal", []byte(body))
		if r.Status != http.StatusBadRequest || !bytes.Contains(r.Body, []byte(`"field":"`+field+`"`)) {
			t.Errorf("%s: %d %s", body, r.Status, r.Body)
		}
	}
	attest := map[string]any{"attestation": true, "attestedBy": "Ada Ops"}
	if r := f.admin.Do("POST", "/v1/resellers/"+active.ID+"/removal", attest); r.Status != http.StatusForbidden {
		t.Fatalf("an admin agent may not remove a partnership: %d", r.Status)
	}
	if r := global.Do("POST", "/v1/resellers/"+failed.ID+"/removal", attest); r.Status != http.StatusConflict {
		t.Fatalf("a reseller that is not active cannot be removed: %d %s", r.Status, r.Body)
	}
	r = f.sales.Do("POST", "/v1/resellers/"+active.ID+"/removal", attest)
	if r.Status != http.StatusAccepted {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	var rm struct{ ID string }
	r.JSON(t, &rm)
	row, err := models.Find[models.Removal](ctx, f.store, rm.ID)
	if err != nil || row.AttestedBy != "Ada Ops" || row.AttestedKeyID == "" || row.AttestedIP != "127.0.0.1" ||
		row.Status != models.RemovalNotifying {
		t.Fatalf("the attestation must be kept as evidence: %+v %v", row, err)
	}
	if r := global.Do("POST", "/v1/resellers/"+active.ID+"/removal", attest); r.Status != http.StatusConflict {
		t.Fatalf("a second removal while the first notifies: %d %s", r.Status, r.Body)
	}
	if r := global.Do("POST", "/v1/removals/"+rm.ID+"/retry", nil); r.Status != http.StatusConflict {
		t.Fatalf("a removal still notifying cannot be retried: %d", r.Status)
	}
	if r := f.sales.Do("GET",
		"/v1/removals/"+rm.ID+"/deliveries?status=lost", nil); r.Status != http.StatusBadRequest ||
		!bytes.Contains(r.Body, []byte(`"field":"status"`)) {
		t.Fatalf("a bad status filter: %d %s", r.Status, r.Body)
	}
}

func TestTheResellersLandingPage(t *testing.T) {
	f := newFlowFixture(t, func(fc *api.FlowConfig) {
		fc.Reseller.PartnershipURL = "https://partner.example/authorize?providerId=p"
	})
	r := f.sales.Do("POST", "/v1/resellers", map[string]any{"email": "admin@adatum.example", "companyName": "Adatum"})
	if r.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var created struct{ ID, LandingURL string }
	r.JSON(t, &created)
	path := strings.TrimPrefix(created.LandingURL, f.baseURL)
	if !strings.HasPrefix(path, "/partner/") {
		t.Fatalf("landing URL %q", created.LandingURL)
	}
	browser := f.browser(t)
	page := browser.Do("GET", path, nil, "Accept-Language", "it-IT,it;q=0.9")
	body := string(page.Body)
	if page.Status != http.StatusOK || !strings.Contains(body, `lang="it"`) ||
		!strings.Contains(body, "rivenditore indiretto") ||
		anchor(page.Body, "authorize") != "https://partner.example/authorize?providerId=p" {
		t.Fatalf("the page in Italian with the partnership link: %d\n%s", page.Status, body)
	}
	if tr := browser.Do("GET", path+"?lang=tr", nil); !strings.Contains(string(tr.Body), "dolaylı satıcısı") {
		t.Fatal("?lang=tr must show the page in Turkish")
	}
	if bad := browser.Do("POST", path, "mpnId=12x",
		"Content-Type", formContentType); bad.Status != http.StatusBadRequest ||
		!bytes.Contains(bad.Body, []byte(`id="mpn-error"`)) {
		t.Fatalf("a bad PartnerID: %d", bad.Status)
	}
	for range 3 {
		if ok := browser.Do("POST", path, "mpnId=1234567",
			"Content-Type", formContentType); ok.Status != http.StatusSeeOther ||
			ok.Header.Get("Location") != "https://partner.example/authorize?providerId=p" {
			t.Fatalf("acknowledge: %d %q", ok.Status, ok.Header.Get("Location"))
		}
	}
	row, err := models.Find[models.Reseller](context.Background(), f.store, created.ID)
	if err != nil || row.MPNID != "1234567" {
		t.Fatalf("the PartnerID given on the page identifies the reseller: %+v %v", row, err)
	}
	steps, _, _ := f.store.Steps(context.Background(), models.KindReseller, created.ID, "", 0)
	acks := 0
	for _, s := range steps {
		if s.Name == "acknowledged" {
			acks++
		}
	}
	if acks != 1 {
		t.Fatalf("the same PartnerID posted 3 times is one step, got %d", acks)
	}
	// An invitation's link does not open a partnership page.
	inv := f.invite(t, "contoso.onmicrosoft.com")
	other := strings.TrimPrefix(f.acceptPath(inv), "/accept/")
	if r := browser.Do("GET", "/partner/"+other, nil); r.Status != http.StatusBadRequest {
		t.Fatalf("a token made for another purpose: %d", r.Status)
	}
}
