package api_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

func TestCustomerPagesNameThePartnerFromItsPartnerCenterProfile(t *testing.T) {
	f := newConnectionFixture(t) // no partner name configured
	f.manager.ReadProfileWith(f.client)
	company := sim.DefaultHomePartner.CompanyName
	visitor := f.browserOf(t, models.RoleSalesAgent) // any browser: the customer pages need no session
	page := func() string {
		resp, body := visitor.do("GET", "/accept/not-a-token", nil, "Accept", "text/html", "Accept-Language", "en")
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a customer link that is not valid: %d %s", resp.StatusCode, body)
		}
		return body
	}

	if body := page(); strings.Contains(body, company) || !strings.Contains(body, "ask your partner for a new one") {
		t.Fatalf("before connecting, the page cannot know the partner's name:\n%s", body)
	}

	b := f.browserOf(t, models.RoleGlobalAdmin)
	resp, body := b.do("GET", signInAtSim(t, b.start(), homeAdmin, "approve").String(), nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", resp.StatusCode, body)
	}

	body = page()
	if !strings.Contains(body, ">"+company+"<") || !strings.Contains(body, "ask "+company+" for a new one") {
		t.Fatalf("after connecting, the page names the partner as its Partner Center profile does (%s):\n%s",
			company, body)
	}
	resp, body = visitor.do("GET", "/accept/not-a-token", nil, "Accept", "application/json")
	var problem struct{ Detail string }
	if err := json.Unmarshal([]byte(body), &problem); err != nil || resp.StatusCode != http.StatusBadRequest ||
		!strings.Contains(problem.Detail, company) {
		t.Fatalf("the JSON answer names the partner too: %d %s", resp.StatusCode, body)
	}
	_, body = b.do("GET", "/connection", nil)
	if !strings.Contains(body, company+"; customers see this name") {
		t.Fatalf("the connection page shows the profile's name:\n%s", body)
	}
}
