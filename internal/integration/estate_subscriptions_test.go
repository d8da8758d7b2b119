package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
)

// updateSubscription changes a subscription "at Microsoft", through the simulator's admin action.
func (h *harness) updateSubscription(body map[string]any) {
	h.t.Helper()
	data, _ := json.Marshal(body)
	resp, err := http.Post(h.simURL+"/sim/partner-actions/update-subscription", "application/json",
		bytes.NewReader(data))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		out, _ := io.ReadAll(resp.Body)
		h.t.Fatalf("update subscription %v: %d %s", body, resp.StatusCode, out)
	}
}

// subscriptionChanges are the directory's changes to subscriptions, oldest first.
func (h *harness) subscriptionChanges() []models.DirectoryChange {
	h.t.Helper()
	var out []models.DirectoryChange
	for _, c := range h.directoryChanges() {
		if strings.HasPrefix(c.Kind, "directory.subscription.") {
			out = append(out, c)
		}
	}
	return out
}

// The estate sync reads the customers' subscriptions into the directory, quietly the first time;
// a subscription changed at Partner Center afterwards is one change and one webhook event at the
// next pass, and a pass after that finds nothing new.
func TestTheEstateSyncReadsTheCustomersSubscriptions(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			h := start(t, dialect)
			ctx := context.Background()
			partner := sim.DefaultHomePartner.TenantID
			estate, err := h.sim.SeedEstate(sim.EstateSpec{Customers: 30, GDAPPerCustomer: 1, Resellers: 2})
			if err != nil {
				t.Fatal(err)
			}
			subscriber := h.subscribe(models.SubscriptionChangeKinds...)
			run := h.startEstateSync(time.Hour)
			h.waitPass(1)

			// Every seeded customer's subscriptions are in the directory as Partner Center lists them.
			listed := map[string][]partnercenter.Subscription{}
			for _, c := range estate.Customers {
				subs, err := h.pc.ListSubscriptions(ctx, c.TenantID)
				if err != nil {
					t.Fatal(err)
				}
				listed[c.TenantID] = subs
				held, err := h.store.DirectoryCustomerSubscriptionsOf(ctx, partner, c.TenantID)
				if err != nil {
					t.Fatal(err)
				}
				if len(subs) == 0 || len(held.Subscriptions) != len(subs) || held.Read == nil ||
					held.Read.Error != "" {
					t.Fatalf("customer %s: %d listed, the directory holds %+v", c.TenantID, len(subs), held)
				}
				for i, s := range held.Subscriptions {
					if s.Gone || s.Status != partnercenter.SubscriptionStatusActive || s.Quantity < 1 {
						t.Fatalf("customer %s's subscription %d: %+v", c.TenantID, i, s)
					}
				}
			}
			if got := h.subscriptionChanges(); len(got) != 0 {
				t.Fatalf("the first read made changes: %+v", got)
			}

			// At Partner Center: one customer's seats change, another's subscription is suspended.
			grown := listed[estate.Customers[0].TenantID][0]
			suspended := listed[estate.Customers[1].TenantID][0]
			h.updateSubscription(map[string]any{"customerId": estate.Customers[0].TenantID,
				"subscriptionId": grown.ID, "quantity": grown.Quantity + 5})
			h.updateSubscription(map[string]any{"customerId": estate.Customers[1].TenantID,
				"subscriptionId": suspended.ID, "status": partnercenter.SubscriptionStatusSuspended})
			if r := h.global.Do("POST", "/v1/directory/sync", nil); r.Status != http.StatusAccepted {
				t.Fatalf("sync now: %d %s", r.Status, r.Body)
			}
			h.waitPass(2)
			changes := h.subscriptionChanges()
			byKind := map[string]string{}
			for _, c := range changes {
				byKind[c.Kind] = c.SubjectID
			}
			if len(changes) != 2 || byKind[models.ChangeSubscriptionChanged] != strings.ToLower(grown.ID) ||
				byKind[models.ChangeSubscriptionStatus] != strings.ToLower(suspended.ID) {
				t.Fatalf("the second pass's subscription changes: %+v", changes)
			}
			waitUntil(t, "the two changes are webhook events", func() bool { return h.webhookEvents(subscriber) == 2 })

			// The API shows the customer's subscriptions as the second pass read them.
			resp := h.global.Do("GET", "/v1/directory/"+estate.Customers[0].TenantID, nil)
			var detail struct {
				Subscriptions []struct {
					ID       string `json:"id"`
					Quantity int    `json:"quantity"`
				} `json:"subscriptions"`
				SubscriptionsRead struct {
					Pass int64 `json:"pass"`
				} `json:"subscriptionsRead"`
			}
			resp.JSON(t, &detail)
			found := false
			for _, s := range detail.Subscriptions {
				if s.ID == strings.ToLower(grown.ID) {
					found = s.Quantity == grown.Quantity+5
				}
			}
			if resp.Status != http.StatusOK || !found || detail.SubscriptionsRead.Pass != 2 {
				t.Fatalf("the customer's detail: %d %+v", resp.Status, detail)
			}

			// A third pass reads the same subscriptions: nothing new, no further event.
			if r := h.global.Do("POST", "/v1/directory/sync", nil); r.Status != http.StatusAccepted {
				t.Fatalf("sync now: %d %s", r.Status, r.Body)
			}
			h.waitPass(3)
			if got := h.subscriptionChanges(); len(got) != 2 {
				t.Fatalf("the third pass made subscription changes: %+v", got[2:])
			}
			if n := h.webhookEvents(subscriber); n != 2 {
				t.Fatalf("%d webhook events for 2 changes", n)
			}
			if dialect == models.DialectSQLite {
				// The first run: a whole pass with its subscriptions phase, the pause, and the next
				// pass's start.
				h.recordRunHistory(run.GetID(), run.GetRunID(), "estate_sync")
			}
		})
	}
}
