package integration

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/connection"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// TestFlowsWaitForThePartnerCenterConnection starts an invitation, a reseller partnership and a
// customer onboarding before any partner admin connected partnerflow to Partner Center: each
// waits visibly at its first App+User call, the partner's contact hears of it once, nothing
// fails, and each goes on once a global admin connects.
func TestFlowsWaitForThePartnerCenterConnection(t *testing.T) {
	h := build(
		t,
		models.DialectSQLite,
		workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond},
		"",
		nil,
	)

	receiver := newReceiver(t, 0)
	sub := h.global.Do("POST", "/v1/webhook-subscriptions", map[string]any{
		"url": receiver.URL, "events": []string{models.EventConnectionLost},
	})
	if sub.Status != http.StatusCreated {
		t.Fatalf("subscribe to connection.lost: %d %s", sub.Status, sub.Body)
	}
	var subscription struct{ Secret string }
	sub.JSON(t, &subscription)
	receiver.setSecret(subscription.Secret)

	inv := h.invite(map[string]any{
		"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 30,
	})
	resp := h.api.Do("POST", "/v1/resellers", map[string]any{
		"email": "admin@adatum.onmicrosoft.com", "companyName": "Adatum Reseller", "mpnId": "1234567",
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("reseller: %d %s", resp.Status, resp.Body)
	}
	var rs reseller
	resp.JSON(t, &rs)
	resp = h.api.Do("POST", "/v1/customers", map[string]any{
		"companyName": "Fourth Coffee", "domainPrefix": "fourthcoffee" + strings.ToLower(rs.ID[len(rs.ID)-6:]),
		"country": "US",
		"contact": map[string]any{
			"firstName": "Ana", "lastName": "Silva", "email": "ana@fourthcoffee.example", "phone": "+1 425 555 0100",
		},
		"address": map[string]any{"line1": "1 Main St", "city": "Redmond", "state": "WA", "postalCode": "98052"},
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      1,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var ob onboarding
	resp.JSON(t, &ob)

	waiting := func(steps []string) bool { return containsStep(steps, workflows.StepConnectionNeeded) }
	h.waitFor(inv.ID, "waiting for the connection", func(i invitation) bool {
		return i.has(workflows.StepConnectionNeeded)
	})
	poll(h, "/v1/resellers/"+rs.ID, "waiting for the connection", func(v reseller) bool {
		return waiting(stepNames(v.Steps))
	})
	poll(h, "/v1/customers/"+ob.ID+"/steps", "waiting for the connection", func(v stepList) bool {
		return waiting(v.names())
	})

	// Waiting is not failing, and nobody was mailed by a flow that could not start.
	if got := h.get(inv.ID); got.Status != models.InvitationPending || got.has("sent") {
		t.Fatalf("invitation while waiting: %+v", got)
	}
	if msgs, _ := h.outbox("admin@contoso.onmicrosoft.com", 10); len(msgs) != 0 {
		t.Fatalf("the customer was mailed before the invitation could be made: %d", len(msgs))
	}
	// The partner's contact is told once, however many flows wait and however often they look.
	time.Sleep(time.Second)
	lost := h.mailsOfKind(partnerContact, notify.KindConnectionLost)
	if len(lost) != 1 || !strings.Contains(lost[0].Body, "/connection") {
		t.Fatalf("connection-lost mails to the partner: %d, want 1", len(lost))
	}

	for deadline := time.Now().Add(30 * time.Second); !receiver.has(models.EventConnectionLost); {
		if time.Now().After(deadline) {
			t.Fatalf("the partner's system never heard of the lost connection: %v", receiver.accepted())
		}
		time.Sleep(50 * time.Millisecond)
	}

	h.connectPartner()
	h.resumeWaitingFlows()

	done := h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") })
	if !done.has(workflows.StepConnectionResumed) {
		t.Errorf("the invitation's timeline does not say it resumed: %+v", done.Steps)
	}
	active := poll(h, "/v1/resellers/"+rs.ID, "active", func(v reseller) bool {
		return v.Status == models.ResellerActive
	})
	h.recordHistory(active.WorkflowID, "reseller_connection_wait")
	poll(h, "/v1/customers/"+ob.ID+"/steps", "resumed", func(v stepList) bool {
		return containsStep(v.names(), workflows.StepConnectionResumed)
	})
	if msgs, _ := h.outbox("admin@contoso.onmicrosoft.com", 10); len(msgs) != 1 {
		t.Errorf("invitation mails: %d, want exactly 1", len(msgs))
	}
	if lost := h.mailsOfKind(partnerContact, notify.KindConnectionLost); len(lost) != 1 {
		t.Errorf("connection-lost mails after reconnecting: %d, want still 1", len(lost))
	}
	if got := receiver.accepted(); len(got) != 1 {
		t.Errorf("webhook events: %v, want one connection.lost", got)
	}
	if resp := h.api.Do("POST", "/v1/invitations/"+inv.ID+"/cancel", map[string]any{
		"reason": "recorded for the replay test",
	}); resp.Status != http.StatusOK {
		t.Fatalf("cancel: %d %s", resp.Status, resp.Body)
	}
	cancelled := h.waitFor(inv.ID, "cancelled", func(i invitation) bool {
		return i.Status == models.InvitationCancelled
	})
	h.recordHistory(cancelled.WorkflowID, "invitation_connection_wait")
	for _, path := range []string{"/v1/invitations/" + inv.ID, "/v1/resellers/" + rs.ID, "/v1/customers/" + ob.ID} {
		if body := string(h.global.Do("GET", path, nil).Body); strings.Contains(body, `"failed"`) {
			t.Errorf("%s failed: %s", path, body)
		}
	}
}

// resumeWaitingFlows tells the waiting flows, as the dashboard does once a global admin connected.
func (h *harness) resumeWaitingFlows() {
	h.t.Helper()
	// Temporal's visibility lists a flow's FlowStatus shortly after it changed.
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, err := connection.ResumeWaitingFlows(
			context.Background(), h.temporal.Client, sim.DefaultHomePartner.TenantID, quietLogger(),
		)
		if err != nil {
			h.t.Fatal(err)
		}
		if n == 3 {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("resumed %d waiting flows, want 3", n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// stepList is a flow's timeline as /steps lists it.
type stepList struct {
	Steps []struct {
		Name string `json:"name"`
	} `json:"items"`
}

func (s stepList) names() []string {
	out := make([]string, len(s.Steps))
	for i, st := range s.Steps {
		out[i] = st.Name
	}
	return out
}

func containsStep(steps []string, step string) bool {
	for _, s := range steps {
		if s == step {
			return true
		}
	}
	return false
}

// mailsOfKind is the outbox's messages of one kind to one address.
func (h *harness) mailsOfKind(to, kind string) []models.OutboxMessage {
	h.t.Helper()
	msgs, err := h.outbox(to, 100)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []models.OutboxMessage
	for _, m := range msgs {
		if m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

func stepNames[S ~[]struct {
	Name   string `json:"name"`
	Detail string `json:"detail"`
}](steps S) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = s.Name
	}
	return out
}
