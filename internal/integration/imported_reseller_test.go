package integration

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerflow/partnerflow/activities"
	"github.com/partnerflow/partnerflow/api"
	"github.com/partnerflow/partnerflow/internal/testapi"
	"github.com/partnerflow/partnerflow/links"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// importedView is the API's view of a partnership, with what tells an imported one apart.
type importedView struct {
	reseller
	Email     string     `json:"email"`
	Source    string     `json:"source"`
	ExpiresAt *time.Time `json:"expiresAt"`
}

// runDispatcher runs the API's dispatcher of flow commands beside the harness's API server, as
// every api and dev process does (cmd/partnerflow): another api process of the same
// deployment, on the same database and Temporal.
func (h *harness) runDispatcher() {
	h.t.Helper()
	server := api.New(api.Config{
		Store: h.store, Temporal: h.temporal.Client, Codec: h.temporal.Codec, Registry: prometheus.NewRegistry(),
		Logger:     quietLogger(),
		SigningKey: bytes.Repeat([]byte{7}, 32),
		Flows: api.FlowConfig{
			PartnerID:    sim.DefaultHomePartner.TenantID,
			PartnerName:  "Contoso Distribution",
			TaskQueue:    workflows.TaskQueue,
			BaseURL:      h.baseURL,
			ContactEmail: partnerContact,
		},
	})
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.DispatchCommands(ctx)
	}()
	h.t.Cleanup(func() {
		stop()
		<-done
	})
}

// importActivities are the activities as the harness's worker has them (its Partner Center
// client, the app database, the partner's contact), for calling the estate import the way the
// estate sync does.
func (h *harness) importActivities() *activities.Activities {
	h.t.Helper()
	signingKey := bytes.Repeat([]byte{7}, 32)
	mailer, err := notify.NewMailer("", "partnerflow@example.com")
	if err != nil {
		h.t.Fatal(err)
	}
	return activities.New(activities.Config{
		Store: h.store, PartnerCenter: h.pc, Mailer: mailer,
		Logger: slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Signer: links.NewSigner(signingKey), BaseURL: h.baseURL, PartnerName: "Contoso Distribution",
		Credentials: notify.NewCredentialBox(signingKey), Outbox: h.mailBox,
		PartnerID: sim.DefaultHomePartner.TenantID, ContactEmail: partnerContact,
	})
}

// importEstate lists the resellers that authorized the partner and imports them, as the estate
// sync's activities do one after the other.
func (h *harness) importEstate(acts *activities.Activities) int {
	h.t.Helper()
	ctx := context.Background()
	partner := sim.DefaultHomePartner.TenantID
	listed, err := acts.ListEstateResellers(ctx, partner)
	if err != nil {
		h.t.Fatalf("list the resellers: %v", err)
	}
	n, err := acts.ImportEstateResellers(ctx, activities.EstateResellerImport{PartnerID: partner, Resellers: listed})
	if err != nil {
		h.t.Fatalf("import the resellers: %v", err)
	}
	return n
}

// importedByTenant returns the partner's imported partnerships by reseller tenant.
func (h *harness) importedByTenant() map[string][]models.Reseller {
	h.t.Helper()
	var rows []models.Reseller
	if err := h.store.DB.Where("source = ?", models.ResellerSourcePartnerCenter).Find(&rows).Error; err != nil {
		h.t.Fatal(err)
	}
	out := map[string][]models.Reseller{}
	for _, r := range rows {
		out[r.TenantID] = append(out[r.TenantID], r)
	}
	return out
}

// TestResellersPartnerCenterAlreadyListsAreImportedAndVerified: the demo world's Adatum and
// Litware authorized the provider before partnerflow; Proseware partners through a request
// first. The import makes Adatum and Litware known partnerships (no mail to them, no wait for an
// authorization), the dispatcher starts their workflows, Adatum is verified and active, Litware
// fails verification (2203: it never signed the partner agreement), the provider's contact hears
// of both; Adatum can be named on an onboarding at once. Importing again adds nothing, and
// Proseware, partnered through its request, is not imported.
func TestResellersPartnerCenterAlreadyListsAreImportedAndVerified(t *testing.T) {
	const (
		adatum    = "66666666-6666-4666-8666-666666666666"
		litware   = "77777777-7777-4777-8777-777777777777"
		proseware = "88888888-8888-4888-8888-888888888888"
	)
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := assemble(
				t,
				dialect,
				workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond},
				"",
			)
			h.runDispatcher()
			acts := h.importActivities()

			// Proseware partners through a request: asked, authorized, verified.
			resp := h.api.Do("POST", "/v1/resellers", map[string]any{
				"email": "admin@proseware.onmicrosoft.com", "companyName": "Proseware Reseller",
			})
			if resp.Status != http.StatusCreated {
				t.Fatalf("request: %d %s", resp.Status, resp.Body)
			}
			var requested reseller
			resp.JSON(t, &requested)
			if code, body := h.customerAction("authorize-provider", map[string]string{
				"resellerDomain": "proseware.onmicrosoft.com",
				"providerId":     sim.DefaultHomePartner.TenantID,
				"upn":            "admin@proseware.onmicrosoft.com",
			}); code != http.StatusOK {
				t.Fatalf("authorize: %d %s", code, body)
			}
			poll(h, "/v1/resellers/"+requested.ID, "active", func(r reseller) bool {
				return r.Status == models.ResellerActive
			})

			// The import: Adatum and Litware, not Proseware.
			if n := h.importEstate(acts); n != 2 {
				t.Fatalf("imported %d partnerships, want 2 (adatum, litware)", n)
			}
			imported := h.importedByTenant()
			if len(imported) != 2 || len(imported[adatum]) != 1 || len(imported[litware]) != 1 {
				t.Fatalf("imported %+v", imported)
			}
			adatumID, litwareID := imported[adatum][0].ID, imported[litware][0].ID

			// The dispatcher starts their workflows; Adatum is verified, Litware fails with 2203.
			active := poll(h, "/v1/resellers/"+adatumID, "active", func(r importedView) bool {
				return r.Status == models.ResellerActive
			})
			if active.Source != models.ResellerSourcePartnerCenter || active.Email != "" || active.LandingURL != "" ||
				active.ExpiresAt != nil || active.MPNID != "1234567" || active.TenantID != adatum ||
				!hasStep(active.reseller, "started") || !hasStep(active.reseller, "authorized") ||
				!hasStep(active.reseller, "verified") || hasStep(active.reseller, "sent") {
				t.Fatalf("active imported reseller %+v", active)
			}
			failed := poll(h, "/v1/resellers/"+litwareID, "verification_failed", func(r importedView) bool {
				return r.Status == models.ResellerVerificationFailed
			})
			if failed.FailureCode != "2203" || failed.Source != models.ResellerSourcePartnerCenter {
				t.Fatalf("litware %+v", failed)
			}
			// The views of imported partnerships hold to the published contract.
			check, err := testapi.OpenAPICheck(api.OpenAPI)
			if err != nil {
				t.Fatal(err)
			}
			checked := *h.global
			checked.Check = check
			for _, path := range []string{
				"/v1/resellers/" + adatumID, "/v1/resellers/" + litwareID, "/v1/resellers?status=active",
			} {
				if r := checked.Do("GET", path, nil); r.Status != http.StatusOK ||
					!strings.Contains(string(r.Body), `"source":"partner-center"`) {
					t.Fatalf("GET %s: %d %s", path, r.Status, r.Body)
				}
			}
			h.waitForMail(partnerContact, adatumID+"/"+activities.MailResellerVerified+"/1")
			h.waitForMail(partnerContact, litwareID+"/"+activities.MailResellerVerificationFailed+"/1")
			var toResellers int64
			if err := h.store.DB.Model(&models.OutboxMessage{}).
				Where("idempotency_key LIKE ? OR idempotency_key LIKE ?", adatumID+"/%", litwareID+"/%").
				Where("to_address <> ?", partnerContact).Count(&toResellers).Error; err != nil || toResellers != 0 {
				t.Fatalf("an imported reseller gets no mail: %d %v", toResellers, err)
			}

			// The active imported reseller can be named on an onboarding; the failed one cannot.
			onboard := func(resellerID string) *testapi.Response {
				return h.api.Do("POST", "/v1/onboardings", map[string]any{
					"companyName":  "Contoso Imported",
					"domainPrefix": fmt.Sprintf("contosoimp%d", time.Now().UnixNano()%100000),
					"country":      "US", "language": "en",
					"contact": map[string]any{
						"firstName": "Ada", "lastName": "Lovelace",
						"email": "ada@contoso.example", "phone": "+1 425 555 0100",
					},
					"address": map[string]any{
						"line1": "1 Main St", "city": "Redmond", "state": "WA", "postalCode": "98052",
					},
					"resellerId": resellerID,
					"products": []map[string]any{{
						"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS", "quantity": 1,
						"billingCycle": "monthly", "termDuration": "P1M",
					}},
				})
			}
			if refused := onboard(litwareID); refused.Status != http.StatusBadRequest ||
				!strings.Contains(string(refused.Body), `"field":"resellerId"`) {
				t.Fatalf("naming the reseller that failed verification: %d %s", refused.Status, refused.Body)
			}
			resp = onboard(adatumID)
			if resp.Status != http.StatusCreated {
				t.Fatalf("onboarding with the imported reseller: %d %s", resp.Status, resp.Body)
			}

			// Importing again adds nothing; Proseware, partnered through its request, stays as it is.
			if n := h.importEstate(acts); n != 0 {
				t.Fatalf("importing again imported %d", n)
			}
			if again := h.importedByTenant(); len(again) != 2 || len(again[adatum]) != 1 ||
				len(again[litware]) != 1 || len(again[proseware]) != 0 {
				t.Fatalf("after importing again %+v", again)
			}

			if dialect == models.DialectSQLite {
				h.recordHistory(active.WorkflowID, "reseller_imported_active")
				// Litware waits for the provider; cancelled, its history is complete.
				if r := h.api.Do("POST", "/v1/resellers/"+litwareID+"/cancel", map[string]any{
					"reason": "never signed the partner agreement",
				}); r.Status != http.StatusOK {
					t.Fatalf("cancel: %d %s", r.Status, r.Body)
				}
				cancelled := poll(h, "/v1/resellers/"+litwareID, "cancelled", func(r importedView) bool {
					return r.Status == models.ResellerCancelled
				})
				h.waitClosed(cancelled.WorkflowID)
				h.recordHistory(cancelled.WorkflowID, "reseller_imported_cancelled")
			}
		})
	}
}

// waitForMail waits until the outbox holds the message with key for to.
func (h *harness) waitForMail(to, key string) {
	h.t.Helper()
	waitUntil(h.t, "mail "+key+" to "+to, func() bool {
		msgs, err := h.store.Outbox(context.Background(), to, 50)
		if err != nil {
			h.t.Fatal(err)
		}
		for _, m := range msgs {
			if m.IdempotencyKey == key {
				return true
			}
		}
		return false
	})
}

// waitClosed waits until a workflow has finished.
func (h *harness) waitClosed(workflowID string) {
	h.t.Helper()
	waitUntil(h.t, workflowID+" finished", func() bool {
		d, err := h.temporal.Client.DescribeWorkflowExecution(context.Background(), workflowID, "")
		return err == nil && d.GetWorkflowExecutionInfo().GetCloseTime() != nil
	})
}
