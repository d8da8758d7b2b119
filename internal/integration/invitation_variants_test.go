package integration

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	enumspb "go.temporal.io/api/enums/v1"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// gdapRelationships counts the GDAP relationships the simulator holds for the partner.
func (h *harness) gdapRelationships() int {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.simURL+"/v1.0/tenantRelationships/delegatedAdminRelationships", nil)
	req.Header.Set("Authorization", "Bearer "+h.graphToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Value []json.RawMessage `json:"value"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		h.t.Fatal(err)
	}
	return len(list.Value)
}

func TestAResellerRelationshipWithoutAdminAccessThroughTheRealParts(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := start(t, dialect)
			resp := h.api.Do("POST", "/v1/invitations", map[string]any{
				"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
				"adminAccess": false,
			})
			if resp.Status != http.StatusCreated || !strings.Contains(string(resp.Body), `"adminAccess":false`) {
				t.Fatalf("invite: %d %s", resp.Status, resp.Body)
			}
			var inv invitation
			resp.JSON(t, &inv)
			h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") })

			mails, err := h.outbox("admin@contoso.onmicrosoft.com", 5)
			if err != nil || len(mails) != 1 || !strings.Contains(mails[0].Body, inv.AcceptURL) ||
				!strings.Contains(mails[0].Body, "does not ask for admin rights") ||
				strings.Contains(mails[0].Body, "GDAP") {
				t.Fatalf("the customer's mail must say no admin rights are asked for: %+v %v", mails, err)
			}

			// The landing page leads to the simulator's invitation page, and to nothing else.
			page := h.api.Do("GET", strings.TrimPrefix(inv.AcceptURL, h.baseURL), nil)
			body := string(page.Body)
			if page.Status != http.StatusOK ||
				!strings.Contains(body, `id="accept-reseller" class="button" href="`+
					h.simURL+"/sim/admin/partner-invitation?") ||
				strings.Contains(body, `id="approve-gdap"`) || !strings.Contains(body, "asks for no admin rights") {
				t.Fatalf("landing page: %d %s", page.Status, body)
			}

			if code, body := h.customerAction("accept-reseller", map[string]string{
				"domain":    "contoso.onmicrosoft.com",
				"partnerId": sim.DefaultHomePartner.TenantID,
				"upn":       "admin@contoso.onmicrosoft.com",
			}); code != http.StatusOK {
				t.Fatalf("accept: %d %s", code, body)
			}
			// The policy polls hourly: reaching active proves the webhook carried the acceptance.
			active := h.waitFor(inv.ID, "active", func(i invitation) bool {
				return i.Status == models.InvitationActive
			})
			var names []string
			for _, s := range active.Steps {
				if s.Name != "opened" {
					names = append(names, s.Name)
				}
			}
			if got := strings.Join(names, ","); got != "created,started,sent,reseller-accepted,accepted,active" {
				t.Fatalf("timeline %s", got)
			}
			if active.CustomerTenantID != "11111111-1111-4111-8111-111111111111" || active.GDAPRelationshipID != "" {
				t.Fatalf("invitation %+v", active)
			}
			if n := h.gdapRelationships(); n != 0 {
				t.Fatalf("an invitation without admin access created %d GDAP relationships", n)
			}
			// The detail shows the row, which the workflow writes before it ends.
			h.waitClosed(inv.WorkflowID)
			desc, err := h.temporal.Client.DescribeWorkflowExecution(context.Background(), inv.WorkflowID, "")
			if err != nil || desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				t.Fatalf("workflow: %v %v", desc, err)
			}
			var stored models.Invitation
			if err := h.store.DB.First(&stored, "id = ?", inv.ID).Error; err != nil || stored.AdminAccess ||
				stored.Cloud != models.CloudPublic || stored.Roles != "" {
				t.Fatalf("row %+v %v", stored, err)
			}
			var detail struct {
				AdminAccess *bool `json:"adminAccess"`
			}
			h.api.Do("GET", "/v1/invitations/"+inv.ID, nil).JSON(t, &detail)
			if detail.AdminAccess == nil || *detail.AdminAccess {
				t.Fatalf("the API must show adminAccess false")
			}
			// Its history calls no GDAP activity and starts no child: there is no access to watch.
			iter := h.temporal.Client.GetWorkflowHistory(
				context.Background(), inv.WorkflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT,
			)
			for iter.HasNext() {
				ev, err := iter.Next()
				if err != nil {
					t.Fatal(err)
				}
				if ev.GetEventType() == enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED {
					t.Errorf(
						"an invitation without admin access started %s",
						ev.GetStartChildWorkflowExecutionInitiatedEventAttributes().GetWorkflowType().GetName(),
					)
				}
				if a := ev.GetActivityTaskScheduledEventAttributes(); a != nil &&
					strings.Contains(a.GetActivityType().GetName(), "GDAP") {
					t.Errorf("an invitation without admin access called %s", a.GetActivityType().GetName())
				}
			}
			if dialect == models.DialectSQLite {
				h.recordHistory(inv.WorkflowID, "invitation_reseller_only")
			}
		})
	}
}

func TestAUSGovernmentCustomerThroughTheRealParts(t *testing.T) {
	h := start(t, models.DialectSQLite)
	// The simulator knows the tenant's cloud; Partner Center documents no field that tells it, so
	// the partner names it on the invitation.
	data, _ := json.Marshal(map[string]any{
		"domain": "agency.onmicrosoft.com", "country": "US", "companyName": "Agency", "cloud": "usgov",
		"users": []map[string]any{{"upn": "admin@agency.onmicrosoft.com", "globalAdmin": true}},
	})
	resp, err := http.Post(h.simURL+"/sim/tenants", "application/json", strings.NewReader(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create the US Government tenant: %d", resp.StatusCode)
	}

	refused := h.api.Do("POST", "/v1/invitations", map[string]any{
		"customerDomain": "agency.onmicrosoft.com", "customerEmail": "admin@agency.onmicrosoft.com",
		"adminAccess": false, "cloud": "usgov",
	})
	if p := refused.Problem(t); refused.Status != http.StatusBadRequest || p["field"] != "adminAccess" ||
		!strings.Contains(p["detail"].(string), "US Government") {
		t.Fatalf(
			"a reseller relationship without admin access must be refused for US Government, with the reason: %d %s",
			refused.Status, refused.Body,
		)
	}

	inv := h.invite(map[string]any{
		"customerDomain": "agency.onmicrosoft.com", "customerEmail": "admin@agency.onmicrosoft.com", "cloud": "usgov",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
	})
	sent := h.waitFor(inv.ID, "sent", func(i invitation) bool {
		return i.has("sent") && i.GDAPRelationshipID != ""
	})
	mails, err := h.outbox("admin@agency.onmicrosoft.com", 5)
	if err != nil || len(mails) != 1 ||
		!strings.Contains(mails[0].Body, "Microsoft Office admin portal for US Government") ||
		strings.Contains(mails[0].Body, "Microsoft 365 admin center") {
		t.Fatalf("the mail must send the customer to the US Government portal: %+v %v", mails, err)
	}

	// The landing page's reseller step is Partner Center's link on the US Government portal
	// (Microsoft's by default; dev points it at the simulator's page, which serves both).
	page := h.api.Do("GET", strings.TrimPrefix(inv.AcceptURL, h.baseURL), nil)
	body := string(page.Body)
	wantPrefix := `id="accept-reseller" class="button" href="https://portal.office365.us/sim/admin/partner-invitation?`
	if page.Status != http.StatusOK || !strings.Contains(body, wantPrefix) ||
		!strings.Contains(body, "partnerId="+sim.DefaultHomePartner.TenantID) ||
		!strings.Contains(body, "in the Microsoft Office admin portal for US Government") {
		t.Fatalf("landing page: %d %s", page.Status, body)
	}

	if code, body := h.customerAction("accept-reseller", map[string]string{
		"domain":    "agency.onmicrosoft.com",
		"partnerId": sim.DefaultHomePartner.TenantID,
		"upn":       "admin@agency.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("accept: %d %s", code, body)
	}
	if code, body := h.customerAction("approve-gdap", map[string]string{
		"relationshipId": sent.GDAPRelationshipID,
		"upn":            "admin@agency.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	active := h.waitFor(inv.ID, "active", func(i invitation) bool {
		return i.Status == models.InvitationActive && i.has("watching")
	})
	var detail struct {
		Cloud       string `json:"cloud"`
		AdminAccess bool   `json:"adminAccess"`
	}
	h.api.Do("GET", "/v1/invitations/"+active.ID, nil).JSON(t, &detail)
	if detail.Cloud != models.CloudUSGov || !detail.AdminAccess {
		t.Fatalf("detail %+v", detail)
	}
}
