package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/partnerflow/partnerflow/internal/testsmtp"
	"github.com/partnerflow/partnerflow/models"
	"github.com/partnerflow/partnerflow/notify"
)

// TestEveryFlowSurvivesSIGKILL runs flows of every kind on the built binary's `dev`, as a user
// would, and kills the process with SIGKILL at random moments several times, restarting it on
// the same data directory each time. Every flow must reach its correct end; the simulator must
// hold exactly one GDAP relationship, tenant, attestation and subscription per flow that asked
// for one; no logical mail or webhook may be sent twice. Afterwards every secret the run issued
// (API keys, a session, customer link tokens, a tenant's password, a webhook secret) is searched
// for in Temporal's database files, the app and simulator databases and the process's output.
//
// The seed of the kill moments is logged; PARTNERFLOW_CRASH_SEED is not read (config is the only
// reader of the environment), so rerun a failure with -run and compare the logged moments.
func TestEveryFlowSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("the crash suite runs the binary for minutes")
	}
	mail := testsmtp.Start(t)
	hooks := newHookLog(t)
	dataDir := t.TempDir()
	env := devEnv(t, dataDir, "SMTP_URL="+mail.URL, "PARTNERFLOW_WEBHOOK_ALLOW_PRIVATE=true")
	p := startDev(t, dataDir, env)
	var output []string // every incarnation's output, for the secret scan

	w := newCrashWorld(t, p)
	w.subscribe(hooks)

	// Each incarnation starts a wave of new flows and is killed while they run.
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed>>7))
	t.Logf("kill seed %d", seed)
	const kills = crashWaves
	for k := 0; k < kills; k++ {
		w.createFlows(k)
		alive := time.Duration(800+rng.IntN(3500)) * time.Millisecond
		w.driveFor(alive)
		w.collectTokens()
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		output = append(output, p.output.String())
		t.Logf("SIGKILL %d after %v: %s", k+1, alive.Round(time.Millisecond), w.progress())
		p = startDev(t, dataDir, env)
		w.p = p
	}
	if !w.driveUntilDone(4 * time.Minute) {
		t.Fatalf("flows did not reach their end after %d kills: %s", kills, w.progress())
	}
	t.Logf("all flows ended: %s", w.progress())

	w.checkSimulator()
	checkMailOnce(t, mail)
	hooks.checkOnce(t)

	// Secrets a user gets from partnerflow, then the scan.
	secrets := w.issueSecrets(mail)
	p.stop()
	output = append(output, p.output.String())
	scanForSecrets(t, dataDir, strings.Join(output, "\n"), secrets, p.key)
}

// crashWorld is the set of flows the crash test drives, and where each stands.
type crashWorld struct {
	t           *testing.T
	p           *devProcess
	invitations []*crashFlow
	resellers   []*crashFlow
	customers   []*crashFlow
	removal     *crashFlow
	// resellerCustomers are the contacts of the removed reseller's customers.
	resellerCustomers []string
	// refreshTokens and accessTokens are what the simulator, Entra ID's stand-in, issued to each
	// incarnation of dev (it keeps them in memory only, so they are collected before each kill).
	refreshTokens, accessTokens map[string]bool
}

// collectTokens adds the tokens the running simulator issued so far.
func (w *crashWorld) collectTokens() {
	w.t.Helper()
	var issued struct{ AccessTokens, RefreshTokens []string }
	resp, err := http.Get(w.p.sim + "/sim/tokens/issued")
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&issued); err != nil {
		w.t.Fatal(err)
	}
	if w.refreshTokens == nil {
		w.refreshTokens, w.accessTokens = map[string]bool{}, map[string]bool{}
	}
	for _, rt := range issued.RefreshTokens {
		w.refreshTokens[rt] = true
	}
	for _, at := range issued.AccessTokens {
		w.accessTokens[at] = true
	}
}

// crashWaves is how many times dev is killed; flows are started in as many waves.
const crashWaves = 5

// crashFlow is one flow: its API path, the actions already done, and its final status once seen.
type crashFlow struct {
	path   string // "/v1/invitations/<id>"
	wave   int    // the incarnation of dev that starts it
	domain string
	done   map[string]bool
	status string
	view   map[string]any
}

func (f *crashFlow) ended(want string) bool { return f.status == want }

func newCrashWorld(t *testing.T, p *devProcess) *crashWorld {
	w := &crashWorld{t: t, p: p}
	for i := range 6 {
		domain := fmt.Sprintf("crash%d.onmicrosoft.com", i)
		w.simAdd("/sim/tenants", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Crash %d", i),
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		w.invitations = append(w.invitations, &crashFlow{domain: domain, wave: i % crashWaves, done: map[string]bool{}})
	}
	for i := range 2 {
		domain := fmt.Sprintf("crashreseller%d.onmicrosoft.com", i)
		tenant := w.simAdd("/sim/partners", map[string]any{
			"domain": domain, "country": "US", "companyName": fmt.Sprintf("Crash Reseller %d", i),
			"mpnId": fmt.Sprintf("55500%02d", i), "agreementSigned": true,
			"users": []map[string]any{{"upn": "admin@" + domain, "globalAdmin": true}},
		})
		if i == 0 { // the reseller that is removed has customers to tell
			for j := range 3 {
				email := fmt.Sprintf("owner%d@crashresold%d.example", j, j)
				w.simAdd("/sim/tenants", map[string]any{
					"domain": fmt.Sprintf("crashresold%d.onmicrosoft.com", j), "country": "US",
					"companyName":         fmt.Sprintf("Resold %d", j),
					"associatedPartnerId": tenant, "relationshipToPartner": "reseller", "email": email,
					"users": []map[string]any{{
						"upn": fmt.Sprintf("admin@crashresold%d.onmicrosoft.com", j), "globalAdmin": true,
					}},
				})
				w.resellerCustomers = append(w.resellerCustomers, email)
			}
		}
		w.resellers = append(w.resellers, &crashFlow{domain: domain, wave: i, done: map[string]bool{}})
	}
	for i := range 3 {
		w.customers = append(w.customers, &crashFlow{
			domain: fmt.Sprintf("crashnew%d", i),
			wave:   1 + i,
			done:   map[string]bool{},
		})
	}
	return w
}

// simAdd creates a tenant or partner in the simulator and returns its tenant ID.
func (w *crashWorld) simAdd(path string, body map[string]any) string {
	w.t.Helper()
	code, out := w.try("POST", w.p.sim+path, body, false)
	if code != http.StatusCreated {
		w.t.Fatalf("%s: %d %s", path, code, out)
	}
	var v struct{ TenantID string }
	_ = json.Unmarshal(out, &v)
	return v.TenantID
}

// try makes one call and reports a dead server as status 0 instead of failing: dev may be down.
func (w *crashWorld) try(method, url string, body any, auth bool) (int, []byte) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		w.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+w.p.key)
	}
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}

func (w *crashWorld) api(method, path string, body any) (int, []byte) {
	return w.try(method, w.p.api+path, body, true)
}

// create posts a new flow and keeps its path. Flows are created right after dev is ready and
// before it is killed, so a lost answer is not ambiguous.
func (w *crashWorld) create(f *crashFlow, collection string, body any) {
	w.t.Helper()
	code, out := w.api("POST", collection, body)
	if code != http.StatusCreated {
		w.t.Fatalf("POST %s: %d %s", collection, code, out)
	}
	var v struct{ ID string }
	_ = json.Unmarshal(out, &v)
	f.path = collection + "/" + v.ID
}

func (w *crashWorld) subscribe(h *hookLog) {
	w.t.Helper()
	code, out := w.api("POST", "/v1/webhook-subscriptions", map[string]any{"url": h.URL, "events": []string{"*"}})
	if code != http.StatusCreated {
		w.t.Fatalf("subscribe: %d %s", code, out)
	}
	var v struct{ Secret string }
	_ = json.Unmarshal(out, &v)
	h.setSecret(v.Secret)
}

// createFlows starts the flows of one wave.
func (w *crashWorld) createFlows(wave int) {
	for _, f := range w.invitations {
		if f.wave != wave {
			continue
		}
		w.create(f, "/v1/invitations", map[string]any{"customerDomain": f.domain, "customerEmail": "admin@" + f.domain,
			"roles": []string{"Helpdesk Administrator"}, "durationDays": 90})
	}
	for i, f := range w.resellers {
		if f.wave != wave {
			continue
		}
		w.create(f, "/v1/resellers", map[string]any{
			"email": "admin@" + f.domain, "companyName": fmt.Sprintf("Crash Reseller %d", i),
			"mpnId": fmt.Sprintf("55500%02d", i),
		})
	}
	for i, f := range w.customers {
		if f.wave != wave {
			continue
		}
		w.create(f, "/v1/customers", map[string]any{
			"companyName": fmt.Sprintf("Crash New %d", i), "domainPrefix": f.domain, "country": "TR", "language": "tr",
			"registrationNumber": "1234567890",
			"contact": map[string]any{
				"firstName": "Ayşe", "lastName": "Yılmaz", "email": fmt.Sprintf("ayse@crashnew%d.example", i),
			},
			"address": map[string]any{"line1": "İstiklal Caddesi 1", "city": "İstanbul", "postalCode": "34433"},
			"products": []map[string]any{{
				"catalogItemId": "CFQ7TTC0LFLZ:0002:CFQ7TTC0K4TS",
				"quantity":      2,
				"billingCycle":  "monthly",
				"termDuration":  "P1M",
			}},
		})
	}
}

// refresh reads a flow; false when dev does not answer.
func (w *crashWorld) refresh(f *crashFlow) bool {
	if f.path == "" {
		return false
	}
	code, out := w.api("GET", f.path, nil)
	if code != http.StatusOK {
		return false
	}
	f.view = map[string]any{}
	if err := json.Unmarshal(out, &f.view); err != nil {
		w.t.Fatalf("GET %s: %v %s", f.path, err, out)
	}
	f.status, _ = f.view["status"].(string)
	return true
}

func hasStep(view map[string]any, name string) bool {
	steps, _ := view["steps"].([]any)
	for _, s := range steps {
		if m, _ := s.(map[string]any); m["name"] == name {
			return true
		}
	}
	return false
}

// act does a customer's or operator's action once: an answer that shows it was done before
// (409) counts as done, a dead server is tried again on the next pass.
func (w *crashWorld) act(f *crashFlow, name string, call func() (int, []byte)) {
	if f.done[name] {
		return
	}
	code, out := call()
	switch {
	case code >= 200 && code < 300, code == http.StatusConflict:
		f.done[name] = true
	case code == 0, code >= 500:
	default:
		w.t.Fatalf("%s on %s: %d %s", name, f.path, code, out)
	}
}

// acceptInvitation has an invitation's customer accept the reseller relationship, then approve
// the GDAP relationship, once the invitation has sent them.
func (w *crashWorld) acceptInvitation(f *crashFlow) {
	if !w.refresh(f) || f.status == models.InvitationActive {
		return
	}
	gdap, _ := f.view["gdapRelationshipId"].(string)
	if !hasStep(f.view, "sent") || gdap == "" {
		return
	}
	upn := "admin@" + f.domain
	w.act(f, "accept-reseller", func() (int, []byte) {
		return w.try(
			"POST",
			w.p.sim+"/sim/customer-actions/accept-reseller",
			map[string]string{"domain": f.domain, "partnerId": simPartnerID, "upn": upn},
			false,
		)
	})
	if f.done["accept-reseller"] {
		w.act(f, "approve-gdap", func() (int, []byte) {
			return w.try(
				"POST",
				w.p.sim+"/sim/customer-actions/approve-gdap",
				map[string]string{"relationshipId": gdap, "upn": upn},
				false,
			)
		})
	}
}

// pass moves every flow one step forward where a person's action is due.
func (w *crashWorld) pass() {
	for _, f := range w.invitations {
		w.acceptInvitation(f)
	}
	for i, f := range w.resellers {
		if !w.refresh(f) {
			continue
		}
		if hasStep(f.view, "sent") {
			w.act(f, "authorize-provider", func() (int, []byte) {
				return w.try(
					"POST",
					w.p.sim+"/sim/customer-actions/authorize-provider",
					map[string]string{
						"resellerDomain": f.domain, "providerId": simPartnerID, "upn": "admin@" + f.domain,
					},
					false,
				)
			})
		}
		if i == 0 && f.status == models.ResellerActive && w.removal == nil {
			code, out := w.api("POST", f.path+"/removal", map[string]any{
				"attestation": true, "attestedBy": "Crash Ops",
			})
			switch code {
			case http.StatusAccepted:
				var v struct{ ID string }
				_ = json.Unmarshal(out, &v)
				w.removal = &crashFlow{path: "/v1/removals/" + v.ID, done: map[string]bool{}}
			case 0, http.StatusServiceUnavailable, http.StatusInternalServerError:
			default:
				w.t.Fatalf("removal: %d %s", code, out)
			}
		}
	}
	if w.removal != nil {
		w.refresh(w.removal)
	} else if r := w.resellers[0]; r.status == models.ResellerRemoved {
		w.findRemoval(r)
	}
	for _, f := range w.customers {
		if !w.refresh(f) {
			continue
		}
		switch f.status {
		case models.OnboardingAwaitingAgreement:
			w.act(f, "attest", func() (int, []byte) {
				return w.api("POST", f.path+"/agreement", map[string]any{
					"primaryContact": map[string]any{
						"firstName": "Ayşe", "lastName": "Yılmaz", "email": "ayse@" + f.domain + ".example",
					},
					"dateAgreed": time.Now().UTC().Format("2006-01-02"),
				})
			})
		case models.OnboardingReview:
			w.act(f, "checkout", func() (int, []byte) { return w.api("POST", f.path+"/cart/checkout", nil) })
		}
	}
}

// findRemoval finds the removal whose creating call's answer was lost to a kill.
func (w *crashWorld) findRemoval(r *crashFlow) {
	code, out := w.api("GET", "/v1/removals", nil)
	if code != http.StatusOK {
		return
	}
	var list struct {
		Items []struct{ ID, ResellerID string } `json:"items"`
	}
	_ = json.Unmarshal(out, &list)
	for _, it := range list.Items {
		if strings.HasSuffix(r.path, "/"+it.ResellerID) {
			w.removal = &crashFlow{path: "/v1/removals/" + it.ID, done: map[string]bool{}}
		}
	}
}

func (w *crashWorld) allDone() bool {
	for _, f := range w.invitations {
		if !f.ended(models.InvitationActive) {
			return false
		}
	}
	if !w.resellers[0].ended(models.ResellerRemoved) || !w.resellers[1].ended(models.ResellerActive) {
		return false
	}
	for _, f := range w.customers {
		if !f.ended(models.OnboardingCompleted) {
			return false
		}
	}
	return w.removal != nil && w.removal.ended(models.RemovalCompleted)
}

func (w *crashWorld) driveFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		w.pass()
		time.Sleep(150 * time.Millisecond)
	}
}

func (w *crashWorld) driveUntilDone(d time.Duration) bool {
	for end := time.Now().Add(d); time.Now().Before(end); {
		w.pass()
		if w.allDone() {
			return true
		}
		time.Sleep(300 * time.Millisecond)
	}
	return false
}

func (w *crashWorld) progress() string {
	count := func(fs []*crashFlow) string {
		by := map[string]int{}
		for _, f := range fs {
			by[f.status]++
		}
		return fmt.Sprint(by)
	}
	removal := "not started"
	if w.removal != nil {
		removal = w.removal.status
	}
	return fmt.Sprintf("invitations %s, resellers %s, customers %s, removal %s",
		count(w.invitations), count(w.resellers), count(w.customers), removal)
}

// graphList reads a collection of the simulator's Microsoft Graph or Partner Center API.
func (w *crashWorld) simList(path string, v any) {
	w.t.Helper()
	req, _ := http.NewRequest("GET", w.p.sim+path, nil)
	req.Header.Set("Authorization", "Bearer "+simToken(w.t, w.p.sim, path))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		w.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, out)
	}
	if err := json.Unmarshal(out, v); err != nil {
		w.t.Fatalf("GET %s: %v", path, err)
	}
}

// checkSimulator counts, in the simulator's world, what each flow asked Partner Center for.
func (w *crashWorld) checkSimulator() {
	w.t.Helper()
	w.checkFlows()
	recipients, _ := w.removal.view["recipients"].(map[string]any)
	if recipients["pending"] != float64(0) || recipients["failed"] != float64(0) ||
		recipients["delivered"] != recipients["total"] ||
		recipients["total"] != float64(1+len(w.resellerCustomers)) {
		w.t.Errorf("removal recipients %v, want the reseller and its %d customers all delivered",
			recipients, len(w.resellerCustomers))
	}
}

// checkFlows holds one GDAP relationship per invitation's tenant, and one tenant, agreement
// and subscription per onboarding.
func (w *crashWorld) checkFlows() {
	w.t.Helper()
	var gdap struct {
		Value []struct {
			ID       string `json:"id"`
			Customer struct {
				TenantID string `json:"tenantId"`
			} `json:"customer"`
			Status string `json:"status"`
		} `json:"value"`
	}
	w.simList("/v1.0/tenantRelationships/delegatedAdminRelationships", &gdap)
	perTenant := map[string]int{}
	for _, g := range gdap.Value {
		perTenant[g.Customer.TenantID]++
	}
	for _, f := range w.invitations {
		tenant, _ := f.view["customerTenantId"].(string)
		if tenant == "" {
			w.t.Fatalf("active invitation %s names no customer tenant: %v", f.path, f.view)
		}
		if perTenant[tenant] != 1 {
			w.t.Errorf("invitation %s: %d GDAP relationships for tenant %s, want 1", f.path, perTenant[tenant], tenant)
		}
	}
	for _, f := range w.customers {
		var customers struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		filter := fmt.Sprintf(`{"Field":"Domain","Value":%q,"Operator":"starts_with"}`, f.domain+".")
		w.simList("/v1/customers?filter="+url.QueryEscape(filter), &customers)
		var tenants []string
		for _, c := range customers.Items {
			tenants = append(tenants, c.ID)
		}
		if len(tenants) != 1 {
			w.t.Errorf("onboarding %s: %d tenants with the prefix %s, want 1", f.path, len(tenants), f.domain)
			continue
		}
		var agreements, subscriptions struct {
			Items []json.RawMessage `json:"items"`
		}
		w.simList("/v1/customers/"+tenants[0]+"/agreements", &agreements)
		w.simList("/v1/customers/"+tenants[0]+"/subscriptions", &subscriptions)
		if len(agreements.Items) != 1 || len(subscriptions.Items) != 1 {
			w.t.Errorf("onboarding %s: %d attestations and %d subscriptions, want 1 and 1",
				f.path, len(agreements.Items), len(subscriptions.Items))
		}
	}
}

// checkMailOnce holds that each logical message (its Message-ID) went to one mailbox, that no
// mailbox got two different messages of one kind, and that no message was delivered twice.
func checkMailOnce(t *testing.T, mail *testsmtp.Server) {
	t.Helper()
	if _, redelivered := checkMailLogicallyOnce(t, mail); redelivered > 0 {
		t.Errorf("%d messages were delivered more than once", redelivered)
	}
}

// checkMailLogicallyOnce holds that no mailbox got two different messages of one kind, and
// says how many messages there were and how many were delivered again under their Message-ID:
// what a crash after the mail server accepted and before the outbox recorded it does (README
// "Reliability").
func checkMailLogicallyOnce(t *testing.T, mail *testsmtp.Server) (messages, redelivered int) {
	t.Helper()
	byID := map[string]int{}
	byTo := map[string]map[string]bool{} // recipient+subject → Message-IDs
	for _, m := range mail.Messages() {
		id := header(m.Raw, "Message-Id")
		if id == "" {
			t.Fatalf("a mail without a Message-ID: %s", m.Subject)
		}
		byID[id]++
		key := strings.Join(m.To, ",") + " " + m.Subject
		if byTo[key] == nil {
			byTo[key] = map[string]bool{}
		}
		byTo[key][id] = true
	}
	if len(byID) == 0 {
		t.Fatal("no mail was sent")
	}
	for key, ids := range byTo {
		if len(ids) != 1 {
			t.Errorf("%d different messages went to %s", len(ids), key)
		}
	}
	for id, n := range byID {
		if n != 1 {
			redelivered++
			t.Logf("message %s was delivered %d times", id, n)
		}
	}
	t.Logf("%d messages, %d of them delivered again under the same Message-ID", len(byID), redelivered)
	return len(byID), redelivered
}

func header(raw, name string) string {
	for _, line := range strings.Split(raw, "\n") {
		if line == "\r" || line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, name) {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// hookLog is the partner's webhook receiver: it verifies signatures and keeps every delivery.
type hookLog struct {
	*httptest.Server
	mu     sync.Mutex
	secret string
	// deliveries counts arrivals per delivery ID; events maps "<type> <flow>" (a directory event:
	// "<type> <subject> <detail>") to event IDs.
	deliveries map[string]int
	events     map[string]map[string]bool
	bad        int
}

func newHookLog(t *testing.T) *hookLog {
	h := &hookLog{deliveries: map[string]int{}, events: map[string]map[string]bool{}}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if err := notify.Verify(
			h.secret, r.Header.Get(notify.SignatureHeader), body, time.Now(), 5*time.Minute,
		); err != nil {
			h.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var ev struct {
			ID   string `json:"id"`
			Type string `json:"type"`
			Data struct {
				ID string `json:"id"`
				// Subject and Detail name a directory event's customer or relationship and its
				// transition ("old → new").
				Subject string `json:"subject"`
				Detail  string `json:"detail"`
			} `json:"data"`
		}
		_ = json.Unmarshal(body, &ev)
		h.deliveries[r.Header.Get(notify.DeliveryHeader)]++
		key := strings.TrimSpace(ev.Type + " " + ev.Data.ID + ev.Data.Subject + " " + ev.Data.Detail)
		if h.events[key] == nil {
			h.events[key] = map[string]bool{}
		}
		h.events[key][ev.ID] = true
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookLog) setSecret(s string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.secret = s
}

func (h *hookLog) checkOnce(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.bad != 0 {
		t.Errorf("%d webhook deliveries had a bad signature", h.bad)
	}
	if len(h.events) == 0 {
		t.Fatal("no webhook event arrived")
	}
	for key, ids := range h.events {
		if len(ids) != 1 {
			t.Errorf("the event %s was raised %d times", key, len(ids))
		}
	}
	for id, n := range h.deliveries {
		if n != 1 {
			t.Errorf("webhook delivery %s arrived %d times", id, n)
		}
	}
	t.Logf("%d webhook events, each delivered once", len(h.events))
}

// issueSecrets gathers what partnerflow hands out or is handed: a minted API key, a dashboard
// session, the customers' link tokens, a new tenant's first password, the webhook subscription's
// secret, and the refresh and access tokens Entra ID (the simulator) issued to it.
func (w *crashWorld) issueSecrets(mail *testsmtp.Server) map[string]string {
	w.t.Helper()
	secrets := map[string]string{}
	code, out := w.api("POST", "/v1/api-keys", map[string]any{"name": "scan", "roles": []string{"admin-agent"}})
	if code != http.StatusCreated {
		w.t.Fatalf("mint a key: %d %s", code, out)
	}
	var key struct{ Key string }
	_ = json.Unmarshal(out, &key)
	secrets["minted API key"] = key.Key

	jar := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := jar.PostForm(w.p.api+"/login", url.Values{"key": {key.Key}, "next": {"/"}})
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			secrets["session "+c.Name] = c.Value
		}
	}
	if len(secrets) < 2 {
		w.t.Fatalf("signing in gave no session cookie: %d", resp.StatusCode)
	}

	code, out = w.api("POST", w.customers[0].path+"/credentials/reveal", nil)
	if code != http.StatusOK {
		w.t.Fatalf("reveal: %d %s", code, out)
	}
	var creds struct{ Password string }
	_ = json.Unmarshal(out, &creds)
	secrets["tenant password"] = creds.Password

	code, out = w.api("POST", "/v1/webhook-subscriptions", map[string]any{
		"url": "https://hooks.example/scan", "events": []string{"*"},
	})
	if code == http.StatusCreated {
		var sub struct{ Secret string }
		_ = json.Unmarshal(out, &sub)
		secrets["webhook secret"] = sub.Secret
	}

	token := regexp.MustCompile(`/(accept|partner|agreement)/([A-Za-z0-9_.-]{20,})`)
	for i, m := range mail.Messages() {
		for _, page := range []string{"/accept/", "/partner/", "/agreement/"} {
			if match := token.FindStringSubmatch(m.Link(page)); match != nil {
				secrets[fmt.Sprintf("link token /%s in mail %d", match[1], i)] = match[2]
			}
		}
	}
	// Entra's tokens: the Partner Center connection's refresh tokens (dev's first sign-in and
	// each rotation) and every access token, App+User and app-only, the simulator issued.
	w.collectTokens()
	if len(w.refreshTokens) == 0 || len(w.accessTokens) == 0 {
		w.t.Fatalf("the simulator issued no tokens to scan for: %d refresh, %d access",
			len(w.refreshTokens), len(w.accessTokens))
	}
	i := 0
	for rt := range w.refreshTokens {
		secrets[fmt.Sprintf("refresh token %d", i)] = rt
		i++
	}
	i = 0
	for at := range w.accessTokens {
		secrets[fmt.Sprintf("access token %d", i)] = at
		i++
	}
	for name, v := range secrets {
		if len(v) < 16 {
			w.t.Fatalf("%s is too short to scan for: %q", name, v)
		}
	}
	return secrets
}

// scanForSecrets reads every file under dataDir but the key files dev keeps there by design
// (0600: its convenience API key and the codec key), and the process output, and fails
// on any secret found in the clear. The dev key is announced on dev's output by design, so it is
// searched for in the files only.
func scanForSecrets(t *testing.T, dataDir, output string, secrets map[string]string, devKey string) {
	t.Helper()
	keyFiles := map[string]bool{"dev-api-key": true, "codec.key": true}
	// A customer domain is stored in the clear by design (a search attribute, a column): the scan
	// must find it in both databases, or it did not read what holds the flows.
	const control = "crash0.onmicrosoft.com"
	found := map[string]bool{}
	var scanned []string
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || keyFiles[d.Name()] {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dataDir, path)
		scanned = append(scanned, fmt.Sprintf("%s (%d bytes)", rel, len(b)))
		for name, secret := range secrets {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the %s is in the clear in %s", name, rel)
			}
		}
		if bytes.Contains(b, []byte(control)) {
			found[strings.SplitN(d.Name(), ".", 2)[0]] = true
		}
		if bytes.Contains(b, []byte(devKey)) {
			t.Errorf("dev's API key is in the clear in %s", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !found["temporal"] || !found["partnerflow"] {
		t.Fatalf("the scan did not find the control %q in Temporal's and the app's databases (found in %v): "+
			"it read the wrong files", control, found)
	}
	for name, secret := range secrets {
		if strings.Contains(output, secret) {
			t.Errorf("the %s is in dev's output", name)
		}
	}
	names := make([]string, 0, len(secrets))
	for name := range secrets {
		names = append(names, name)
	}
	sort.Strings(names)
	t.Logf("scanned for %d secrets (%s): %s and %d bytes of output",
		len(secrets), strings.Join(names, "; "), strings.Join(scanned, ", "), len(output))
}
