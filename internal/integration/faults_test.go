package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/partnercenter"
	"github.com/partnerflow/partnerflow/partnercenter/sim"
	"github.com/partnerflow/partnerflow/workflows"
)

// serviceCall is one call an activity made to Partner Center or Graph.
type serviceCall struct {
	// caller names the activity: its workflow run and activity ID; empty for calls made outside
	// an activity (the API's catalog check).
	caller   string
	attempt  int32
	op       string
	sent     time.Time
	answered time.Time
	// status is the answer's HTTP status, 0 when none came (a dropped connection).
	status     int
	retryAfter time.Duration
	// backoff is how long the activity's retry policy alone waits after this attempt; 0 when
	// unknown.
	backoff time.Duration
}

// callRecorder is the Partner Center client's transport: it passes every call on and notes who
// made it, when, and what came back.
type callRecorder struct {
	mu    sync.Mutex
	calls []serviceCall
	// dropped counts the activities' calls that got no answer; onDropped hears each new count.
	dropped   int
	onDropped func(n int)
}

func (r *callRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	c := serviceCall{op: req.Method + " " + req.URL.Path, sent: time.Now()}
	if ctx := req.Context(); activity.IsActivity(ctx) {
		info := activity.GetInfo(ctx)
		c.caller = info.WorkflowExecution.ID + " " + info.WorkflowExecution.RunID + " " +
			info.ActivityType.Name + " " + info.ActivityID
		c.attempt = info.Attempt
		if p := info.RetryPolicy; p != nil {
			c.backoff = min(
				time.Duration(float64(p.InitialInterval)*math.Pow(p.BackoffCoefficient, float64(info.Attempt-1))),
				p.MaximumInterval,
			)
		}
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	c.answered = time.Now()
	if err == nil {
		c.status = resp.StatusCode
		if s, convErr := strconv.Atoi(resp.Header.Get("Retry-After")); convErr == nil {
			c.retryAfter = time.Duration(s) * time.Second
		}
	}
	r.mu.Lock()
	r.calls = append(r.calls, c)
	var notify func()
	if err != nil && c.caller != "" && r.onDropped != nil {
		r.dropped++
		n, f := r.dropped, r.onDropped
		notify = func() { f(n) }
	}
	r.mu.Unlock()
	if notify != nil {
		notify()
	}
	return resp, err
}

// watchDrops calls f with the number of dropped calls after each one.
func (r *callRecorder) watchDrops(f func(n int)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.onDropped = f
}

func (r *callRecorder) snapshot() []serviceCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]serviceCall(nil), r.calls...)
}

// throttledRetry is an activity's 429 with Retry-After and the first call of its next attempt.
type throttledRetry struct {
	throttled serviceCall
	next      serviceCall
}

// throttledRetries pairs every 429 with Retry-After an activity got with the first call of that
// activity's next attempt, if there was one.
func throttledRetries(calls []serviceCall) []throttledRetry {
	var out []throttledRetry
	for _, c := range calls {
		if c.caller == "" || c.status != http.StatusTooManyRequests || c.retryAfter == 0 {
			continue
		}
		var next *serviceCall
		for i, n := range calls {
			if n.caller == c.caller && n.attempt > c.attempt && (next == nil || n.sent.Before(next.sent)) {
				next = &calls[i]
			}
		}
		if next != nil {
			out = append(out, throttledRetry{throttled: c, next: *next})
		}
	}
	return out
}

// TestEveryFlowCompletesOnceWhilePartnerCenterMisbehaves runs every kind of flow while the
// simulator answers 20% of the calls 429 with Retry-After, 10% of the rest 500, and drops the
// answer of some changes after making them. Every flow reaches its end, Partner Center holds one of
// everything a flow asked for, nobody is mailed twice, and no activity called again before the
// Retry-After it was given had passed.
func TestEveryFlowCompletesOnceWhilePartnerCenterMisbehaves(t *testing.T) {
	mail := testsmtp.Start(t)
	calls := &callRecorder{}
	h := assembleWith(
		t,
		models.DialectSQLite,
		workflows.WaitPolicy{Reminders: []time.Duration{72 * time.Hour}, PollEvery: 300 * time.Millisecond},
		mail.URL,
		calls,
	)
	ctx := context.Background()

	// The world before the faults: the reseller whose partnership is removed has a customer, who
	// is told of the removal. One only: the removal reads every customer of a page in one
	// activity, all or nothing, so under these faults each further customer is one more call that
	// must succeed in the same attempt (a page of 100 would practically never pass).
	const proseware = "88888888-8888-4888-8888-888888888888"
	if _, err := h.sim.AddResellerCustomers(proseware, 1); err != nil {
		t.Fatal(err)
	}
	resellerCustomers, _, err := h.pc.ListResellerCustomers(ctx, proseware, "")
	if err != nil || len(resellerCustomers) != 1 {
		t.Fatalf("the reseller's customers: %d %v", len(resellerCustomers), err)
	}
	var customerContacts []string
	for _, c := range resellerCustomers {
		full, err := h.pc.GetCustomer(ctx, c.ID)
		if err != nil || full.BillingProfile.Email == "" {
			t.Fatalf("customer %s: %+v %v", c.ID, full, err)
		}
		customerContacts = append(customerContacts, full.BillingProfile.Email)
	}
	if before := h.gdapIDs(); len(before) != 0 {
		t.Fatalf("the world starts with GDAP relationships: %v", before)
	}

	// Longer than the first wait of the activities' own retry policy, so that a first retry
	// that came no earlier shows the wait came from Retry-After.
	const retryAfter = 3 * time.Second
	// Half the changes lose their answers until two have (so that every run sees some), then one
	// in ten.
	faults := sim.Faults{
		Rate429:            0.2,
		RetryAfterSeconds:  int(retryAfter / time.Second),
		Rate500:            0.1,
		DropAfterWriteRate: 0.5,
	}
	calls.watchDrops(func(n int) {
		if n == 2 {
			steady := faults
			steady.DropAfterWriteRate = 0.1
			h.sim.SetFaults(steady)
		}
	})
	h.sim.SetFaults(faults)
	started := time.Now()

	// Two invitations, two reseller partnerships, then an onboarding through one reseller and
	// the removal of the other.
	domains := []string{"contoso.onmicrosoft.com", "fabrikam.onmicrosoft.com"}
	var invitations []invitation
	for _, domain := range domains {
		invitations = append(invitations, h.invite(map[string]any{
			"customerDomain": domain, "customerEmail": "admin@" + domain,
			"roles": []string{"Helpdesk Administrator"}, "durationDays": 90,
		}))
	}
	adatum := h.createReseller(map[string]any{
		"email": "admin@adatum.onmicrosoft.com", "companyName": "Adatum Reseller", "mpnId": "1234567",
	})
	prose := h.createReseller(map[string]any{
		"email": "admin@proseware.onmicrosoft.com", "companyName": "Proseware Reseller",
	})

	for i, inv := range invitations {
		domain := domains[i]
		sent := awaitFaulty(h, "/v1/invitations/"+inv.ID, "sent", func(i invitation) bool {
			return i.has("sent") && i.GDAPRelationshipID != ""
		})
		h.mustAct("accept-reseller", map[string]string{
			"domain": domain, "partnerId": sim.DefaultHomePartner.TenantID, "upn": "admin@" + domain,
		})
		h.mustAct("approve-gdap", map[string]string{
			"relationshipId": sent.GDAPRelationshipID, "upn": "admin@" + domain,
		})
	}
	awaitFaulty(h, "/v1/resellers/"+prose.ID, "sent", func(r reseller) bool { return hasStep(r, "sent") })
	h.mustAct("authorize-provider", map[string]string{
		"resellerDomain": "proseware.onmicrosoft.com",
		"providerId":     sim.DefaultHomePartner.TenantID,
		"upn":            "admin@proseware.onmicrosoft.com",
	})
	awaitFaulty(h, "/v1/resellers/"+adatum.ID, "active", func(r reseller) bool {
		return r.Status == models.ResellerActive
	})

	prefix := fmt.Sprintf("faults%d", time.Now().UnixNano()%100000)
	resp := h.api.Do("POST", "/v1/customers", map[string]any{
		"companyName": "Faulty Networks Ltd", "domainPrefix": prefix, "country": "US", "language": "en",
		"contact":    map[string]any{"firstName": "Fay", "lastName": "Ult", "email": "fay@faulty.example"},
		"address":    map[string]any{"line1": "1 Main St", "city": "Redmond", "state": "WA", "postalCode": "98052"},
		"resellerId": adatum.ID, "supportContact": true,
		"products": []map[string]any{{
			"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
			"quantity":      4,
			"billingCycle":  "monthly",
			"termDuration":  "P1M",
		}},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("onboard: %d %s", resp.Status, resp.Body)
	}
	var created onboarding
	resp.JSON(t, &created)
	onboardingPath := "/v1/customers/" + created.ID

	awaitFaulty(h, "/v1/resellers/"+prose.ID, "active", func(r reseller) bool {
		return r.Status == models.ResellerActive
	})
	r := h.global.Do("POST", "/v1/resellers/"+prose.ID+"/removal", map[string]any{
		"attestation": true, "attestedBy": "Ada Ops",
	})
	if r.Status != http.StatusAccepted {
		t.Fatalf("remove: %d %s", r.Status, r.Body)
	}
	var rm removal
	r.JSON(t, &rm)

	awaitFaulty(h, onboardingPath, "awaiting the agreement", func(v onboarding) bool {
		return v.Status == models.OnboardingAwaitingAgreement
	})
	if a := h.api.Do("POST", onboardingPath+"/agreement", map[string]any{
		"primaryContact": map[string]any{"firstName": "Fay", "lastName": "Ult", "email": "fay@faulty.example"},
		"dateAgreed":     "2026-01-31",
	}); a.Status != http.StatusOK {
		t.Fatalf("attest: %d %s", a.Status, a.Body)
	}
	awaitFaulty(h, onboardingPath, "review", func(v onboarding) bool { return v.Status == models.OnboardingReview })
	if c := h.api.Do("POST", onboardingPath+"/cart/checkout", nil); c.Status != http.StatusOK {
		t.Fatalf("checkout: %d %s", c.Status, c.Body)
	}

	// Every flow reaches its end.
	done := awaitFaulty(h, onboardingPath, "completed", func(v onboarding) bool {
		return v.Status == models.OnboardingCompleted || v.Status == models.OnboardingFailed
	})
	if done.Status != models.OnboardingCompleted || len(done.Subscriptions) != 1 ||
		done.Subscriptions[0].PartnerID != "1234567" {
		t.Fatalf("onboarding: %+v", done)
	}
	for i, inv := range invitations {
		invitations[i] = awaitFaulty(h, "/v1/invitations/"+inv.ID, "active", func(i invitation) bool {
			return i.Status == models.InvitationActive || i.Status == models.InvitationFailed
		})
		if invitations[i].Status != models.InvitationActive {
			t.Fatalf("invitation: %+v", invitations[i])
		}
	}
	removed := awaitFaulty(h, "/v1/removals/"+rm.ID, "completed", func(v removal) bool {
		return v.Status == models.RemovalCompleted
	})
	if c := removed.Recipients; c.Total != 2 || c.Delivered != 2 {
		t.Fatalf("the removal's recipients: %+v", c)
	}
	awaitFaulty(h, "/v1/resellers/"+prose.ID, "removed", func(r reseller) bool {
		return r.Status == models.ResellerRemoved
	})
	if a := awaitFaulty(
		h, "/v1/resellers/"+adatum.ID, "active", func(r reseller) bool { return true },
	); a.Status != models.ResellerActive {
		t.Fatalf("the other reseller: %+v", a)
	}
	t.Logf("every flow ended %s after the faults began", time.Since(started).Round(time.Second))
	h.sim.SetFaults(sim.Faults{})

	// Partner Center holds one of everything each flow asked for.
	if n := strings.Count(h.simWorld(), `"`+prefix+`.onmicrosoft.com"`); n != 1 {
		t.Errorf("the simulator holds %d tenants named %s.onmicrosoft.com, want 1", n, prefix)
	}
	gdap := h.gdapIDs()
	sort.Strings(gdap)
	want := []string{invitations[0].GDAPRelationshipID, invitations[1].GDAPRelationshipID}
	sort.Strings(want)
	if strings.Join(gdap, ",") != strings.Join(want, ",") {
		t.Errorf("GDAP relationships %v, want exactly the invitations' %v", gdap, want)
	}
	for _, id := range want {
		as, err := h.pc.ListAccessAssignments(ctx, id)
		if err != nil || len(as) != 1 {
			t.Errorf("relationship %s has %d access assignments (%v), want 1", id, len(as), err)
		}
	}
	agreements, err := h.pc.ListCustomerAgreements(ctx, done.CustomerTenantID)
	if err != nil || len(agreements) != 1 {
		t.Errorf("the new customer has %d attested agreements (%v), want 1", len(agreements), err)
	}
	subs, err := h.pc.ListSubscriptions(ctx, done.CustomerTenantID)
	if err != nil || len(subs) != 1 || subs[0].Quantity != 4 {
		t.Errorf("the new customer's subscriptions: %+v %v, want one order's one subscription of 4", subs, err)
	}

	// Each timeline holds each step once.
	for _, path := range []string{"/v1/invitations/" + invitations[0].ID, "/v1/invitations/" + invitations[1].ID,
		"/v1/resellers/" + adatum.ID, "/v1/resellers/" + prose.ID, onboardingPath} {
		var v struct {
			Steps []struct {
				Name string `json:"name"`
			} `json:"steps"`
		}
		h.global.Do("GET", path, nil).JSON(t, &v)
		seen := map[string]int{}
		for _, s := range v.Steps {
			seen[s.Name]++
		}
		for name, n := range seen {
			if n > 1 {
				t.Errorf("%s has step %s %d times", path, name, n)
			}
		}
	}

	// Nobody was mailed twice.
	wantMails := map[string]int{
		"admin@contoso.onmicrosoft.com":   1,
		"admin@fabrikam.onmicrosoft.com":  1,
		"admin@proseware.onmicrosoft.com": 2, // the partnership request, then its removal
		"admin@adatum.onmicrosoft.com":    1, // the partnership request
		"fay@faulty.example":              1, // the agreement
		"ops@distributor.example":         2, // each reseller verified
	}
	for _, c := range customerContacts {
		wantMails[c] = 1
	}
	got := map[string][]string{}
	for _, m := range mail.Messages() {
		for _, to := range m.To {
			got[strings.ToLower(to)] = append(got[strings.ToLower(to)], m.Subject)
		}
	}
	for addr, subjects := range got {
		if len(subjects) != wantMails[addr] {
			t.Errorf("%s got %d mails %q, want %d", addr, len(subjects), subjects, wantMails[addr])
		}
	}
	for addr, n := range wantMails {
		if len(got[addr]) == 0 && n > 0 {
			t.Errorf("%s got no mail, want %d", addr, n)
		}
	}

	// The faults happened, the retries with them, and every retry after a 429 waited as long as
	// Partner Center asked, also where the retry policy alone would have waited less.
	recorded := calls.snapshot()
	statuses := map[int]int{}
	for _, c := range recorded {
		if c.caller != "" {
			statuses[c.status]++
		}
	}
	retries := throttledRetries(recorded)
	var most serviceCall
	for _, c := range recorded {
		if c.attempt > most.attempt {
			most = c
		}
	}
	t.Logf("the most attempts one activity took: %d (%s)", most.attempt, most.caller)
	t.Logf("activities' calls by answer (0: dropped): %v; %d retries after a 429", statuses, len(retries))
	if statuses[http.StatusTooManyRequests] == 0 || statuses[http.StatusInternalServerError] == 0 || statuses[0] == 0 {
		t.Fatalf("the faults never hit the flows: %v", statuses)
	}
	telling := 0
	for _, r := range retries {
		if r.throttled.backoff > 0 && r.throttled.backoff < r.throttled.retryAfter {
			telling++
		}
	}
	if telling == 0 {
		t.Fatalf("%d of %d retries after a 429 were due before Retry-After by the retry policy; "+
			"the check below would prove little", telling, len(retries))
	}
	shortest := time.Hour
	for _, r := range retries {
		wait := r.next.sent.Sub(r.throttled.answered)
		shortest = min(shortest, wait)
		if wait < r.throttled.retryAfter {
			t.Errorf("%s: %s was answered 429 with Retry-After %s, and attempt %d called %s %s later",
				r.throttled.caller, r.throttled.op, r.throttled.retryAfter, r.next.attempt, r.next.op, wait)
		}
	}
	t.Logf("the shortest wait after a 429 with Retry-After %s was %s; "+
		"%d retries would have come sooner by the retry policy alone",
		retryAfter, shortest.Round(time.Millisecond), telling)
}

// awaitFaulty fetches path until ok says so. Its deadline guards against a hang and measures
// nothing; it is long because under these faults an activity may fail several attempts running,
// and the retry policy's waits double (1 s, 2 s, 4 s, ... up to a minute).
func awaitFaulty[T any](h *harness, path, what string, ok func(T) bool) T {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Minute)
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
		time.Sleep(200 * time.Millisecond)
	}
}

func (h *harness) createReseller(body map[string]any) reseller {
	h.t.Helper()
	resp := h.api.Do("POST", "/v1/resellers", body)
	if resp.Status != http.StatusCreated {
		h.t.Fatalf("reseller: %d %s", resp.Status, resp.Body)
	}
	var r reseller
	resp.JSON(h.t, &r)
	return r
}

// mustAct performs a click "at Microsoft" that has to succeed.
func (h *harness) mustAct(action string, body map[string]string) {
	h.t.Helper()
	if code, out := h.customerAction(action, body); code != http.StatusOK {
		h.t.Fatalf("%s: %d %s", action, code, out)
	}
}

// gdapIDs lists the IDs of the GDAP relationships the simulator holds for the partner; call it
// without faults.
func (h *harness) gdapIDs() []string {
	h.t.Helper()
	req, _ := http.NewRequest("GET", h.simURL+"/v1.0/tenantRelationships/delegatedAdminRelationships", nil)
	req.Header.Set("Authorization", "Bearer "+h.graphToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var list partnercenter.GraphCollection[partnercenter.GDAPRelationship]
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&list) != nil {
		h.t.Fatalf("list GDAP relationships: %d", resp.StatusCode)
	}
	ids := make([]string, 0, len(list.Value))
	for _, r := range list.Value {
		ids = append(ids, r.ID)
	}
	return ids
}
