package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// startEstateSync starts the partner's estate sync as worker does, pausing every between passes.
func (h *harness) startEstateSync(every time.Duration) client.WorkflowRun {
	h.t.Helper()
	partner := sim.DefaultHomePartner.TenantID
	run, err := h.temporal.Client.SignalWithStartWorkflow(context.Background(),
		workflows.EstateSyncWorkflowID(partner), workflows.SignalEstateSettings,
		workflows.EstateSettings{Every: every},
		client.StartWorkflowOptions{TaskQueue: workflows.TaskQueue},
		workflows.EstateSync, workflows.EstateSyncInput{PartnerID: partner, Every: every})
	if err != nil {
		h.t.Fatal(err)
	}
	return run
}

// waitPass waits until the sync completed pass n and returns the sync.
func (h *harness) waitPass(n int64) *models.DirectorySync {
	h.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		d, err := h.store.DirectorySyncOf(context.Background(), sim.DefaultHomePartner.TenantID)
		if err == nil && d.CompletedPass >= n {
			// The pass's changes are delivered right after it completes.
			time.Sleep(500 * time.Millisecond)
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("the sync did not complete pass %d: %+v %v", n, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// advanceClock moves the simulator's clock and the activities' together.
func (h *harness) advanceClock(d time.Duration) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"advance": d.String()})
	resp, err := http.Post(h.simURL+"/sim/clock", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusOK {
		h.t.Fatalf("advance the simulator's clock: %v %v", resp, err)
	}
	resp.Body.Close()
	h.clockOffset.Add(int64(d))
}

// directoryChanges lists the partner's changes as "kind subject", oldest first.
func (h *harness) directoryChanges() []models.DirectoryChange {
	h.t.Helper()
	var out []models.DirectoryChange
	if err := h.store.DB.Where("partner_id = ?", sim.DefaultHomePartner.TenantID).Order("id").
		Find(&out).Error; err != nil {
		h.t.Fatal(err)
	}
	return out
}

func TestTheEstateSyncImportsTheEstateAndReportsEachChangeOnce(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := start(t, dialect)
			ctx := context.Background()
			partner := sim.DefaultHomePartner.TenantID
			// An estate made outside partnerflow: customers, each with a GDAP relationship, half
			// of them with one of three indirect resellers, and relationships ending in 20 days.
			estate, err := h.sim.SeedEstate(sim.EstateSpec{
				Customers: 120, GDAPPerCustomer: 1, Resellers: 3, CustomDomains: true, ExpiringWithinDays: []int{20},
			})
			if err != nil {
				t.Fatal(err)
			}
			subscriber := h.subscribe("directory.*")
			run := h.startEstateSync(time.Hour)

			first := h.waitPass(1)
			var customers []models.DirectoryCustomer
			h.store.DB.Where("partner_id = ? AND NOT gone", partner).Find(&customers)
			byTenant := map[string]models.DirectoryCustomer{}
			for _, c := range customers {
				byTenant[c.TenantID] = c
			}
			for _, c := range estate.Customers {
				got, ok := byTenant[c.TenantID]
				if !ok || got.ResellerTenantID != c.ResellerTenantID || got.Domain != c.Domain {
					t.Fatalf("customer %+v is in the directory as %+v (%v)", c, got, ok)
				}
			}
			var relationships int64
			h.store.DB.Model(&models.DirectoryGDAP{}).Where("partner_id = ? AND NOT gone", partner).
				Count(&relationships)
			if first.Customers != len(customers) || relationships < int64(estate.GDAPRelationships) {
				t.Fatalf("sync %+v; %d customers, %d relationships in the directory, %d seeded",
					first, len(customers), relationships, estate.GDAPRelationships)
			}
			// The import is quiet but for the alerts: the relationships ending within 30 days and
			// those holding Global Administrator, each once.
			imported := h.directoryChanges()
			kinds := map[string]int{}
			for _, c := range imported {
				kinds[c.Kind]++
			}
			if kinds[models.ChangeGDAPExpiring] == 0 || kinds[models.ChangeGDAPGlobalAdmin] == 0 ||
				kinds[models.ChangeCustomerAdded] != 0 || kinds[models.ChangeGDAPAdded] != 0 {
				t.Fatalf("the import raised %v", kinds)
			}

			// Outside partnerflow: a customer terminates an active relationship, and two weeks
			// pass, so the relationships that ended in 20 days now end within 7.
			var active models.DirectoryGDAP
			if err := h.store.DB.Where("partner_id = ? AND status = ? AND NOT global_admin AND ends_at IS NOT NULL",
				partner, models.GDAPActive).Order("id").First(&active).Error; err != nil {
				t.Fatal(err)
			}
			if code, body := h.customerAction("terminate-gdap", map[string]string{
				"relationshipId": active.ID, "upn": "admin@" + byTenant[active.CustomerTenantID].Domain,
			}); code != http.StatusOK {
				t.Fatalf("terminate: %d %s", code, body)
			}
			waitUntil(t, "the relationship is terminated", func() bool {
				rel, err := h.pc.GetGDAPRelationship(ctx, active.ID)
				return err == nil && rel.Status == partnercenter.GDAPStatusTerminated
			})
			h.advanceClock(14 * 24 * time.Hour)
			if r := h.global.Do("POST", "/v1/directory/sync", nil); r.Status != http.StatusAccepted {
				t.Fatalf("sync now: %d %s", r.Status, r.Body)
			}
			h.waitPass(2)
			// A third pass finds nothing new.
			if r := h.global.Do("POST", "/v1/directory/sync", nil); r.Status != http.StatusAccepted {
				t.Fatalf("sync now: %d %s", r.Status, r.Body)
			}
			h.waitPass(3)

			later := h.directoryChanges()[len(imported):]
			var terminated, sevenDays, thirtyDays int
			for _, c := range later {
				switch {
				case c.Kind == models.ChangeGDAPStatus && c.SubjectID == active.ID:
					terminated++
				case c.Kind == models.ChangeGDAPExpiring && strings.Contains(c.Detail, "within 7 days"):
					sevenDays++
				case c.Kind == models.ChangeGDAPExpiring:
					thirtyDays++
				}
			}
			if terminated != 1 || sevenDays == 0 || thirtyDays != 0 {
				t.Fatalf("after the termination and two weeks: %d status changes of %s, %d seven-day and %d "+
					"thirty-day warnings: %+v", terminated, active.ID, sevenDays, thirtyDays, later)
			}
			// Each change went to the subscriber once.
			if n := h.webhookEvents(subscriber); n != len(h.directoryChanges()) {
				t.Fatalf("%d events for %d changes", n, len(h.directoryChanges()))
			}
			if slices.ContainsFunc(h.directoryChanges(), func(c models.DirectoryChange) bool {
				return c.DeliveredAt == nil
			}) {
				t.Fatal("a change was not delivered")
			}

			desc, err := h.temporal.Client.DescribeWorkflowExecution(ctx, run.GetID(), "")
			if err != nil || desc.WorkflowExecutionInfo.Status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				t.Fatalf("the sync must keep running: %v %v", desc, err)
			}
			if dialect == models.DialectSQLite {
				// The first run: a whole pass, the pause, and the next pass's start.
				h.recordRunHistory(run.GetID(), run.GetRunID(), "estate_sync")
			}
		})
	}
}

func TestAnInvitationToACustomDomainCompletes(t *testing.T) {
	h := start(t, models.DialectSQLite)
	if r := h.global.Do("POST", "/v1/invitations", map[string]any{
		"customerDomain": "nowhere-at-all.example", "customerEmail": "admin@nowhere-at-all.example",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
	}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "customerDomain") {
		t.Fatalf("a domain no tenant holds: %d %s", r.Status, r.Body)
	}
	inv := h.invite(map[string]any{
		"customerDomain": "contoso.com", "customerEmail": "admin@contoso.com",
		"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
	})
	sent := h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") && i.GDAPRelationshipID != "" })
	if code, body := h.customerAction("accept-reseller", map[string]string{
		"domain": "contoso.onmicrosoft.com", "partnerId": sim.DefaultHomePartner.TenantID,
		"upn": "admin@contoso.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("accept: %d %s", code, body)
	}
	if code, body := h.customerAction("approve-gdap", map[string]string{
		"relationshipId": sent.GDAPRelationshipID, "upn": "admin@contoso.onmicrosoft.com",
	}); code != http.StatusOK {
		t.Fatalf("approve: %d %s", code, body)
	}
	// The policy polls hourly: the webhook events find the invitation by the customer's custom
	// domain, and the acceptance is matched by its tenant.
	active := h.waitFor(inv.ID, "active", func(i invitation) bool { return i.Status == models.InvitationActive })
	if active.CustomerTenantID != "11111111-1111-4111-8111-111111111111" {
		t.Fatalf("customer tenant %q", active.CustomerTenantID)
	}
}

// subscribe makes a webhook subscription to events and returns its ID.
func (h *harness) subscribe(events ...string) string {
	h.t.Helper()
	receiver := newReceiver(h.t, 0)
	resp := h.global.Do("POST", "/v1/webhook-subscriptions", map[string]any{"url": receiver.URL, "events": events})
	if resp.Status != http.StatusCreated {
		h.t.Fatalf("subscribe to %v: %d %s", events, resp.Status, resp.Body)
	}
	var sub struct{ ID, Secret string }
	resp.JSON(h.t, &sub)
	receiver.setSecret(sub.Secret)
	return sub.ID
}

// webhookEvents counts the deliveries enqueued for a subscription.
func (h *harness) webhookEvents(subscriptionID string) int {
	h.t.Helper()
	var n int64
	if err := h.store.DB.Model(&models.WebhookDelivery{}).Where("subscription_id = ?", subscriptionID).
		Count(&n).Error; err != nil {
		h.t.Fatal(err)
	}
	return int(n)
}

// waitUntil polls ok for up to a minute.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !ok(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
	}
}

// countingTransport counts the requests that reach Partner Center and Graph.
type countingTransport struct{ n atomic.Int64 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

// Invitations the estate sync tells make no Partner Center calls of their own while they wait,
// however many wait; and the sync alone, with no webhook event, brings one to active.
func TestWaitingInvitationsLeavePartnerCenterAloneAndTheSyncWakesThem(t *testing.T) {
	for _, tc := range []struct {
		name      string
		noPolling bool
	}{{"polling", false}, {"told by the sync", true}} {
		t.Run(tc.name, func(t *testing.T) {
			calls := &countingTransport{}
			h := assembleWith(t, models.DialectSQLite, workflows.WaitPolicy{
				Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond, NoPolling: tc.noPolling,
			}, "", calls)
			ctx := context.Background()
			// No webhook event reaches partnerflow in this test.
			deleteCtx := partnercenter.WithRequestID(ctx, partnercenter.NewRequestID())
			if err := h.pc.DeleteWebhookRegistration(deleteCtx); err != nil {
				t.Fatal(err)
			}
			var waiting []invitation
			var domains []string
			for i := range 20 {
				domain := fmt.Sprintf("waiting%d.onmicrosoft.com", i)
				h.newTenant(domain)
				domains = append(domains, domain)
				waiting = append(waiting, h.invite(map[string]any{
					"customerDomain": domain, "customerEmail": "admin@" + domain,
					"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
				}))
			}
			for _, inv := range waiting {
				h.waitFor(inv.ID, "sent", func(i invitation) bool { return i.has("sent") })
			}
			// A partnership request to a seeded reseller that has not authorized the provider yet.
			request := h.createReseller(map[string]any{
				"email": "admin@proseware.onmicrosoft.com", "companyName": "Proseware Reseller",
			})
			poll(h, "/v1/resellers/"+request.ID, "sent", func(r reseller) bool { return hasStep(r, "sent") })
			before := calls.n.Load()
			time.Sleep(3 * time.Second)
			made := calls.n.Load() - before
			t.Logf("%d waiting invitations and a partnership request made %d Partner Center and Graph calls in 3 s",
				len(waiting), made)
			switch {
			case tc.noPolling && made != 0:
				t.Fatalf("%d waiting invitations and a partnership request made %d Partner Center calls in 3 s",
					len(waiting), made)
			case !tc.noPolling && made < int64(len(waiting)):
				t.Fatalf("polling invitations made only %d calls in 3 s: the count proves nothing", made)
			}
			if !tc.noPolling {
				return
			}

			// The first customer accepts and approves; only the sync can tell.
			first, inv := domains[0], waiting[0]
			sent := h.get(inv.ID)
			admin := "admin@" + first
			if code, body := h.customerAction("accept-reseller", map[string]string{
				"domain": first, "partnerId": sim.DefaultHomePartner.TenantID, "upn": admin,
			}); code != http.StatusOK {
				t.Fatalf("accept: %d %s", code, body)
			}
			if code, body := h.customerAction("approve-gdap", map[string]string{
				"relationshipId": sent.GDAPRelationshipID, "upn": admin,
			}); code != http.StatusOK {
				t.Fatalf("approve: %d %s", code, body)
			}
			// Proseware's Global admin authorizes the provider; Partner Center sends no event for it.
			h.mustAct("authorize-provider", map[string]string{
				"resellerDomain": "proseware.onmicrosoft.com",
				"providerId":     sim.DefaultHomePartner.TenantID,
				"upn":            "admin@proseware.onmicrosoft.com",
			})
			run := h.startEstateSync(time.Hour)
			h.waitPass(1)
			active := h.waitFor(inv.ID, "active", func(i invitation) bool {
				return i.Status == models.InvitationActive
			})
			if active.CustomerTenantID == "" || !active.has("reseller-accepted") || !active.has("gdap-approved") {
				t.Fatalf("the sync's events must carry the consents: %+v", active)
			}
			// The sync lists Proseware among the provider's resellers and tells the request, which
			// is verified; no second partnership is imported for it.
			partner := poll(h, "/v1/resellers/"+request.ID, "active", func(r reseller) bool {
				return r.Status == models.ResellerActive
			})
			if !hasStep(partner, "authorized") || !hasStep(partner, "verified") || partner.MPNID != "3456789" {
				t.Fatalf("the request the sync told: %+v", partner)
			}
			var prosewares int64
			if err := h.store.DB.Model(&models.Reseller{}).Where("tenant_id = ?", partner.TenantID).
				Count(&prosewares).Error; err != nil || prosewares != 1 {
				t.Fatalf("%d partnerships hold Proseware's tenant (%v), want 1", prosewares, err)
			}
			for _, other := range waiting[1:] {
				if got := h.get(other.ID); got.Status != models.InvitationPending {
					t.Fatalf("invitation %s of a customer who did nothing is %s", other.ID, got.Status)
				}
			}

			// The active invitation started no GDAP watch of its own: the sync watches its
			// relationship. The customer removes the partner's access; the next pass alerts the
			// invitation's timeline and the partner's contact, and later passes do not again.
			watched := h.waitFor(inv.ID, "watching", func(i invitation) bool { return i.has("watching") })
			_, err := h.temporal.Client.DescribeWorkflowExecution(ctx,
				workflows.GDAPWatchWorkflowID(watched.GDAPRelationshipID), "")
			var notFound *serviceerror.NotFound
			if !errors.As(err, &notFound) {
				t.Fatalf("the invitation started a GDAP watch (%v); the estate sync watches its relationship", err)
			}
			if code, body := h.customerAction("terminate-gdap", map[string]string{
				"relationshipId": watched.GDAPRelationshipID, "upn": admin,
			}); code != http.StatusOK {
				t.Fatalf("terminate: %d %s", code, body)
			}
			for pass := int64(2); pass <= 3; pass++ {
				if r := h.global.Do("POST", "/v1/directory/sync", nil); r.Status != http.StatusAccepted {
					t.Fatalf("sync now: %d %s", r.Status, r.Body)
				}
				h.waitPass(pass)
			}
			alerted := h.get(inv.ID)
			lost := 0
			for _, step := range alerted.Steps {
				if step.Name == models.StepAccessLost {
					lost++
				}
			}
			if mails := h.mailsOfKind(partnerContact, notify.KindAccessLost); lost != 1 || len(mails) != 1 {
				t.Fatalf("after two passes: %d access-lost steps, %d mails to the contact; want 1 and 1",
					lost, len(mails))
			}
			// One version marker for every change the invitation takes, so one upsert of
			// TemporalChangeVersion (a visibility write), not one a change.
			changes, upserts := h.versionMarkers(inv.WorkflowID)
			if !slices.Equal(changes, []string{"consolidated-1"}) || upserts != 1 {
				t.Fatalf("version markers %v with %d TemporalChangeVersion upserts; want [consolidated-1] and 1",
					changes, upserts)
			}
			h.recordHistory(inv.WorkflowID, "invitation_told_by_sync")
			// The sync's first run: the pass that woke the flows, with its alerts' phase.
			h.recordRunHistory(run.GetID(), run.GetRunID(), "estate_sync")
		})
	}
}

// newTenant makes a customer tenant at the simulator with one Global admin, not yet anyone's
// customer.
func (h *harness) newTenant(domain string) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{
		"domain": domain, "country": "US", "companyName": "Tenant " + domain,
		"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
	})
	resp, err := http.Post(h.simURL+"/sim/tenants", "application/json", bytes.NewReader(body))
	if err != nil || resp.StatusCode != http.StatusCreated {
		h.t.Fatalf("create tenant %s: %v %v", domain, resp, err)
	}
	resp.Body.Close()
}
