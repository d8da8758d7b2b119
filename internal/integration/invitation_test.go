package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"time"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

func dialects() []string { return []string{models.DialectSQLite, models.DialectPostgres} }

func TestInvitationBecomesActiveThroughTheRealParts(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := start(t, dialect)
			inv := h.invite(map[string]any{
				"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
				"roles":        []string{"Helpdesk Administrator", "User Administrator"},
				"durationDays": 180, "autoExtend": true,
			})
			if !strings.HasPrefix(inv.AcceptURL, h.baseURL+"/accept/") {
				t.Fatalf("acceptUrl %q", inv.AcceptURL)
			}
			sent := h.waitFor(inv.ID, "sent", func(i invitation) bool {
				return i.has("sent") && i.GDAPRelationshipID != ""
			})

			mails, err := h.outbox("admin@contoso.onmicrosoft.com", 5)
			if err != nil || len(mails) != 1 || !strings.Contains(mails[0].Body, inv.AcceptURL) ||
				mails[0].Status != models.OutboxLogged {
				t.Fatalf("the customer's mail must be in the outbox with the link: %+v %v", mails, err)
			}
			if raw, _ := h.store.Outbox(
				context.Background(), "admin@contoso.onmicrosoft.com", 5,
			); strings.Contains(raw[0].Body+raw[0].HTML, inv.AcceptURL) {
				t.Fatal("the outbox must keep the mail's link token sealed")
			}

			if code, body := h.customerAction("accept-reseller", map[string]string{
				"domain":    "contoso.onmicrosoft.com",
				"partnerId": sim.DefaultHomePartner.TenantID,
				"upn":       "user@contoso.onmicrosoft.com",
			}); code < 400 {
				t.Fatalf("a user who is not Global admin must not accept: %d %s", code, body)
			}
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

			// The policy polls hourly, so reaching active within the test proves the webhooks
			// carried both consents.
			active := h.waitFor(inv.ID, "active", func(i invitation) bool {
				return i.Status == models.InvitationActive && i.has("watching")
			})
			for _, step := range []string{
				"created", "started", "gdap-requested", "sent", "reseller-accepted", "gdap-approved", "accepted",
				"granting", "gdap-active", "assignment-created", "assignment-active", "active", "watching",
			} {
				if !active.has(step) {
					t.Errorf("timeline lacks %s: %+v", step, active.Steps)
				}
			}
			if active.CustomerTenantID != "11111111-1111-4111-8111-111111111111" {
				t.Errorf("customer tenant %q", active.CustomerTenantID)
			}
			var events []models.WebhookEvent
			h.store.DB.Find(&events)
			if len(events) == 0 {
				t.Error("no webhook event was stored")
			}
			// The detail shows the row, which the workflow writes before it ends.
			h.waitClosed(inv.WorkflowID)
			desc, err := h.temporal.Client.DescribeWorkflowExecution(context.Background(), inv.WorkflowID, "")
			if err != nil || desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				t.Fatalf("workflow: %v %v", desc, err)
			}
			if !active.has("watching") {
				t.Fatalf("an active invitation hands its relationship to the GDAP watch: %+v", active.Steps)
			}
			watch, err := h.temporal.Client.DescribeWorkflowExecution(
				context.Background(), "gdap-watch/"+active.GDAPRelationshipID, "",
			)
			if err != nil || watch.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				t.Fatalf("the GDAP watch must be running: %v %v", watch, err)
			}
			if dialect == models.DialectSQLite {
				h.recordHistory(inv.WorkflowID, "invitation_active")
			}

			// The access ends (terminated here through the API; a customer's removal in the admin
			// center looks the same): the terminated event wakes the watch at once, which puts the
			// loss on the invitation's timeline and mails the partner's contact.
			if _, err := h.pc.TerminateGDAPRelationship(
				partnercenter.WithRequestID(context.Background(), "terminate-"+active.GDAPRelationshipID),
				active.GDAPRelationshipID,
			); err != nil {
				t.Fatal(err)
			}
			h.waitFor(inv.ID, "access-lost", func(i invitation) bool { return i.has("access-lost") })
			deadline := time.Now().Add(30 * time.Second)
			for {
				alerts, err := h.outbox("ops@distributor.example", 5)
				if err == nil && len(alerts) == 1 && strings.Contains(alerts[0].Subject, "contoso.onmicrosoft.com") {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the partner's contact must be told: %+v %v", alerts, err)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func TestInvitationCancelAndRefusal(t *testing.T) {
	h := start(t, models.DialectSQLite)
	inv := h.invite(map[string]any{
		"customerDomain": "fabrikam.onmicrosoft.com", "customerEmail": "admin@fabrikam.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 30, "displayName": "fabrikam helpdesk",
	})
	h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") })

	if resp := h.api.Do("POST", "/v1/invitations", map[string]any{
		"customerDomain": "fabrikam.onmicrosoft.com", "customerEmail": "admin@fabrikam.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 30,
	}); resp.Status != http.StatusConflict || !strings.Contains(resp.Header.Get("Location"), inv.ID) {
		t.Fatalf("a second invitation while one is open: %d %s", resp.Status, resp.Body)
	}

	if resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/resend", nil); resp.Status != http.StatusOK {
		t.Fatalf("resend: %d %s", resp.Status, resp.Body)
	}
	resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/cancel", map[string]any{
		"reason": "customer changed their mind",
	})
	if resp.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.Status, resp.Body)
	}
	cancelled := h.waitFor(inv.ID, "cancelled", func(i invitation) bool {
		return i.Status == models.InvitationCancelled
	})
	if !cancelled.has("resent") || !cancelled.has("gdap-cleanup-started") {
		t.Fatalf("timeline %+v", cancelled.Steps)
	}
	h.recordHistory(inv.WorkflowID, "invitation_cancelled")
	if resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/cancel", nil); resp.Status != http.StatusConflict {
		t.Fatalf("cancelling twice: %d %s", resp.Status, resp.Body)
	}
	if resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/resend", nil); resp.Status != http.StatusConflict {
		t.Fatalf("resending a cancelled invitation: %d %s", resp.Status, resp.Body)
	}

	// The cancelled invitation's GDAP request keeps its display name at Microsoft, so a new
	// invitation under the same name is refused by the service: the flow fails with the reason.
	again := h.invite(map[string]any{
		"customerDomain": "fabrikam.onmicrosoft.com", "customerEmail": "admin@fabrikam.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 30, "displayName": "fabrikam helpdesk",
	})
	failed := h.waitFor(again.ID, "failed", func(i invitation) bool { return i.Status == models.InvitationFailed })
	if failed.FailureReason == "" {
		t.Fatalf("a failed invitation must say why: %+v", failed)
	}
}

// TestAWaitingInvitationContinuesAsNewOnTheRealServer polls every 100 ms with a 60-event history
// budget, so the wait spans several runs; the invitation still answers queries and updates by
// its workflow ID, and reaches active when the customer consents.
func TestAWaitingInvitationContinuesAsNewOnTheRealServer(t *testing.T) {
	h := startWithPolicy(t, models.DialectSQLite, workflows.InvitationPolicy{
		Reminders: []time.Duration{72 * time.Hour}, PollEvery: 100 * time.Millisecond, ContinueAsNewAfter: 60,
	})
	inv := h.invite(map[string]any{
		"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
	})
	sent := h.waitFor(inv.ID, "sent", func(i invitation) bool {
		return i.has("sent") && i.GDAPRelationshipID != ""
	})

	ctx := context.Background()
	deadline := time.Now().Add(60 * time.Second)
	for {
		desc, err := h.temporal.Client.DescribeWorkflowExecution(ctx, inv.WorkflowID, "")
		if err != nil {
			t.Fatal(err)
		}
		if desc.WorkflowExecutionInfo.GetFirstRunId() != desc.WorkflowExecutionInfo.GetExecution().GetRunId() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiting invitation never continued as new")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/resend", nil); resp.Status != http.StatusOK {
		t.Fatalf("resend after continue-as-new: %d %s", resp.Status, resp.Body)
	}
	h.customerAction("accept-reseller", map[string]string{
		"domain":    "contoso.onmicrosoft.com",
		"partnerId": sim.DefaultHomePartner.TenantID,
		"upn":       "admin@contoso.onmicrosoft.com",
	})
	h.customerAction("approve-gdap", map[string]string{
		"relationshipId": sent.GDAPRelationshipID,
		"upn":            "admin@contoso.onmicrosoft.com",
	})
	active := h.waitFor(inv.ID, "active", func(i invitation) bool {
		return i.Status == models.InvitationActive && i.has("active")
	})
	if !active.has("resent") || len(active.Steps) == 0 {
		t.Fatalf("timeline %+v", active.Steps)
	}
	started, sentSteps := 0, 0
	for _, s := range active.Steps {
		switch s.Name {
		case "started":
			started++
		case "sent":
			sentSteps++
		}
	}
	if started != 1 || sentSteps != 1 {
		t.Fatalf("a continued run must not start over: %d started, %d sent", started, sentSteps)
	}
}
