package api_test

import (
	"net/http"
	"testing"

	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testsim"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// An invitation names a domain some customer tenant holds, its *.onmicrosoft.com domain or a
// custom one, as Microsoft Graph finds it; a domain no tenant holds is refused at once instead of
// waiting 90 days for a customer that cannot exist.
func TestAnInvitationToADomainNoTenantHoldsIsRefused(t *testing.T) {
	simulator := testsim.Start(t, sim.Config{})
	f := newFlowFixture(t, func(fc *api.FlowConfig) { fc.Invitation.Tenants = simulator.Client(t) })
	for _, tc := range []struct {
		domain string
		status int
	}{
		{"contoso.onmicrosoft.com", http.StatusCreated},
		{"fabrikam.com", http.StatusCreated},
		{"no-such-tenant-anywhere.com", http.StatusBadRequest},
	} {
		resp := f.admin.Do("POST", "/v1/invitations", with(map[string]any{
			"customerDomain": tc.domain, "customerEmail": "admin@" + tc.domain,
		}))
		if resp.Status != tc.status {
			t.Fatalf("%s: %d %s", tc.domain, resp.Status, resp.Body)
		}
		if tc.status == http.StatusBadRequest {
			p := resp.Problem(t)
			if p["field"] != "customerDomain" || p["type"] != api.ProblemTypePrefix+"invalid-field" {
				t.Fatalf("%s: %v", tc.domain, p)
			}
			if n := len(f.temporal.startCalls()); n != 2 {
				t.Fatalf("a refused invitation started a workflow: %d started", n)
			}
		}
	}
}
