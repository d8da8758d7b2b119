package integration

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// reseller is the API's view of one partnership, as far as these tests read it.
type reseller struct {
	ID            string `json:"id"`
	Status        string `json:"status"`
	MPNID         string `json:"mpnId"`
	TenantID      string `json:"tenantId"`
	FailureCode   string `json:"failureCode"`
	FailureReason string `json:"failureReason"`
	LandingURL    string `json:"landingUrl"`
	WorkflowID    string `json:"workflowId"`
	Steps         []struct {
		Name   string `json:"name"`
		Detail string `json:"detail"`
	} `json:"steps"`
}

type removal struct {
	ID         string                `json:"id"`
	Status     string                `json:"status"`
	Recipients models.DeliveryCounts `json:"recipients"`
	Deliveries []struct {
		Recipient string `json:"recipient"`
		Status    string `json:"status"`
		Attempts  int    `json:"attempts"`
		LastError string `json:"lastError"`
	} `json:"deliveries"`
	Attestation struct {
		AttestedBy string `json:"attestedBy"`
		KeyID      string `json:"keyId"`
		ClientIP   string `json:"clientIp"`
	} `json:"attestation"`
}

// poll fetches path until ok says so, failing after a generous deadline that guards against a
// hang and measures nothing.
func poll[T any](h *harness, path, what string, ok func(T) bool) T {
	h.t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		var v T
		resp := h.global.Do("GET", path, nil)
		if resp.Status != http.StatusOK {
			h.t.Fatalf("GET %s: %d %s", path, resp.Status, resp.Body)
		}
		resp.JSON(h.t, &v)
		if ok(v) {
			return v
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s never became %s: %+v", path, what, v)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// simWorld is the simulator's whole world as its admin API lists it.
func (h *harness) simWorld() string {
	h.t.Helper()
	resp, err := http.Get(h.simURL + "/sim/tenants")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func TestResellerPartnershipAndRemovalThroughTheRealParts(t *testing.T) {
	for _, dialect := range dialects() {
		t.Run(dialect, func(t *testing.T) {
			mail := testsmtp.Start(t)
			h := assemble(
				t,
				dialect,
				workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond},
				mail.URL,
			)
			ctx := context.Background()

			// A seeded reseller that has not partnered yet: the request goes out in Italian.
			resp := h.api.Do("POST", "/v1/resellers", map[string]any{
				"email": "admin@proseware.onmicrosoft.com", "companyName": "Proseware Reseller", "language": "it",
			})
			if resp.Status != http.StatusCreated {
				t.Fatalf("create: %d %s", resp.Status, resp.Body)
			}
			var created reseller
			resp.JSON(t, &created)
			poll(h, "/v1/resellers/"+created.ID, "sent", func(r reseller) bool { return hasStep(r, "sent") })
			if got := mail.To("admin@proseware.onmicrosoft.com"); len(got) != 1 ||
				!strings.Contains(got[0].Raw, "/partner/") {
				t.Fatalf("the reseller must get one mail with its landing link: %+v", got)
			}
			if again := h.api.Do("POST", "/v1/resellers", map[string]any{
				"email": "admin@proseware.onmicrosoft.com", "companyName": "Proseware Reseller",
			}); again.Status != http.StatusConflict {
				t.Fatalf("a second open request must be refused: %d", again.Status)
			}
			// Naming it on an invitation before it is active is refused with the reason.
			refused := h.api.Do("POST", "/v1/invitations", map[string]any{
				"customerDomain": "contoso.onmicrosoft.com", "customerEmail": "admin@contoso.onmicrosoft.com",
				"roles": []string{"Helpdesk Administrator"}, "durationDays": 30,
				"indirectResellerId": "88888888-8888-4888-8888-888888888888",
			})
			if refused.Status != http.StatusBadRequest ||
				!strings.Contains(string(refused.Body), "indirectResellerId") {
				t.Fatalf("a reseller that is not active must not be named: %d %s", refused.Status, refused.Body)
			}

			// Its Global admin authorizes the provider in Partner Center; no webhook says so, the flow polls.
			if code, body := h.customerAction("authorize-provider", map[string]string{
				"resellerDomain": "proseware.onmicrosoft.com",
				"providerId":     sim.DefaultHomePartner.TenantID,
				"upn":            "admin@proseware.onmicrosoft.com",
			}); code != http.StatusOK {
				t.Fatalf("authorize: %d %s", code, body)
			}
			active := poll(h, "/v1/resellers/"+created.ID, "active", func(r reseller) bool {
				return r.Status == models.ResellerActive
			})
			if active.MPNID != "3456789" || active.TenantID != "88888888-8888-4888-8888-888888888888" ||
				!hasStep(active, "authorized") || !hasStep(active, "verified") {
				t.Fatalf("active reseller %+v", active)
			}
			if dialect == models.DialectSQLite {
				h.recordHistory(active.WorkflowID, "reseller_active")
			}

			// A partnered reseller without a signed agreement fails verification with 2203 and stays so.
			resp = h.api.Do("POST", "/v1/resellers", map[string]any{
				"email": "admin@litware.onmicrosoft.com", "companyName": "Litware Reseller", "mpnId": "2345678",
			})
			if resp.Status != http.StatusCreated {
				t.Fatalf("create litware: %d %s", resp.Status, resp.Body)
			}
			var lit reseller
			resp.JSON(t, &lit)
			failed := poll(h, "/v1/resellers/"+lit.ID, "verification_failed", func(r reseller) bool {
				return r.Status == models.ResellerVerificationFailed
			})
			if failed.FailureCode == "" || failed.FailureReason == "" {
				t.Fatalf("a failed verification names its code and reason: %+v", failed)
			}
			if v := h.api.Do("POST", "/v1/resellers/"+lit.ID+"/verify", nil); v.Status != http.StatusOK {
				t.Fatalf("verify again: %d %s", v.Status, v.Body)
			}
			if still := poll(h, "/v1/resellers/"+lit.ID, "still failed", func(r reseller) bool {
				return r.Status == models.ResellerVerificationFailed
			}); still.FailureCode != failed.FailureCode {
				t.Fatalf("re-verification of an unchanged reseller: %+v", still)
			}

			// Customers of the active reseller, one of whose mailboxes refuses mail for a while and one for good.
			customers, err := h.sim.AddResellerCustomers("88888888-8888-4888-8888-888888888888", 30)
			if err != nil {
				t.Fatal(err)
			}
			page, _, err := h.pc.ListResellerCustomers(ctx, "88888888-8888-4888-8888-888888888888", "")
			if err != nil || len(page) == 0 {
				t.Fatalf("list the reseller's customers: %d %v (%d created)", len(page), err, len(customers))
			}
			// The list carries no contact; each customer does.
			contact := func(id string) string {
				c, err := h.pc.GetCustomer(ctx, id)
				if err != nil || c.BillingProfile.Email == "" {
					t.Fatalf("customer %s: %+v %v", id, c, err)
				}
				return c.BillingProfile.Email
			}
			flaky, broken, steady := contact(page[0].ID), contact(page[1].ID), contact(page[2].ID)
			mail.Refuse(flaky)
			mail.Refuse(broken)
			before := h.simWorld()

			// The partner's own system subscribes; it fails twice, then recovers.
			receiver := newReceiver(t, 2)
			sub := h.global.Do("POST", "/v1/webhook-subscriptions", map[string]any{
				"url": receiver.URL, "events": []string{"reseller.removed", "removal.completed"},
			})
			if sub.Status != http.StatusCreated {
				t.Fatalf("subscribe: %d %s", sub.Status, sub.Body)
			}
			var subscription struct{ Secret string }
			sub.JSON(t, &subscription)
			receiver.setSecret(subscription.Secret)

			if r := h.global.Do("POST", "/v1/resellers/"+created.ID+"/removal", map[string]any{
				"attestedBy": "Ada Ops",
			}); r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), `"field":"attestation"`) {
				t.Fatalf("a removal without the attestation must be refused: %d %s", r.Status, r.Body)
			}
			adminAgent, _, err := h.store.CreateAPIKey(ctx, "admin-agent-only", models.RoleAdminAgent)
			if err != nil {
				t.Fatal(err)
			}
			if r := h.api.As(adminAgent).Do("POST", "/v1/resellers/"+created.ID+"/removal", map[string]any{
				"attestation": true, "attestedBy": "Ada Ops",
			}); r.Status != http.StatusForbidden {
				t.Fatalf("an admin agent does not work with resellers (seed 002): %d", r.Status)
			}
			// A sales agent may (seed 002: Global admin | Sales agent); h.api holds sales-agent.
			r := h.api.Do("POST", "/v1/resellers/"+created.ID+"/removal", map[string]any{
				"attestation": true, "attestedBy": "Ada Ops",
			})
			if r.Status != http.StatusAccepted {
				t.Fatalf("remove: %d %s", r.Status, r.Body)
			}
			var rm removal
			r.JSON(t, &rm)
			go func() {
				time.Sleep(300 * time.Millisecond)
				mail.Accept(flaky)
			}()
			done := poll(h, "/v1/removals/"+rm.ID, "completed", func(v removal) bool {
				return v.Status == models.RemovalCompleted
			})
			total := int64(len(page)) + 1
			if c := done.Recipients; c.Total < 31 || c.Failed != 1 || c.Delivered != c.Total-1 || c.Pending != 0 {
				t.Fatalf("recipients %+v (first page %d, want the reseller and 30 customers)", c, total)
			}
			if done.Attestation.AttestedBy != "Ada Ops" || done.Attestation.KeyID == "" ||
				done.Attestation.ClientIP == "" {
				t.Fatalf("the attestation is evidence: %+v", done.Attestation)
			}
			if dialect == models.DialectSQLite {
				h.recordHistory(workflows.RemovalWorkflowID(rm.ID), "removal_completed")
			}
			if h.simWorld() != before {
				t.Fatal("the removal changed the simulator's world: customers and delegated admin must stay untouched")
			}
			if rs := poll(h, "/v1/resellers/"+created.ID, "removed", func(r reseller) bool {
				return r.Status == models.ResellerRemoved
			}); !hasStep(rs, "removed") {
				t.Fatalf("the reseller's timeline must say it was removed: %+v", rs.Steps)
			}

			// The partner's system was told, each event once, signed, despite its first failures.
			deadline := time.Now().Add(30 * time.Second)
			for !receiver.has("reseller.removed", "removal.completed") {
				if time.Now().After(deadline) {
					t.Fatalf("the subscribed system got %v (refused %d)", receiver.accepted(), receiver.refusedCount())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if got := receiver.accepted(); len(got) != 2 || receiver.refusedCount() != 2 ||
				receiver.badSignatures() != 0 {
				t.Fatalf("accepted %v, refused %d, bad signatures %d",
					got, receiver.refusedCount(), receiver.badSignatures())
			}

			// The broken mailbox is fixed; the failed delivery is retried, and nobody hears twice.
			mail.Accept(broken)
			if r := h.global.Do("POST", "/v1/removals/"+rm.ID+"/retry", nil); r.Status != http.StatusAccepted {
				t.Fatalf("retry: %d %s", r.Status, r.Body)
			}
			again := poll(h, "/v1/removals/"+rm.ID, "all delivered", func(v removal) bool {
				return v.Status == models.RemovalCompleted && v.Recipients.Failed == 0 && v.Recipients.Pending == 0
			})
			if again.Recipients.Delivered != again.Recipients.Total {
				t.Fatalf("after the retry: %+v", again.Recipients)
			}
			for _, addr := range []string{"admin@proseware.onmicrosoft.com", flaky, broken, steady} {
				want := 1
				if addr == "admin@proseware.onmicrosoft.com" {
					want = 2 // the partnership request, then the removal
				}
				if got := mail.To(addr); len(got) != want {
					t.Errorf("%s got %d mails, want %d", addr, len(got), want)
				}
			}
		})
	}
}

func hasStep(r reseller, name string) bool {
	for _, s := range r.Steps {
		if s.Name == name {
			return true
		}
	}
	return false
}

// receiver is a partner's system taking webhooks: it checks each request's signature, refuses
// the first failFirst requests, and counts the events it accepted by delivery.
type receiver struct {
	*httptest.Server
	mu        sync.Mutex
	secret    string
	failFirst int
	refused   int
	badSig    int
	got       map[string]string // delivery ID -> event type
}

func newReceiver(t *testing.T, failFirst int) *receiver {
	r := &receiver{failFirst: failFirst, got: map[string]string{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		if err := notify.Verify(
			r.secret, req.Header.Get("Partnerflow-Signature"), body, time.Now(), 5*time.Minute,
		); err != nil {
			r.badSig++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		if r.refused < r.failFirst {
			r.refused++
			http.Error(w, "not now", http.StatusServiceUnavailable)
			return
		}
		id := req.Header.Get("Partnerflow-Delivery")
		if prev, seen := r.got[id]; seen {
			r.got[id] = prev + " (again)"
		} else {
			r.got[id] = req.Header.Get("Partnerflow-Event")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) accepted() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, ev := range r.got {
		out = append(out, ev)
	}
	sort.Strings(out)
	return out
}

func (r *receiver) has(types ...string) bool {
	got := r.accepted()
	for _, t := range types {
		if !slices.Contains(got, t) {
			return false
		}
	}
	return true
}

func (r *receiver) refusedCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused
}

func (r *receiver) badSignatures() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.badSig
}
