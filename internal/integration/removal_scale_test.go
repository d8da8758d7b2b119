package integration

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/workflows"
)

// The longest history any workflow of a removal may have: a batch's child sends 200 deliveries
// at 3 events each plus a workflow task (3 events) each time completions arrive, so at most 5 a
// delivery; the parent lists customers a page per activity and continues as new before
// workflows.DefaultContinueAsNewAfter events.
const (
	batchHistoryBound  = 5*200 + 30
	parentHistoryBound = workflows.DefaultContinueAsNewAfter + 50
)

// TestARemovalWithFiveThousandCustomers removes a reseller with 5,000 customers: every customer
// is told exactly once, and no workflow's history passes its bound. It runs on SQLite only (the
// PostgreSQL path is the same code, covered by the partnership test) and not with -short.
func TestARemovalWithFiveThousandCustomers(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the 5,000-customer removal takes a while")
	}
	const customers = 5000
	mail := testsmtp.Start(t)
	h := assemble(
		t,
		models.DialectSQLite,
		workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 200 * time.Millisecond},
		mail.URL,
	)
	ctx := context.Background()
	const adatum = "66666666-6666-4666-8666-666666666666"
	if _, err := h.sim.AddResellerCustomers(adatum, customers); err != nil {
		t.Fatal(err)
	}
	// Adatum has partnered already (seeded): the request finds it authorized at once.
	resp := h.api.Do("POST", "/v1/resellers", map[string]any{
		"email": "admin@adatum.onmicrosoft.com", "companyName": "Adatum Reseller", "mpnId": "1234567",
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.Status, resp.Body)
	}
	var r reseller
	resp.JSON(t, &r)
	poll(h, "/v1/resellers/"+r.ID, "active", func(v reseller) bool { return v.Status == models.ResellerActive })

	started := time.Now()
	resp = h.global.Do("POST", "/v1/resellers/"+r.ID+"/removal", map[string]any{
		"attestation": true, "attestedBy": "Ada Ops",
	})
	if resp.Status != http.StatusAccepted {
		t.Fatalf("remove: %d %s", resp.Status, resp.Body)
	}
	var rm removal
	resp.JSON(t, &rm)
	deadline := time.Now().Add(10 * time.Minute)
	var done removal
	for {
		g := h.global.Do("GET", "/v1/removals/"+rm.ID, nil)
		g.JSON(t, &done)
		if done.Status == models.RemovalCompleted {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the removal did not complete: %+v", done.Recipients)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("%d recipients told in %s", done.Recipients.Total, time.Since(started).Round(time.Millisecond))
	// The seeded world may hold more of Adatum's customers than the 5,000 added.
	if c := done.Recipients; c.Total < customers+1 || c.Delivered != c.Total || c.Failed != 0 || c.Pending != 0 {
		t.Fatalf("recipients %+v", c)
	}
	counts := map[string]int{}
	for _, m := range mail.Messages() {
		for _, to := range m.To {
			// the provider's contact hears of the verification
			if to = strings.ToLower(to); to != "ops@distributor.example" {
				counts[to]++
			}
		}
	}
	if int64(len(counts)) != done.Recipients.Total {
		t.Fatalf("%d addresses got mail, want %d", len(counts), done.Recipients.Total)
	}
	for addr, n := range counts {
		want := 1
		if addr == "admin@adatum.onmicrosoft.com" {
			want = 2 // the partnership request and the removal
		}
		if n != want {
			t.Fatalf("%s got %d mails, want %d", addr, n, want)
		}
	}

	// Every workflow of the removal stays within its bound.
	parent := historyLength(t, h, workflows.RemovalWorkflowID(rm.ID))
	if parent > parentHistoryBound {
		t.Fatalf("the removal's history has %d events, bound %d", parent, parentHistoryBound)
	}
	longest, batches := 0, 0
	var after int64
	for {
		page, next, err := h.store.ListDeliveries(ctx, models.KindRemoval, rm.ID, "", after, 200)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		n := historyLength(t, h, fmt.Sprintf("%s/batch/%d", workflows.RemovalWorkflowID(rm.ID), page[0].ID))
		longest, batches = max(longest, n), batches+1
		if next == 0 {
			break
		}
		after = next
	}
	if longest > batchHistoryBound || batches < customers/200 {
		t.Fatalf("%d batches, the longest history %d events (bound %d)", batches, longest, batchHistoryBound)
	}
	t.Logf("histories: removal %d events, %d batches, the longest %d events", parent, batches, longest)
}

func historyLength(t *testing.T, h *harness, workflowID string) int {
	t.Helper()
	iter := h.temporal.Client.GetWorkflowHistory(context.Background(), workflowID, "", false, 0)
	n := 0
	for iter.HasNext() {
		if _, err := iter.Next(); err != nil {
			t.Fatalf("history of %s: %v", workflowID, err)
		}
		n++
	}
	return n
}
