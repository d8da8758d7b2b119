package integration

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// adatumTenant is the seeded reseller Adatum's partner tenant; it authorized the provider.
const adatumTenant = "66666666-6666-4666-8666-666666666666"

// TestALinkHolderCannotTakeOverAnotherResellersIdentity is issue 21's "Evil Corp": the
// provider is partnered with Adatum; the holder of a second request's link types Adatum's
// PartnerID on the public landing page. The second partnership must never become active with
// Adatum's tenant: it stops, visibly and with the reason, for the provider to decide. So does a
// request whose company name is Adatum's while Adatum's tenant already has an active partnership.
func TestALinkHolderCannotTakeOverAnotherResellersIdentity(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := assemble(
				t,
				dialect,
				workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 200 * time.Millisecond},
				"",
			)
			create := func(body map[string]any) reseller {
				t.Helper()
				resp := h.api.Do("POST", "/v1/resellers", body)
				if resp.Status != http.StatusCreated {
					t.Fatalf("create %v: %d %s", body, resp.Status, resp.Body)
				}
				var r reseller
				resp.JSON(t, &r)
				return r
			}
			settled := func(r reseller) bool {
				return r.Status == models.ResellerActive || r.Status == models.ResellerNeedsReview ||
					r.Status == models.ResellerVerificationFailed
			}

			// Adatum authorized the provider in Partner Center; its request is recognised by its name.
			adatum := create(map[string]any{"email": "admin@adatum.onmicrosoft.com", "companyName": "Adatum Reseller"})
			if got := poll(h, "/v1/resellers/"+adatum.ID, "settled", settled); got.Status != models.ResellerActive ||
				got.TenantID != adatumTenant {
				t.Fatalf("Adatum's own request: %+v", got)
			}

			// Evil Corp's link holder types Adatum's PartnerID on its landing page.
			evil := create(map[string]any{"email": "boss@evil.example", "companyName": "Evil Corp"})
			landing := strings.TrimPrefix(evil.LandingURL, h.baseURL)
			if resp := h.api.Do("POST", landing, map[string]any{"mpnId": "1234567"}); resp.Status != http.StatusOK {
				t.Fatalf("landing page: %d %s", resp.Status, resp.Body)
			}
			got := poll(h, "/v1/resellers/"+evil.ID, "settled", settled)
			if got.Status != models.ResellerNeedsReview || got.TenantID == adatumTenant {
				t.Fatalf("a PartnerID typed on a public page took over Adatum's identity: %+v", got)
			}
			if got.FailureCode != "partnerid-mismatch" || !strings.Contains(got.FailureReason, "1234567") ||
				!strings.Contains(got.FailureReason, "Adatum Reseller") {
				t.Fatalf("the stop must say why: %+v", got)
			}
			if !hasStep(got, "needs-review") || hasStep(got, "authorized") || hasStep(got, "verified") {
				t.Fatalf("the timeline must show the stop and nothing of Adatum: %+v", got.Steps)
			}

			// A request in Adatum's name with another contact finds Adatum's tenant taken.
			twin := create(map[string]any{"email": "admin@adatum-twin.example", "companyName": "Adatum Reseller"})
			got = poll(h, "/v1/resellers/"+twin.ID, "settled", settled)
			if got.Status != models.ResellerNeedsReview || got.FailureCode != "tenant-taken" ||
				!strings.Contains(got.FailureReason, adatum.ID) {
				t.Fatalf("two partnerships must never share a tenant: %+v", got)
			}

			// Checking again changes nothing while the cause stays; the provider cancels.
			if v := h.api.Do("POST", "/v1/resellers/"+evil.ID+"/verify", nil); v.Status != http.StatusOK {
				t.Fatalf("check again: %d %s", v.Status, v.Body)
			}
			if again := poll(
				h, "/v1/resellers/"+evil.ID, "settled", settled,
			); again.Status != models.ResellerNeedsReview {
				t.Fatalf("after checking again: %+v", again)
			}
			for _, id := range []string{evil.ID, twin.ID} {
				if c := h.api.Do("POST", "/v1/resellers/"+id+"/cancel", map[string]any{
					"reason": "not who they claim",
				}); c.Status != http.StatusOK {
					t.Fatalf("cancel %s: %d %s", id, c.Status, c.Body)
				}
			}
			cancelled := poll(h, "/v1/resellers/"+evil.ID, "cancelled", func(r reseller) bool {
				return r.Status == models.ResellerCancelled
			})
			if dialect == models.DialectSQLite {
				h.recordHistory(cancelled.WorkflowID, "reseller_needs_review_cancelled")
			}
			if still := poll(h, "/v1/resellers/"+adatum.ID, "active", func(r reseller) bool {
				return r.Status == models.ResellerActive
			}); still.TenantID != adatumTenant {
				t.Fatalf("Adatum's partnership changed: %+v", still)
			}
		})
	}
}
